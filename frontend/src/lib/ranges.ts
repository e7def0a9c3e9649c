// Time ranges: short ones are live (a query, then the stream appends), long ones historical
// (one query; the server picks raw or rollup resolution from the range and step).

export const RANGE_KEYS = ['5m', '1h', '24h', '7d', 'custom'] as const
export type RangeKey = (typeof RANGE_KEYS)[number]

const MINUTE = 60_000
const HOUR = 60 * MINUTE

export const RANGE_LABELS: Record<RangeKey, string> = {
  '5m': 'Last 5 minutes',
  '1h': 'Last 1 hour',
  '24h': 'Last 24 hours',
  '7d': 'Last 7 days',
  custom: 'Custom…',
}

const DURATIONS: Record<Exclude<RangeKey, 'custom'>, number> = {
  '5m': 5 * MINUTE,
  '1h': HOUR,
  '24h': 24 * HOUR,
  '7d': 7 * 24 * HOUR,
}

/** Buckets for live ranges: fine enough to look like the raw stream the chart then appends. */
const LIVE_STEPS: Partial<Record<RangeKey, number>> = { '5m': 1000, '1h': 10_000 }

export interface CustomRange {
  start: number
  end: number
}

export interface Window {
  start: number
  end: number
  /** Undefined lets the server choose (about 300 points, and the rollup that fits). */
  step?: number
  live: boolean
}

export function isRangeKey(value: unknown): value is RangeKey {
  return typeof value === 'string' && (RANGE_KEYS as readonly string[]).includes(value)
}

export function isLive(range: RangeKey): boolean {
  return range in LIVE_STEPS
}

export function rangeDuration(range: RangeKey, custom?: CustomRange): number {
  if (range === 'custom') return custom ? custom.end - custom.start : HOUR
  return DURATIONS[range]
}

export function rangeWindow(range: RangeKey, now: number, custom?: CustomRange): Window {
  if (range === 'custom') {
    const chosen = custom ?? { start: now - HOUR, end: now }
    return { start: chosen.start, end: chosen.end, live: false }
  }
  return { start: now - DURATIONS[range], end: now + 1, step: LIVE_STEPS[range], live: isLive(range) }
}

/** "2026-11-26T13:05" (local time) for <input type="datetime-local"> and back. */
export function toLocalInput(ms: number): string {
  const date = new Date(ms - new Date(ms).getTimezoneOffset() * MINUTE)
  return date.toISOString().slice(0, 16)
}

export function fromLocalInput(text: string): number | null {
  const ms = new Date(text).getTime()
  return Number.isFinite(ms) ? ms : null
}
