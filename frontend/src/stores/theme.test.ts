import { describe, expect, it } from 'vitest'
import { initialTheme } from './theme'

describe('initialTheme', () => {
  it('follows the saved choice first, then the system preference', () => {
    expect(initialTheme('light', true)).toBe('light')
    expect(initialTheme('dark', false)).toBe('dark')
    expect(initialTheme(null, true)).toBe('dark')
    expect(initialTheme('garbage', false)).toBe('light')
  })
})
