import { describe, expect, it, vi } from 'vitest'
import { nextTick, shallowRef } from 'vue'
import { ApiError } from '../api/client'
import { appendOlder, oldestId, useOlderPages } from './useOlderPages'

const rows = (...ids: number[]) => ids.map((id) => ({ id }))
const idsOf = (items: readonly { id: number }[]) => items.map((item) => item.id)

function setUp(first: number[], pageSize = 3) {
  const firstPage = shallowRef(rows(...first))
  const loadBefore = vi.fn<(beforeId: number, limit: number) => Promise<{ id: number }[]>>()
  const pages = useOlderPages(() => firstPage.value, loadBefore, pageSize)
  return { firstPage, loadBefore, pages }
}

describe('appendOlder and oldestId', () => {
  it('appends only the rows not shown yet, keeping their order', () => {
    expect(idsOf(appendOlder(rows(9, 8, 7), rows(7, 6, 5)))).toEqual([9, 8, 7, 6, 5])
  })

  it('finds the smallest id, or none in an empty list', () => {
    expect(oldestId(rows(9, 3, 7))).toBe(3)
    expect(oldestId([])).toBeNull()
  })
})

describe('useOlderPages', () => {
  it('asks for the page before the smallest id shown and appends it without duplicates', async () => {
    const { loadBefore, pages } = setUp([9, 8, 7])
    loadBefore.mockResolvedValueOnce(rows(7, 6, 5))
    await pages.loadOlder()
    expect(loadBefore).toHaveBeenCalledWith(7, 3)
    expect(idsOf(pages.items.value)).toEqual([9, 8, 7, 6, 5])
    expect(pages.exhausted.value).toBe(false)

    loadBefore.mockResolvedValueOnce(rows(4, 3, 2))
    await pages.loadOlder()
    expect(loadBefore).toHaveBeenLastCalledWith(5, 3)
    expect(idsOf(pages.items.value)).toEqual([9, 8, 7, 6, 5, 4, 3, 2])
  })

  it('stops after a page shorter than the page size', async () => {
    const { loadBefore, pages } = setUp([9, 8, 7])
    loadBefore.mockResolvedValueOnce(rows(6))
    await pages.loadOlder()
    expect(pages.exhausted.value).toBe(true)
    await pages.loadOlder()
    expect(loadBefore).toHaveBeenCalledOnce()
  })

  it('has nothing older to ask for when the first page was already short', async () => {
    const { loadBefore, pages } = setUp([9, 8])
    expect(pages.exhausted.value).toBe(true)
    await pages.loadOlder()
    expect(loadBefore).not.toHaveBeenCalled()
  })

  it('shows the loading state while a page is on its way and ignores a second press', async () => {
    const { loadBefore, pages } = setUp([9, 8, 7])
    let answer: (page: { id: number }[]) => void = () => {}
    loadBefore.mockReturnValueOnce(new Promise((resolve) => { answer = resolve }))
    const pending = pages.loadOlder()
    expect(pages.loading.value).toBe(true)
    await pages.loadOlder()
    answer(rows(6, 5, 4))
    await pending
    expect(pages.loading.value).toBe(false)
    expect(loadBefore).toHaveBeenCalledOnce()
  })

  it('keeps what was loaded when a page fails, and retries from the same place', async () => {
    const { loadBefore, pages } = setUp([9, 8, 7])
    loadBefore.mockResolvedValueOnce(rows(6, 5, 4))
    await pages.loadOlder()
    loadBefore.mockRejectedValueOnce(new ApiError(503, 'database unavailable'))
    await pages.loadOlder()
    expect(pages.error.value).toBe('database unavailable')
    expect(pages.loading.value).toBe(false)
    expect(idsOf(pages.items.value)).toEqual([9, 8, 7, 6, 5, 4])

    loadBefore.mockResolvedValueOnce(rows(3))
    await pages.loadOlder()
    expect(loadBefore).toHaveBeenLastCalledWith(4, 3)
    expect(pages.error.value).toBeNull()
    expect(idsOf(pages.items.value)).toEqual([9, 8, 7, 6, 5, 4, 3])
  })

  it('starts over when the first page is reloaded, dropping a page still on its way', async () => {
    const { firstPage, loadBefore, pages } = setUp([9, 8, 7])
    loadBefore.mockResolvedValueOnce(rows(6))
    await pages.loadOlder()
    expect(pages.exhausted.value).toBe(true)

    let answer: (page: { id: number }[]) => void = () => {}
    firstPage.value = rows(12, 11, 10)
    await nextTick()
    expect(idsOf(pages.items.value)).toEqual([12, 11, 10])
    expect(pages.exhausted.value).toBe(false)
    loadBefore.mockReturnValueOnce(new Promise((resolve) => { answer = resolve }))
    const pending = pages.loadOlder()
    firstPage.value = rows(13, 12, 11)
    await nextTick()
    answer(rows(9, 8, 7))
    await pending
    expect(idsOf(pages.items.value)).toEqual([13, 12, 11])
    expect(pages.loading.value).toBe(false)
  })
})
