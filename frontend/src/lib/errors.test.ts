import { describe, expect, it } from 'vitest'
import { ApiError } from '../api/client'
import { errorMessage } from './errors'

describe('errorMessage', () => {
  it('says when to try again after throttling or an outage', () => {
    expect(errorMessage(new ApiError(429, 'too many failed logins', 30))).toBe('too many failed logins (try again in 30 s)')
    expect(errorMessage(new ApiError(503, 'a dependency is unavailable, retry later', 5)))
      .toBe('a dependency is unavailable, retry later (try again in 5 s)')
  })

  it('keeps the detail alone otherwise', () => {
    expect(errorMessage(new ApiError(503, 'down'))).toBe('down')
    expect(errorMessage(new ApiError(422, 'limit: too large', 5))).toBe('limit: too large')
    expect(errorMessage(new Error('boom'))).toBe('boom')
  })
})
