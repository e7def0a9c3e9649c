import { describe, expect, it } from 'vitest'
import { formatBytes, formatValue, unitOfMetric } from './units'

describe('unitOfMetric', () => {
  it.each([
    ['cpu.usage_percent', 'percent'],
    ['net.rx_bytes_per_s', 'bytesPerSecond'],
    ['disk.used_bytes', 'bytes'],
    ['net.rx_packets_per_s', 'perSecond'],
    ['system.uptime_seconds', 'seconds'],
    ['requests', 'none'],
  ])('%s is %s', (metric, unit) => expect(unitOfMetric(metric)).toBe(unit))
})

describe('formatValue', () => {
  it('formats percentages with fewer decimals for large values', () => {
    expect(formatValue(12.345, 'percent')).toBe('12%')
    expect(formatValue(3.14159, 'percent')).toBe('3.1%')
  })

  it('formats bytes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B')
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(5 * 1024 ** 3)).toBe('5 GiB')
    expect(formatBytes(-2048)).toBe('-2 KiB')
  })

  it('formats byte rates', () => {
    expect(formatValue(1024 * 1024 * 12.5, 'bytesPerSecond')).toBe('12.5 MiB/s')
  })

  it('formats plain numbers compactly', () => {
    expect(formatValue(1234567, 'none')).toBe('1.23M')
    expect(formatValue(0.12345, 'none')).toBe('0.123')
    expect(formatValue(42, 'perSecond')).toBe('42/s')
  })

  it('formats durations', () => {
    expect(formatValue(0.25, 'seconds')).toBe('250 ms')
    expect(formatValue(7200, 'seconds')).toBe('2 h')
  })

  it('shows a dash for missing values', () => {
    expect(formatValue(null, 'percent')).toBe('–')
    expect(formatValue(Number.NaN, 'bytes')).toBe('–')
  })
})
