// The dead letters page (/dead-letters?limit=100): what the tenant sent that could never be stored,
// as GET /api/v1/dead-letters answers it. The limit lives in the address, so it is bounded here.
import type { DeadLetter } from '../api/types'

/** The most entries the api keeps per tenant and answers at once (its `limit` is 1..this, its `cap`). */
export const MAX_LIMIT = 1000
export const DEFAULT_LIMIT = 100
const CHOICES = [20, 100, 500, MAX_LIMIT]

/** The `limit` of the address: a whole number within 1..MAX_LIMIT, else the default. */
export function limitFromQuery(value: unknown): number {
  const text = Array.isArray(value) ? value[0] : value
  if (typeof text !== 'string' || !/^\d+$/.test(text.trim())) return DEFAULT_LIMIT
  return Math.min(Math.max(Number(text), 1), MAX_LIMIT)
}

/** The page sizes the picker offers, the current one included (a link may carry any valid limit). */
export function limitChoices(current: number): number[] {
  return [...new Set([...CHOICES, current])].sort((a, b) => a - b)
}

const SOURCES: Record<string, { label: string; title: string }> = {
  mqtt: { label: 'MQTT', title: 'the MQTT bridge refused the message' },
  worker: { label: 'Storage', title: 'the database refused a sample the api or the bridge had accepted (HTTP or MQTT)' },
}

/** Who refused it, as a short label and the longer explanation. */
export function sourceOf(entry: Pick<DeadLetter, 'source'>): { label: string; title: string } {
  return SOURCES[entry.source] ?? { label: entry.source, title: entry.source }
}

/** Where to look for the sender: the MQTT topic, or the ingest batch of a refused sample. */
export function originOf(entry: DeadLetter): string {
  if (entry.topic) return entry.topic
  if (entry.batch_id) return `batch ${entry.batch_id}`
  return '–'
}

/** The refused data as the api keeps it: the message's or the sample's first 4 KiB. */
export function excerptOf(entry: DeadLetter): { text: string; truncated: boolean } {
  const text = entry.payload ?? entry.sample ?? ''
  return { text, truncated: text.endsWith('…') }
}

/** "3 kept" or "the newest 20 of 1,000 kept"; the api drops the oldest beyond `cap`. */
export function keptSummary(shown: number, kept: number, cap: number): string {
  const count = (n: number) => n.toLocaleString('en-US')
  const ofKept = shown < kept ? `the newest ${count(shown)} of ${count(kept)} kept` : `${count(kept)} kept`
  return `${ofKept}; at most ${count(cap)} are kept, older ones are dropped`
}
