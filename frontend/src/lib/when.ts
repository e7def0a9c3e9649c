import { formatTime } from './units'

/** Timestamps arrive as epoch ms or ISO text depending on the endpoint. */
export function formatWhen(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') return '–'
  const ms = typeof value === 'number' ? value : Date.parse(value)
  return Number.isFinite(ms) ? formatTime(ms) : String(value)
}
