import { describe, expect, it } from 'vitest'
import { formatIngestLimit, seriesUsage, usageLevel } from './usage'

describe('usageLevel', () => {
  it('turns amber at 80 % and red at 95 %', () => {
    expect(usageLevel(79, 100)).toBe('ok')
    expect(usageLevel(80, 100)).toBe('warning')
    expect(usageLevel(94, 100)).toBe('warning')
    expect(usageLevel(95, 100)).toBe('critical')
    expect(usageLevel(120, 100)).toBe('critical')
  })

  it('compares the exact fraction, not a rounded percentage', () => {
    expect(usageLevel(7999, 10_000)).toBe('ok')
    expect(usageLevel(9499, 10_000)).toBe('warning')
  })

  it('never warns without a limit, and a limit of 0 is full', () => {
    expect(usageLevel(1_000_000, null)).toBe('ok')
    expect(usageLevel(0, 0)).toBe('critical')
  })
})

describe('seriesUsage', () => {
  it('says "N of M series" with a percentage when there is a limit', () => {
    expect(seriesUsage(3, 50)).toEqual({ text: '3 of 50 series', used: 3, limit: 50, percent: 6, level: 'ok' })
    expect(seriesUsage(12_345, 20_000).text).toBe('12,345 of 20,000 series')
  })

  it('caps the bar at 100 % when more series are stored than the limit allows', () => {
    // A limit lowered after the series were stored.
    expect(seriesUsage(60, 50)).toMatchObject({ percent: 100, level: 'critical' })
  })

  it('counts series alone when unlimited', () => {
    expect(seriesUsage(1, null)).toEqual({ text: '1 series', used: 1, limit: null, percent: null, level: 'ok' })
  })
})

describe('formatIngestLimit', () => {
  it('shortens large rates', () => {
    expect(formatIngestLimit(100_000)).toBe('100k samples/s')
    expect(formatIngestLimit(2_500_000)).toBe('2.5M samples/s')
    expect(formatIngestLimit(500)).toBe('500 samples/s')
  })
})
