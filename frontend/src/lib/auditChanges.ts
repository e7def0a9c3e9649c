// One line per audit entry: what changed between `before` and `after`, for the audit tab.

type Json = unknown

function shown(value: Json): string {
  if (value === null || value === undefined) return '–'
  return typeof value === 'string' ? value : JSON.stringify(value)
}

/** "threshold: 1 → 5, severity: warning → critical"; "created" or "deleted" when one side is missing. */
export function changeSummary(before: Json, after: Json): string {
  if (before == null && after == null) return ''
  if (before == null) return 'created'
  if (after == null) return 'deleted'
  if (typeof before !== 'object' || typeof after !== 'object') return `${shown(before)} → ${shown(after)}`
  const was = before as Record<string, Json>
  const now = after as Record<string, Json>
  const keys = [...new Set([...Object.keys(was), ...Object.keys(now)])]
  const changed = keys.filter((key) => JSON.stringify(was[key]) !== JSON.stringify(now[key]))
  return changed.length ? changed.map((key) => `${key}: ${shown(was[key])} → ${shown(now[key])}`).join(', ') : 'no change'
}
