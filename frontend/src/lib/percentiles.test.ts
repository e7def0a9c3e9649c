import { describe, expect, it } from 'vitest'
import { percentile } from './percentiles'

describe('percentile', () => {
  it('uses the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i)
    expect(percentile(values, 50)).toBe(50)
    expect(percentile(values, 99)).toBe(99)
    expect(percentile(values, 100)).toBe(100)
  })

  it('handles one value and none', () => {
    expect(percentile([7], 99)).toBe(7)
    expect(percentile([], 50)).toBeNull()
  })
})
