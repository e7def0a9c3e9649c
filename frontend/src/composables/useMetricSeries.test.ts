import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { effectScope, nextTick, ref } from 'vue'
import type { LivePoint, QueryResult } from '../api/types'
import type { SeriesRequest } from './useMetricSeries'

const query = vi.fn<(q: unknown) => Promise<QueryResult>>()
const streams: { filter: unknown; push: (points: LivePoint[]) => void; closed: boolean }[] = []

vi.mock('../api/client', () => ({
  api: { query: (q: unknown) => query(q) },
  ApiError: class extends Error {},
}))
vi.mock('../api/stream', () => ({
  openStream: (filter: unknown, onPoints: (points: LivePoint[]) => void) => {
    const stream = { filter, push: onPoints, closed: false }
    streams.push(stream)
    return { close: () => (stream.closed = true) }
  },
}))

const { useMetricSeries } = await import('./useMetricSeries')

function result(points: [number, number][]): QueryResult {
  return { metric: 'm', start: 0, end: 0, step: 1000, aggregation: 'avg', resolution: 'raw', series: [{ labels: { host: 'a' }, points }] }
}

const flush = async () => {
  for (let i = 0; i < 5; i += 1) await nextTick()
}

describe('useMetricSeries', () => {
  let scope: ReturnType<typeof effectScope>

  beforeEach(() => {
    streams.length = 0
    query.mockReset()
    vi.stubGlobal('window', globalThis)
    scope = effectScope()
  })
  afterEach(() => {
    scope.stop()
    vi.unstubAllGlobals()
  })

  function start(request: SeriesRequest) {
    const requestRef = ref(request)
    const state = scope.run(() => useMetricSeries(requestRef))!
    return { state, requestRef }
  }

  it('in a live range, opens the stream before querying and keeps the points that came meanwhile', async () => {
    const now = Date.now()
    let answer!: (value: QueryResult) => void
    query.mockReturnValue(new Promise((resolve) => (answer = resolve)))
    const { state } = start({ metric: 'm', match: ['host=a'], range: '5m' })
    expect(streams).toHaveLength(1)
    expect(streams[0].filter).toEqual({ metric: 'm', match: ['host=a'] })
    streams[0].push([{ metric: 'm', labels: { host: 'a' }, ts: now, value: 3 }])
    answer(result([[now - 2000, 1]]))
    await flush()
    expect(state.series.value[0].points).toEqual([[now - 2000, 1], [now, 3]])
    expect(state.isLiveMode.value).toBe(true)
  })

  it('appends stream points without querying again, and freezes them while paused', async () => {
    const now = Date.now()
    query.mockResolvedValue(result([[now - 1000, 1]]))
    const { state } = start({ metric: 'm', match: [], range: '1h' })
    await flush()
    streams[0].push([{ metric: 'm', labels: { host: 'a' }, ts: now, value: 2 }])
    expect(state.series.value[0].points).toHaveLength(2)
    state.pause()
    streams[0].push([{ metric: 'm', labels: { host: 'a' }, ts: now + 1000, value: 3 }])
    expect(state.series.value[0].points).toHaveLength(2)
    state.resume()
    expect(state.series.value[0].points).toHaveLength(3)
    expect(query).toHaveBeenCalledOnce()
  })

  it('shows the query answer on a chart paused before the answer came, and holds the stream back', async () => {
    const now = Date.now()
    let answer!: (value: QueryResult) => void
    query.mockReturnValue(new Promise((resolve) => (answer = resolve)))
    const { state } = start({ metric: 'm', match: [], range: '1h' })
    state.pause()
    streams[0].push([{ metric: 'm', labels: { host: 'a' }, ts: now, value: 2 }])
    answer(result([[now - 1000, 1]]))
    await flush()
    expect(state.paused.value).toBe(true)
    expect(state.series.value[0].points).toEqual([[now - 1000, 1]])
    state.resume()
    expect(state.series.value[0].points).toEqual([[now - 1000, 1], [now, 2]])
  })

  it('in a historical range, queries once without a step and opens no stream', async () => {
    query.mockResolvedValue(result([[1, 1]]))
    const { state } = start({ metric: 'm', match: [], range: '24h' })
    await flush()
    expect(streams).toHaveLength(0)
    expect((query.mock.calls[0][0] as { step?: number }).step).toBeUndefined()
    expect(state.resolution.value).toBe('raw')
    expect(state.isLiveMode.value).toBe(false)
  })

  it('closes the old stream when the request changes, and shows a failed query as an error', async () => {
    query.mockResolvedValueOnce(result([]))
    const { state, requestRef } = start({ metric: 'm', match: [], range: '5m' })
    await flush()
    query.mockRejectedValueOnce(new Error('metric must match'))
    requestRef.value = { metric: 'm', match: ['host=b'], range: '5m' }
    await flush()
    expect(streams[0].closed).toBe(true)
    expect(streams[1].closed).toBe(true)
    expect(state.error.value).toBe('metric must match')
    expect(state.series.value).toEqual([])
  })

  it('closes its stream when its scope ends', async () => {
    query.mockResolvedValue(result([]))
    start({ metric: 'm', match: [], range: '5m' })
    await flush()
    scope.stop()
    expect(streams[0].closed).toBe(true)
  })
})
