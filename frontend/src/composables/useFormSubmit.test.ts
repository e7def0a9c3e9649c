import { describe, expect, it, vi } from 'vitest'
import { ref } from 'vue'
import { ApiError } from '../api/client'
import type { FieldMessages } from '../lib/formErrors'
import { useFormSubmit } from './useFormSubmit'

type Field = 'name' | 'threshold'
type Check = { body: { name: string }; errors: null } | { body: null; errors: FieldMessages<Field> }
const fieldOf = (path: string | null): Field | null => (path === 'threshold' ? 'threshold' : null)

/** A form root that records which element got focus: the first marked input, else the summary. */
function fakeRoot(marked: boolean) {
  const focused: string[] = []
  const element = (name: string) => ({ focus: () => focused.push(name) })
  const root = {
    querySelector: (selector: string) =>
      selector === '[aria-invalid="true"]' ? (marked ? element('input') : null) : element('summary'),
  }
  return { root: ref(root as unknown as HTMLElement), focused }
}

function setUp(check: () => Check, save: (checked: { body: { name: string } }) => Promise<string>, marked: boolean) {
  const { root, focused } = fakeRoot(marked)
  const saved = vi.fn()
  const form = useFormSubmit({ root, check, save, fieldOf, saved })
  return { form, focused, saved }
}

describe('useFormSubmit', () => {
  it('never calls the api when the local check refuses, and focuses the first marked input', async () => {
    const save = vi.fn(async () => 'saved')
    const { form, focused, saved } = setUp(() => ({ body: null, errors: { name: 'required' } }), save, true)
    form.messages.value = ['an earlier refusal']
    await form.submit()
    expect(save).not.toHaveBeenCalled()
    expect(saved).not.toHaveBeenCalled()
    expect(form.errors.value).toEqual({ name: 'required' })
    expect(form.messages.value).toEqual([])
    expect(focused).toEqual(['input'])
  })

  it('hands the checked body to save and the answer to saved', async () => {
    const save = vi.fn(async () => 'answer')
    const { form, focused, saved } = setUp(() => ({ body: { name: 'a' }, errors: null }), save, false)
    form.errors.value = { name: 'stale' }
    const submitting = form.submit()
    expect(form.busy.value).toBe(true)
    await submitting
    expect(save).toHaveBeenCalledWith({ body: { name: 'a' }, errors: null })
    expect(saved).toHaveBeenCalledWith('answer')
    expect(form.errors.value).toEqual({})
    expect(form.busy.value).toBe(false)
    expect(focused).toEqual([])
  })

  it('fills the summary and the field errors from a refused save, then focuses the first problem', async () => {
    const refusal = new ApiError(422, 'refused', null, [{ field: 'threshold', message: 'must be a number' }])
    const { form, focused, saved } = setUp(() => ({ body: { name: 'a' }, errors: null }), async () => { throw refusal }, true)
    await form.submit()
    expect(saved).not.toHaveBeenCalled()
    expect(form.messages.value).toEqual(['refused', 'must be a number'])
    expect(form.errors.value).toEqual({ threshold: 'must be a number' })
    expect(form.busy.value).toBe(false)
    expect(focused).toEqual(['input'])
  })

  it('focuses the summary when no reason belongs to an input', async () => {
    const { form, focused } = setUp(() => ({ body: { name: 'a' }, errors: null }), async () => { throw new ApiError(0, 'the server cannot be reached') }, false)
    await form.submit()
    expect(form.messages.value).toEqual(['the server cannot be reached'])
    expect(form.errors.value).toEqual({})
    expect(focused).toEqual(['summary'])
  })
})
