import { describe, expect, it } from 'vitest'
import type { DeadLetter } from '../api/types'
import { DEFAULT_LIMIT, excerptOf, keptSummary, limitChoices, limitFromQuery, MAX_LIMIT, originOf, sourceOf } from './deadLetters'

const mqtt: DeadLetter = { source: 'mqtt', reason: 'malformed JSON', at: 1, topic: 'microdash/acme/dev-7', payload: '{not json' }
const stored: DeadLetter = { source: 'worker', reason: 'Data too long', at: 2, batch_id: 'b1', sample: '["m",{}]' }

describe('limitFromQuery', () => {
  it('takes a whole number from the address, bounded to what the api answers', () => {
    expect(limitFromQuery('20')).toBe(20)
    expect(limitFromQuery(['7', '9'])).toBe(7)
    expect(limitFromQuery('5000')).toBe(MAX_LIMIT)
    expect(limitFromQuery('0')).toBe(1)
  })

  it('falls back to the default for anything else', () => {
    for (const value of [undefined, null, '', 'abc', '-3', '2.5', '1e3', 12]) expect(limitFromQuery(value)).toBe(DEFAULT_LIMIT)
  })
})

describe('limitChoices', () => {
  it('offers the usual sizes and the current one, in order', () => {
    expect(limitChoices(DEFAULT_LIMIT)).toEqual([20, 100, 500, 1000])
    expect(limitChoices(7)).toEqual([7, 20, 100, 500, 1000])
  })
})

describe('a dead letter', () => {
  it('names its source, with what refused it', () => {
    expect(sourceOf(mqtt).label).toBe('MQTT')
    expect(sourceOf(stored)).toMatchObject({ label: 'Storage' })
    expect(sourceOf(stored).title).toContain('database')
    expect(sourceOf({ source: 'otlp' } as never)).toEqual({ label: 'otlp', title: 'otlp' })
  })

  it('points to the topic or the batch', () => {
    expect(originOf(mqtt)).toBe('microdash/acme/dev-7')
    expect(originOf(stored)).toBe('batch b1')
    expect(originOf({ source: 'mqtt', reason: 'r', at: 3 })).toBe('–')
  })

  it('shows the excerpt the api keeps and whether it was cut', () => {
    expect(excerptOf(mqtt)).toEqual({ text: '{not json', truncated: false })
    expect(excerptOf(stored)).toEqual({ text: '["m",{}]', truncated: false })
    expect(excerptOf({ ...mqtt, payload: 'x'.repeat(10) + '…' }).truncated).toBe(true)
    expect(excerptOf({ source: 'mqtt', reason: 'r', at: 3, payload: null })).toEqual({ text: '', truncated: false })
  })
})

describe('keptSummary', () => {
  it('says how many are shown of those kept, and the cap', () => {
    expect(keptSummary(3, 3, 1000)).toBe('3 kept; at most 1,000 are kept, older ones are dropped')
    expect(keptSummary(20, 1000, 1000)).toBe('the newest 20 of 1,000 kept; at most 1,000 are kept, older ones are dropped')
  })
})
