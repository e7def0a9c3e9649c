import { describe, expect, it } from 'vitest'
import { isLive, isRangeKey, rangeDuration, rangeWindow } from './ranges'

describe('ranges', () => {
  it('short ranges are live, long ones historical', () => {
    expect(isLive('5m')).toBe(true)
    expect(isLive('1h')).toBe(true)
    expect(isLive('24h')).toBe(false)
    expect(isLive('7d')).toBe(false)
    expect(isLive('custom')).toBe(false)
  })

  it('leaves the step of historical ranges to the server', () => {
    const window = rangeWindow('24h', 100_000_000)
    expect(window).toEqual({ start: 100_000_000 - 86_400_000, end: 100_000_001, step: undefined, live: false })
  })

  it('asks for fine buckets in live ranges', () => {
    expect(rangeWindow('5m', 1_000_000).step).toBe(1000)
  })

  it('uses the custom range as given', () => {
    expect(rangeWindow('custom', 0, { start: 10, end: 20 })).toEqual({ start: 10, end: 20, live: false })
    expect(rangeDuration('custom', { start: 10, end: 20 })).toBe(10)
  })

  it('knows its keys', () => {
    expect(isRangeKey('7d')).toBe(true)
    expect(isRangeKey('2d')).toBe(false)
  })
})
