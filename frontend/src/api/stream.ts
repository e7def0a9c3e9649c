// The live stream: /api/v1/stream over EventSource. The browser itself reconnects after a network
// error (sending Last-Event-ID); a refused connection (401, 503) closes the EventSource for good,
// so this module opens a new one after a pause, resuming from the last event id it saw.
import { api, buildUrl } from './client'
import type { LivePoint } from './types'

export type StreamStatus = 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface StreamFilter {
  metric?: string
  match?: string[]
}

export interface LiveStream {
  close(): void
}

export const RECONNECT_DELAY_MS = 5_000

export function openStream(
  filter: StreamFilter,
  onPoints: (points: LivePoint[]) => void,
  onStatus: (status: StreamStatus) => void = () => {},
): LiveStream {
  let source: EventSource | null = null
  let lastEventId: string | undefined
  let retryTimer = 0
  let closed = false

  function connect() {
    const url = buildUrl('/api/v1/stream', { metric: filter.metric, match: filter.match, lastEventId })
    source = new EventSource(url, { withCredentials: true })
    onStatus(lastEventId === undefined ? 'connecting' : 'reconnecting')
    source.addEventListener('ready', () => onStatus('open'))
    source.addEventListener('points', (event) => {
      const message = event as MessageEvent<string>
      if (message.lastEventId) lastEventId = message.lastEventId
      try {
        onPoints(JSON.parse(message.data) as LivePoint[])
      } catch {
        // a malformed event is skipped; the next one carries on
      }
    })
    source.onerror = () => {
      if (!source || source.readyState !== EventSource.CLOSED) {
        onStatus('reconnecting')
        return
      }
      onStatus('closed')
      // A refusal is most often an ended session: asking /me lets the client's 401 handler act.
      api.me().catch(() => undefined)
      if (!closed) retryTimer = window.setTimeout(connect, RECONNECT_DELAY_MS)
    }
  }

  connect()
  return {
    close() {
      closed = true
      clearTimeout(retryTimer)
      source?.close()
    },
  }
}
