import { describe, expect, it } from 'vitest'
import { changeSummary } from './auditChanges'

describe('changeSummary', () => {
  it('names creations and deletions', () => {
    expect(changeSummary(null, { name: 'r' })).toBe('created')
    expect(changeSummary({ name: 'r' }, null)).toBe('deleted')
    expect(changeSummary(null, null)).toBe('')
  })

  it('lists only the fields that changed, before and after', () => {
    expect(changeSummary({ threshold: 1, name: 'r', labels: { a: '1' } }, { threshold: 5, name: 'r', labels: { a: '2' } }))
      .toBe('threshold: 1 → 5, labels: {"a":"1"} → {"a":"2"}')
    expect(changeSummary({ revoked_at: null }, { revoked_at: '2026-12-06T20:00:00.000Z' }))
      .toBe('revoked_at: – → 2026-12-06T20:00:00.000Z')
    expect(changeSummary({ role: 'viewer' }, { role: 'viewer' })).toBe('no change')
  })
})
