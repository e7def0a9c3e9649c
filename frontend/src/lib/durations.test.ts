import { describe, expect, it } from 'vitest'
import { formatDurationInput, parseDuration } from './durations'

describe('parseDuration', () => {
  it.each([
    ['90', 90],
    ['0', 0],
    ['45s', 45],
    ['5m', 300],
    ['1h30m', 5400],
    ['1h 30m', 5400],
    [' 2D ', 172_800],
    ['1d2h3m4s', 93_784],
  ])('reads %j as %d s', (text, seconds) => expect(parseDuration(text)).toBe(seconds))

  it.each(['', '   ', '5x', 'm', '1.5h', '-5m', '5m garbage', 'h5', '5 minutes'])('refuses %j', (text) =>
    expect(parseDuration(text)).toBeNull(),
  )
})

describe('formatDurationInput', () => {
  it.each([
    [0, '0s'],
    [45, '45s'],
    [60, '1m'],
    [90, '1m30s'],
    [5400, '1h30m'],
    [604_800, '7d'],
  ])('writes %d s as %j', (seconds, text) => expect(formatDurationInput(seconds)).toBe(text))

  it('round-trips through parseDuration', () => {
    for (const seconds of [1, 59, 61, 3599, 3601, 86_399, 93_784]) {
      expect(parseDuration(formatDurationInput(seconds))).toBe(seconds)
    }
  })
})
