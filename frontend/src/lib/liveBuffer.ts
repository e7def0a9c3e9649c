// The live mode's buffer: points from the stream appended to the series they belong to,
// anything older than the visible window dropped.
import type { LivePoint } from '../api/types'
import { mergePoints, seriesKey, type Series } from './series'

/** A cap per series so a chatty series cannot grow memory without bound inside the window. */
export const MAX_POINTS_PER_SERIES = 5000

export function trimSeries(series: Series, oldestTs: number, maxPoints = MAX_POINTS_PER_SERIES): Series {
  let first = 0
  while (first < series.points.length && series.points[first][0] < oldestTs) first += 1
  first = Math.max(first, series.points.length - maxPoints)
  return first === 0 ? series : { ...series, points: series.points.slice(first) }
}

/**
 * Adds stream points of `metric` to the series, creating series that were not there yet, then
 * trims every series to the window [now - windowMs, now]. Series left without points are kept, so
 * a chart's legend stays stable.
 */
export function appendLivePoints(
  series: Series[],
  incoming: LivePoint[],
  metric: string,
  now: number,
  windowMs: number,
  maxPoints = MAX_POINTS_PER_SERIES,
): Series[] {
  const byKey = new Map(series.map((one) => [one.key, one]))
  const additions = new Map<string, { labels: Record<string, string>; points: [number, number][] }>()
  for (const point of incoming) {
    if (point.metric !== metric) continue
    const key = seriesKey(point.labels)
    const entry = additions.get(key) ?? { labels: point.labels, points: [] }
    entry.points.push([point.ts, point.value])
    additions.set(key, entry)
  }
  for (const [key, { labels, points }] of additions) {
    const current = byKey.get(key) ?? { key, labels, points: [] }
    byKey.set(key, { ...current, points: mergePoints(current.points, points) })
  }
  const oldest = now - windowMs
  return [...byKey.values()].map((one) => trimSeries(one, oldest, maxPoints))
}
