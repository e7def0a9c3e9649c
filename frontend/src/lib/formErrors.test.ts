import { describe, expect, it } from 'vitest'
import { ApiError } from '../api/client'
import { serverErrors } from './formErrors'

type Field = 'name' | 'threshold'
const fieldOf = (path: string | null, message: string): Field | null =>
  path === 'threshold' ? 'threshold' : message.startsWith('name ') ? 'name' : null

describe('serverErrors', () => {
  it('keeps a bare detail as the summary and places it by its message', () => {
    expect(serverErrors(new ApiError(422, 'name is taken'), fieldOf)).toEqual({ messages: ['name is taken'], fields: { name: 'name is taken' } })
  })

  it('lists every validation item and places those with a known field', () => {
    const caught = new ApiError(422, 'a; b', null, [{ field: 'threshold', message: 'a' }, { field: null, message: 'b' }])
    expect(serverErrors(caught, fieldOf)).toEqual({ messages: ['a', 'b'], fields: { threshold: 'a' } })
  })

  it('adds a detail the items do not repeat, and keeps the first reason of a field', () => {
    const caught = new ApiError(422, 'refused', null, [{ field: 'threshold', message: 'x' }, { field: 'threshold', message: 'y' }])
    expect(serverErrors(caught, fieldOf)).toEqual({ messages: ['refused', 'x', 'y'], fields: { threshold: 'x' } })
  })

  it('says when the server cannot be reached or throttles', () => {
    expect(serverErrors(new ApiError(0, 'the server cannot be reached'), fieldOf))
      .toEqual({ messages: ['the server cannot be reached'], fields: {} })
    expect(serverErrors(new ApiError(429, 'slow down', 5), fieldOf).messages).toEqual(['slow down (try again in 5 s)'])
    expect(serverErrors(new TypeError('boom'), fieldOf).messages).toEqual(['boom'])
  })
})
