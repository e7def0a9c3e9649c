// PromQL on the Explore page: the step a time range gets, the Prometheus answer turned into the
// chart's series, and an expression written from the metric picker's choice.
import type { Point, PromQueryData, PromSamplePair } from '../api/types'
import type { LabelFilter } from './exploreQuery'
import { seriesKey, type Series } from './series'
import { unitOfMetric, type Unit } from './units'

/** Steps a person would pick, in seconds: the chart gets about TARGET_POINTS points per series. */
const NICE_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400]
const TARGET_POINTS = 300
/** Past this many series the browser would struggle; the rest are counted, not drawn. */
export const MAX_DRAWN_SERIES = 500

export function promStepMs(windowMs: number): number {
  const wanted = windowMs / TARGET_POINTS / 1000
  const nice = NICE_STEPS_S.find((step) => step >= wanted) ?? Math.ceil(wanted / 86_400) * 86_400
  return nice * 1000
}

/** The start moved back onto a multiple of the step, so successive refreshes evaluate the same instants. */
export function alignedStart(startMs: number, stepMs: number): number {
  return Math.floor(startMs / stepMs) * stepMs
}

/** `up{instance="a:9100", job="node"}`, the way Prometheus names a series. */
export function promSeriesName(labels: Record<string, string>): string {
  const { __name__: name = '', ...rest } = labels
  const pairs = Object.keys(rest)
    .sort()
    .map((key) => `${key}="${escapeValue(rest[key])}"`)
  if (!pairs.length) return name || '{}'
  return `${name}{${pairs.join(', ')}}`
}

function escapeValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** Prometheus writes values as strings so NaN and ±Inf survive JSON; a chart can draw neither. */
function pointOf([seconds, text]: PromSamplePair): Point | null {
  const value = Number(text)
  return Number.isFinite(value) ? [Math.round(seconds * 1000), value] : null
}

function pointsOf(pairs: PromSamplePair[]): Point[] {
  return pairs.map(pointOf).filter((point): point is Point => point !== null)
}

function seriesOf(labels: Record<string, string>, pairs: PromSamplePair[]): Series {
  return { key: seriesKey(labels), labels, name: promSeriesName(labels), points: pointsOf(pairs) }
}

export interface PromSeriesResult {
  series: Series[]
  /** Series in the answer, drawn or not. */
  total: number
}

/** The chart's series from any result type (a range query answers a matrix; the others are tolerated). */
export function seriesFromPromData(data: PromQueryData, limit = MAX_DRAWN_SERIES): PromSeriesResult {
  let all: Series[]
  if (data.resultType === 'matrix') all = data.result.map((one) => seriesOf(one.metric, one.values))
  else if (data.resultType === 'vector') all = data.result.map((one) => seriesOf(one.metric, [one.value]))
  else if (data.resultType === 'scalar') all = [seriesOf({}, [data.result])]
  else all = []
  return { series: all.slice(0, limit), total: all.length }
}

/** The unit of the one metric every series is named after, else none (an expression may change units). */
export function unitOfSeries(series: Series[]): Unit {
  const names = new Set(series.map((one) => one.labels.__name__ ?? ''))
  const [only] = names
  return names.size === 1 && only ? unitOfMetric(only) : 'none'
}

const PROM_METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const PROM_OPS: Record<LabelFilter['op'], string> = { '=': '=', '!=': '!=', '=~': '=~', '!~': '!~' }

function quoted(value: string): string {
  return `"${escapeValue(value)}"`
}

/** The metric picker's choice as a selector, so switching to PromQL starts from what was shown.
 * microdash names may hold dots, which PromQL identifiers may not: those go in `__name__`. */
export function selectorFor(metric: string, filters: LabelFilter[]): string {
  const matchers = filters.filter((one) => one.name.trim()).map((one) => `${one.name}${PROM_OPS[one.op]}${quoted(one.value)}`)
  if (!metric) return matchers.length ? `{${matchers.join(', ')}}` : ''
  if (PROM_METRIC_NAME.test(metric)) return matchers.length ? `${metric}{${matchers.join(', ')}}` : metric
  return `{${[`__name__=${quoted(metric)}`, ...matchers].join(', ')}}`
}
