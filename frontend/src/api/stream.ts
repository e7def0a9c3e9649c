// The live stream: /api/v1/stream over EventSource. The browser resumes with Last-Event-ID itself.
import { buildUrl } from './client'
import type { LivePoint } from './types'

export type StreamStatus = 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface StreamFilter {
  metric?: string
  match?: string[]
}

export interface LiveStream {
  close(): void
}

export function openStream(
  filter: StreamFilter,
  onPoints: (points: LivePoint[]) => void,
  onStatus: (status: StreamStatus) => void = () => {},
): LiveStream {
  const source = new EventSource(buildUrl('/api/v1/stream', { metric: filter.metric, match: filter.match }), {
    withCredentials: true,
  })
  onStatus('connecting')
  source.addEventListener('ready', () => onStatus('open'))
  source.addEventListener('points', (event) => {
    try {
      onPoints(JSON.parse((event as MessageEvent<string>).data) as LivePoint[])
    } catch {
      // a malformed event is skipped; the next one carries on
    }
  })
  source.onerror = () => onStatus(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting')
  return { close: () => source.close() }
}
