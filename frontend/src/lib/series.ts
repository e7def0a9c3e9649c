// Series identity and the merging of many series into the column layout uPlot draws.
import type { Point } from '../api/types'

export interface Series {
  key: string
  labels: Record<string, string>
  /** A legend name that replaces the one made from the labels (PromQL results name the whole set). */
  name?: string
  /** Sorted by timestamp (epoch ms), one point per timestamp. */
  points: Point[]
}

/** A stable identity for a label set, independent of key order. */
export function seriesKey(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((name) => `${name}=${labels[name]}`)
    .join(',')
}

/** A short legend name: the labels that differ between the series, or all labels. */
export function seriesLabel(labels: Record<string, string>, varying?: Set<string>): string {
  const names = Object.keys(labels).sort().filter((name) => !varying || varying.has(name))
  const text = names.map((name) => `${name}=${labels[name]}`).join(', ')
  return text || '(no labels)'
}

export function varyingLabelNames(all: Record<string, string>[]): Set<string> {
  const varying = new Set<string>()
  if (all.length < 2) return varying
  const names = new Set(all.flatMap((labels) => Object.keys(labels)))
  for (const name of names) {
    const first = all[0][name]
    if (all.some((labels) => labels[name] !== first)) varying.add(name)
  }
  return varying
}

/** Merges points of the same timestamp into a sorted list; a later value replaces an earlier one. */
export function mergePoints(existing: Point[], incoming: Point[]): Point[] {
  if (incoming.length === 0) return existing
  const sortedIncoming = [...incoming].sort((a, b) => a[0] - b[0])
  const lastExisting = existing.length ? existing[existing.length - 1][0] : -Infinity
  if (sortedIncoming[0][0] > lastExisting && isStrictlyIncreasing(sortedIncoming)) {
    return existing.concat(sortedIncoming)
  }
  const byTs = new Map<number, number>()
  for (const [ts, value] of existing) byTs.set(ts, value)
  for (const [ts, value] of sortedIncoming) byTs.set(ts, value)
  return [...byTs.entries()].sort((a, b) => a[0] - b[0])
}

function isStrictlyIncreasing(points: Point[]): boolean {
  for (let i = 1; i < points.length; i += 1) if (points[i][0] <= points[i - 1][0]) return false
  return true
}

export type AlignedData = [xs: number[], ...ys: (number | null)[][]]

/**
 * uPlot wants one shared x column (seconds) and one y column per series, null where a series has
 * no point at that x. Timestamps of all series are united.
 */
export function alignSeries(series: Series[]): AlignedData {
  const allTs = new Set<number>()
  for (const one of series) for (const [ts] of one.points) allTs.add(ts)
  const xsMs = [...allTs].sort((a, b) => a - b)
  const indexOf = new Map<number, number>()
  xsMs.forEach((ts, index) => indexOf.set(ts, index))
  const columns = series.map((one) => {
    const column: (number | null)[] = new Array(xsMs.length).fill(null)
    for (const [ts, value] of one.points) column[indexOf.get(ts)!] = value
    return column
  })
  return [xsMs.map((ts) => ts / 1000), ...columns]
}

export function countPoints(series: Series[]): number {
  return series.reduce((total, one) => total + one.points.length, 0)
}

export function lastPoint(series: Series): Point | undefined {
  return series.points[series.points.length - 1]
}
