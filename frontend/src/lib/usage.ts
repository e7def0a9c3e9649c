// A tenant's usage against its limits, as the overview's usage strip shows it.
import { formatNumber } from './units'

export type UsageLevel = 'ok' | 'warning' | 'critical'

export const WARNING_FRACTION = 0.8
export const CRITICAL_FRACTION = 0.95

export interface SeriesUsage {
  /** "3 series", or "3 of 50 series" when there is a limit */
  text: string
  used: number
  /** null = unlimited */
  limit: number | null
  /** 0–100, for the bar's width; null without a limit */
  percent: number | null
  level: UsageLevel
}

const count = (value: number) => value.toLocaleString('en-US')

export function usageLevel(used: number, limit: number | null): UsageLevel {
  if (limit === null) return 'ok'
  // A limit of 0 admits nothing, so it is always full.
  const fraction = limit > 0 ? used / limit : 1
  if (fraction >= CRITICAL_FRACTION) return 'critical'
  if (fraction >= WARNING_FRACTION) return 'warning'
  return 'ok'
}

export function seriesUsage(used: number, limit: number | null): SeriesUsage {
  if (limit === null) return { text: `${count(used)} series`, used, limit, percent: null, level: 'ok' }
  const percent = limit > 0 ? Math.min(100, Math.round((used / limit) * 1000) / 10) : 100
  return { text: `${count(used)} of ${count(limit)} series`, used, limit, percent, level: usageLevel(used, limit) }
}

/** "100k samples/s", "2500 samples/s". */
export function formatIngestLimit(samplesPerSecond: number): string {
  return `${formatNumber(samplesPerSecond)} samples/s`
}
