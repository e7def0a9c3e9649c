import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { effectScope, nextTick, ref } from 'vue'
import type { PromRangeQuery } from '../api/client'
import type { PromQueryData, PromSuccess } from '../api/types'
import type { PromQLRequest } from './usePromQLSeries'

const queryRange = vi.fn<(q: PromRangeQuery) => Promise<PromSuccess<PromQueryData>>>()

class FakeApiError extends Error {
  constructor(readonly status: number, readonly detail: string, readonly errorType: string | null) {
    super(detail)
  }
}

vi.mock('../api/client', () => ({
  api: { promQueryRange: (q: PromRangeQuery) => queryRange(q) },
  ApiError: FakeApiError,
}))

const { usePromQLSeries, refreshIntervalMs } = await import('./usePromQLSeries')

function answer(values: [number, string][], warnings?: string[]): PromSuccess<PromQueryData> {
  return { status: 'success', data: { resultType: 'matrix', result: [{ metric: { host: 'a' }, values }] }, warnings }
}

const flush = async () => {
  for (let i = 0; i < 5; i += 1) await nextTick()
}

describe('usePromQLSeries', () => {
  let scope: ReturnType<typeof effectScope>

  beforeEach(() => {
    queryRange.mockReset()
    vi.stubGlobal('window', globalThis)
    scope = effectScope()
  })
  afterEach(() => {
    scope.stop()
    vi.useRealTimers()
    vi.unstubAllGlobals()
  })

  function start(request: PromQLRequest) {
    const requestRef = ref(request)
    const state = scope.run(() => usePromQLSeries(requestRef))!
    return { state, requestRef }
  }

  it('asks query_range over the chosen range at its step, the start on the step', async () => {
    queryRange.mockResolvedValue(answer([[1700000000, '1']]))
    const { state } = start({ expr: 'rate(x[5m])', range: 'custom', custom: { start: 1_000_017_500, end: 1_003_617_500 } })
    await flush()
    expect(queryRange).toHaveBeenCalledWith({ query: 'rate(x[5m])', start: 1_000_005_000, end: 1_003_617_500, stepMs: 15_000 })
    expect(state.series.value[0].points).toEqual([[1700000000000, 1]])
    expect(state.stepMs.value).toBe(15_000)
    expect(state.xRange.value).toEqual([1_000_005_000, 1_003_617_500])
    expect(state.isLiveMode.value).toBe(false)
  })

  it('asks nothing for an empty expression', async () => {
    const { state } = start({ expr: '  ', range: '1h' })
    await flush()
    expect(queryRange).not.toHaveBeenCalled()
    expect(state.series.value).toEqual([])
  })

  it('shows the Prometheus error type and message, and no stale series', async () => {
    queryRange.mockResolvedValueOnce(answer([[1, '1']]))
    const { state, requestRef } = start({ expr: 'up', range: '24h' })
    await flush()
    queryRange.mockRejectedValueOnce(new FakeApiError(400, '1:4: parse error: unexpected <EOF>', 'bad_data'))
    requestRef.value = { ...requestRef.value, expr: 'up{' }
    await flush()
    expect(state.error.value).toEqual({ type: 'bad_data', message: '1:4: parse error: unexpected <EOF>' })
    expect(state.series.value).toEqual([])
  })

  it('keeps the warnings the server sent', async () => {
    queryRange.mockResolvedValue(answer([[1, '1']], ['read from the 5m rollup']))
    const { state } = start({ expr: 'up', range: '7d' })
    await flush()
    expect(state.warnings.value).toEqual(['read from the 5m rollup'])
  })

  it('drops an answer that a newer request overtook', async () => {
    let first!: (value: PromSuccess<PromQueryData>) => void
    queryRange.mockReturnValueOnce(new Promise((resolve) => (first = resolve)))
    queryRange.mockResolvedValueOnce(answer([[2, '2']]))
    const { state, requestRef } = start({ expr: 'a', range: '24h' })
    requestRef.value = { ...requestRef.value, expr: 'b' }
    await flush()
    first(answer([[1, '1']]))
    await flush()
    expect(state.series.value[0].points).toEqual([[2000, 2]])
  })

  it('re-asks a live range on a clock, and not while paused', async () => {
    vi.useFakeTimers()
    queryRange.mockResolvedValue(answer([[1, '1']]))
    const { state } = start({ expr: 'up', range: '5m' })
    await flush()
    expect(state.isLiveMode.value).toBe(true)
    expect(queryRange).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(refreshIntervalMs(5 * 60_000))
    expect(queryRange).toHaveBeenCalledTimes(2)
    state.pause()
    await vi.advanceTimersByTimeAsync(3 * refreshIntervalMs(5 * 60_000))
    expect(queryRange).toHaveBeenCalledTimes(2)
    state.resume()
    await flush()
    expect(queryRange).toHaveBeenCalledTimes(3)
  })

  it('stops the clock when its scope ends', async () => {
    vi.useFakeTimers()
    queryRange.mockResolvedValue(answer([[1, '1']]))
    start({ expr: 'up', range: '5m' })
    await flush()
    scope.stop()
    await vi.advanceTimersByTimeAsync(5 * refreshIntervalMs(5 * 60_000))
    expect(queryRange).toHaveBeenCalledTimes(1)
  })
})

describe('refreshIntervalMs', () => {
  it('refreshes short ranges often and long ones at most once a minute', () => {
    expect(refreshIntervalMs(5 * 60_000)).toBe(5_000)
    expect(refreshIntervalMs(3_600_000)).toBe(60_000)
  })
})
