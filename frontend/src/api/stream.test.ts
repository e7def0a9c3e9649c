import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { openStream, RECONNECT_DELAY_MS, type StreamStatus } from './stream'

class FakeEventSource {
  static CONNECTING = 0
  static OPEN = 1
  static CLOSED = 2
  static opened: FakeEventSource[] = []
  readyState = FakeEventSource.CONNECTING
  onerror: (() => void) | null = null
  private listeners = new Map<string, ((event: MessageEvent) => void)[]>()

  constructor(readonly url: string) {
    FakeEventSource.opened.push(this)
  }

  addEventListener(type: string, listener: (event: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener])
  }

  emit(type: string, data: string, lastEventId = '') {
    for (const listener of this.listeners.get(type) ?? []) listener({ data, lastEventId } as MessageEvent)
  }

  fail(closed: boolean) {
    this.readyState = closed ? FakeEventSource.CLOSED : FakeEventSource.CONNECTING
    this.onerror?.()
  }

  close() {
    this.readyState = FakeEventSource.CLOSED
  }
}

describe('openStream', () => {
  beforeEach(() => {
    FakeEventSource.opened = []
    vi.useFakeTimers()
    vi.stubGlobal('EventSource', FakeEventSource)
    vi.stubGlobal('window', globalThis)
    vi.stubGlobal('fetch', vi.fn(async () => new Response('{}', { status: 200 })))
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.unstubAllGlobals()
  })

  it('filters by metric and matchers and hands over the points of each event', () => {
    const received: unknown[] = []
    const statuses: StreamStatus[] = []
    openStream({ metric: 'm', match: ['host=a'] }, (points) => received.push(...points), (status) => statuses.push(status))
    const source = FakeEventSource.opened[0]
    expect(source.url).toBe('/api/v1/stream?metric=m&match=host%3Da')
    source.emit('ready', '{}')
    source.emit('points', JSON.stringify([{ metric: 'm', labels: { host: 'a' }, ts: 1, value: 2 }]), '1-0')
    source.emit('points', 'not json', '2-0')
    expect(received).toEqual([{ metric: 'm', labels: { host: 'a' }, ts: 1, value: 2 }])
    expect(statuses).toEqual(['connecting', 'open'])
  })

  it('reopens a refused stream later, resuming after the last event it saw', () => {
    const statuses: StreamStatus[] = []
    openStream({ metric: 'm' }, () => {}, (status) => statuses.push(status))
    const first = FakeEventSource.opened[0]
    first.emit('points', '[]', '1700-3')
    first.fail(false)
    expect(FakeEventSource.opened).toHaveLength(1)
    first.fail(true)
    expect(statuses.slice(-2)).toEqual(['reconnecting', 'closed'])
    vi.advanceTimersByTime(RECONNECT_DELAY_MS)
    expect(FakeEventSource.opened).toHaveLength(2)
    expect(FakeEventSource.opened[1].url).toBe('/api/v1/stream?metric=m&lastEventId=1700-3')
  })

  it('stays closed once closed', () => {
    const stream = openStream({}, () => {})
    FakeEventSource.opened[0].fail(true)
    stream.close()
    vi.advanceTimersByTime(RECONNECT_DELAY_MS * 2)
    expect(FakeEventSource.opened).toHaveLength(1)
  })
})
