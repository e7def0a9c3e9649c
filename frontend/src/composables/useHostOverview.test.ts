import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { effectScope, nextTick } from 'vue'
import type { LivePoint, QueryResult } from '../api/types'

const queries = new Map<string, QueryResult['series']>()
const memorySeries: { metric: string; labels: Record<string, string> }[] = []
let push: (points: LivePoint[]) => void = () => {}
let streamFilter: unknown

vi.mock('../api/client', () => ({
  api: {
    series: async () => memorySeries,
    query: async ({ metric }: { metric: string }) => ({ metric, series: queries.get(metric) ?? [], resolution: 'raw' }),
  },
  ApiError: class extends Error {},
}))
vi.mock('../api/stream', () => ({
  openStream: (filter: unknown, onPoints: (points: LivePoint[]) => void) => {
    streamFilter = filter
    push = onPoints
    return { close: () => {} }
  },
}))

const { useHostOverview } = await import('./useHostOverview')

const flush = async () => {
  for (let i = 0; i < 5; i += 1) await nextTick()
}

describe('useHostOverview', () => {
  let scope: ReturnType<typeof effectScope>

  beforeEach(() => {
    queries.clear()
    memorySeries.length = 0
    vi.stubGlobal('window', globalThis)
    scope = effectScope()
  })
  afterEach(() => {
    scope.stop()
    vi.unstubAllGlobals()
  })

  it('shows every host, fresh or stale, and updates from the stream', async () => {
    const now = Date.now()
    memorySeries.push({ metric: 'mem.used_percent', labels: { host: 'old' } })
    queries.set('mem.used_percent', [{ labels: { host: 'web' }, points: [[now - 5_000, 40]] }])
    const overview = scope.run(() => useHostOverview())!
    await flush()
    expect(streamFilter).toEqual({ match: ['host=~.+'] })
    expect(overview.summaries.value.map((one) => [one.host, one.stale])).toEqual([['old', true], ['web', false]])

    push([{ metric: 'mem.used_percent', labels: { host: 'new' }, ts: now, value: 10 }])
    const added = overview.summaries.value.find((one) => one.host === 'new')!
    expect(added.stale).toBe(false)
    expect(added.panels[1].series[0].points).toEqual([[now, 10]])
  })

  it('rebuilds the panels only of hosts that got points', async () => {
    const now = Date.now()
    queries.set('mem.used_percent', [
      { labels: { host: 'a' }, points: [[now - 5_000, 40]] },
      { labels: { host: 'b' }, points: [[now - 5_000, 50]] },
    ])
    const overview = scope.run(() => useHostOverview())!
    await flush()
    const [a, b] = overview.summaries.value
    push([{ metric: 'mem.used_percent', labels: { host: 'a' }, ts: now, value: 41 }])
    const [a2, b2] = overview.summaries.value
    expect(a2.panels).not.toBe(a.panels)
    expect(b2.panels).toBe(b.panels)
  })
})
