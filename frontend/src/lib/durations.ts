// Durations typed into forms: "90", "90s", "5m", "1h30m", "2d" <-> whole seconds.

const UNIT_SECONDS: Record<string, number> = { d: 86_400, h: 3_600, m: 60, s: 1 }
const PART = /(\d+)\s*([dhms])/gy

/** Whole seconds, or null when the text is not a duration. A bare number is seconds. */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim().toLowerCase()
  if (!trimmed) return null
  if (/^\d+$/.test(trimmed)) return Number(trimmed)
  let total = 0
  let at = 0
  PART.lastIndex = 0
  for (let match = PART.exec(trimmed); match; match = PART.exec(trimmed)) {
    total += Number(match[1]) * UNIT_SECONDS[match[2]]
    at = PART.lastIndex
    while (trimmed[at] === ' ') at += 1
    PART.lastIndex = at
  }
  return at === trimmed.length ? total : null
}

/** The shortest exact spelling: 5400 -> "1h30m", 45 -> "45s", 0 -> "0s". */
export function formatDurationInput(seconds: number): string {
  if (seconds <= 0) return '0s'
  let rest = Math.round(seconds)
  let text = ''
  for (const [unit, size] of Object.entries(UNIT_SECONDS)) {
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`
      rest %= size
    }
  }
  return text
}
