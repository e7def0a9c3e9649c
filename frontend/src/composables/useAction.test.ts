import { describe, expect, it, vi } from 'vitest'
import { useAction } from './useAction'

describe('useAction', () => {
  it('runs the action, reloads, then the follow-up, and is busy only meanwhile', async () => {
    const order: string[] = []
    const { busy, actionError, run } = useAction(async () => void order.push('reload'))
    const done = run(async () => {
      expect(busy.value).toBe(true)
      order.push('action')
    }, () => void order.push('after'))
    expect(await done).toBe(true)
    expect(order).toEqual(['action', 'reload', 'after'])
    expect(busy.value).toBe(false)
    expect(actionError.value).toBeNull()
  })

  it('keeps a failure for the view, skips the reload, and clears it on the next run', async () => {
    const reload = vi.fn(async () => undefined)
    const { actionError, run } = useAction(reload)
    expect(await run(async () => Promise.reject(new Error('token not found')))).toBe(false)
    expect(actionError.value).toBe('token not found')
    expect(reload).not.toHaveBeenCalled()
    expect(await run(async () => undefined)).toBe(true)
    expect(actionError.value).toBeNull()
  })
})
