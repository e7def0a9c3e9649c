// Value formatting by unit; the unit is inferred from the metric name's suffix.

export type Unit = 'percent' | 'bytes' | 'bytesPerSecond' | 'perSecond' | 'seconds' | 'none'

export function unitOfMetric(metric: string): Unit {
  if (metric.endsWith('_percent')) return 'percent'
  if (metric.endsWith('_bytes_per_s')) return 'bytesPerSecond'
  if (metric.endsWith('_bytes')) return 'bytes'
  if (metric.endsWith('_per_s')) return 'perSecond'
  if (metric.endsWith('_seconds')) return 'seconds'
  return 'none'
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

function trimmed(value: number, digits: number): string {
  return Number(value.toFixed(digits)).toString()
}

export function formatBytes(bytes: number): string {
  let value = Math.abs(bytes)
  let index = 0
  while (value >= 1024 && index < BYTE_UNITS.length - 1) {
    value /= 1024
    index += 1
  }
  const digits = index === 0 ? 0 : value < 10 ? 2 : value < 100 ? 1 : 0
  return `${bytes < 0 ? '-' : ''}${trimmed(value, digits)} ${BYTE_UNITS[index]}`
}

export function formatNumber(value: number): string {
  const magnitude = Math.abs(value)
  if (magnitude >= 1e9) return `${trimmed(value / 1e9, 2)}G`
  if (magnitude >= 1e6) return `${trimmed(value / 1e6, 2)}M`
  if (magnitude >= 1e4) return `${trimmed(value / 1e3, 1)}k`
  if (magnitude >= 100) return trimmed(value, 0)
  if (magnitude >= 1) return trimmed(value, 2)
  return trimmed(value, 3)
}

export function formatDuration(seconds: number): string {
  if (Math.abs(seconds) < 1) return `${trimmed(seconds * 1000, 0)} ms`
  if (Math.abs(seconds) < 120) return `${trimmed(seconds, 1)} s`
  if (Math.abs(seconds) < 7200) return `${trimmed(seconds / 60, 1)} min`
  if (Math.abs(seconds) < 172800) return `${trimmed(seconds / 3600, 1)} h`
  return `${trimmed(seconds / 86400, 1)} d`
}

export function formatValue(value: number | null | undefined, unit: Unit): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–'
  switch (unit) {
    case 'percent':
      return `${trimmed(value, Math.abs(value) < 10 ? 1 : 0)}%`
    case 'bytes':
      return formatBytes(value)
    case 'bytesPerSecond':
      return `${formatBytes(value)}/s`
    case 'perSecond':
      return `${formatNumber(value)}/s`
    case 'seconds':
      return formatDuration(value)
    default:
      return formatNumber(value)
  }
}

export function formatTime(ms: number): string {
  return new Date(ms).toLocaleString(undefined, {
    month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
  })
}
