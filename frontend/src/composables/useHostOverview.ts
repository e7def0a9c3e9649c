// The overview's data: the agent's host metrics for the last hour, kept current by the stream.
import { computed, onScopeDispose, ref, shallowRef } from 'vue'
import { api } from '../api/client'
import { openStream, type LiveStream, type StreamStatus } from '../api/stream'
import type { LivePoint } from '../api/types'
import {
  HOST_METRICS, hostNames, hostPanels, isStale, lastSeen, type HostMetricName, type HostPanel, type HostSummary,
  type SeriesByMetric,
} from '../lib/hosts'
import { appendLivePoints } from '../lib/liveBuffer'
import { seriesKey } from '../lib/series'
import { errorMessage } from '../lib/errors'

export const OVERVIEW_WINDOW_MS = 60 * 60_000
const OVERVIEW_STEP_MS = 10_000
const CLOCK_TICK_MS = 5_000

const METRIC_NAMES = Object.keys(HOST_METRICS) as HostMetricName[]

function emptyData(): SeriesByMetric {
  return { cpuIdle: [], memory: [], disk: [], netRx: [], netTx: [] }
}

function pointMatches(match: readonly string[], labels: Record<string, string>): boolean {
  return match.every((matcher) => {
    const [name, value] = matcher.split('=')
    return labels[name] === value
  })
}

export function useHostOverview() {
  const data = shallowRef<SeriesByMetric>(emptyData())
  const hosts = ref<string[]>([])
  /** The clock of staleness and of the sparklines' window; it ticks, so charts redraw at its pace. */
  const now = ref(Date.now())
  const revision = ref(0)
  const loading = ref(true)
  const error = ref<string | null>(null)
  const streamStatus = ref<StreamStatus | null>(null)
  const seenByHost = new Map<string, number>()
  // Panels are rebuilt only for hosts whose points changed, so one host's batch does not redraw every card.
  const hostRevision = new Map<string, number>()
  const panelCache = new Map<string, { revision: number; panels: HostPanel[] }>()
  let stream: LiveStream | null = null
  let clock = 0

  function panelsOf(host: string): HostPanel[] {
    const wanted = hostRevision.get(host) ?? 0
    const cached = panelCache.get(host)
    if (cached && cached.revision === wanted) return cached.panels
    const panels = hostPanels(data.value, host)
    panelCache.set(host, { revision: wanted, panels })
    return panels
  }

  const summaries = computed<HostSummary[]>(() => {
    void revision.value
    return hosts.value.map((host) => {
      const seen = seenByHost.get(host) ?? null
      return { host, lastSeen: seen, stale: isStale(seen, now.value), panels: panelsOf(host) }
    })
  })

  function onPoints(points: LivePoint[]) {
    const touched = new Set<string>()
    for (const point of points) {
      const host = point.labels.host
      if (!host) continue
      touched.add(host)
      if (point.ts > (seenByHost.get(host) ?? 0)) seenByHost.set(host, point.ts)
    }
    if (!touched.size) return
    if ([...touched].some((host) => !hosts.value.includes(host))) hosts.value = [...new Set([...hosts.value, ...touched])].sort()
    const next = { ...data.value }
    const current = Date.now()
    for (const name of METRIC_NAMES) {
      const { metric, match } = HOST_METRICS[name]
      const relevant = points.filter((point) => point.metric === metric && pointMatches(match, point.labels))
      if (relevant.length) next[name] = appendLivePoints(next[name], relevant, metric, current, OVERVIEW_WINDOW_MS)
    }
    data.value = next
    for (const host of touched) hostRevision.set(host, (hostRevision.get(host) ?? 0) + 1)
    revision.value += 1
  }

  async function load() {
    loading.value = true
    error.value = null
    stream?.close()
    const early: LivePoint[] = []
    let ready = false
    stream = openStream({ match: ['host=~.+'] }, (points) => (ready ? onPoints(points) : early.push(...points)),
      (status) => (streamStatus.value = status))
    try {
      const end = Date.now() + 1
      const start = end - OVERVIEW_WINDOW_MS
      const [refs, ...results] = await Promise.all([
        // Every agent reports memory: its series name each host, also hosts silent for longer than the window.
        api.series(HOST_METRICS.memory.metric, ['host=~.+'], 10_000),
        ...METRIC_NAMES.map((name) =>
          api.query({ metric: HOST_METRICS[name].metric, match: [...HOST_METRICS[name].match], start, end, step: OVERVIEW_STEP_MS }),
        ),
      ])
      const loaded = emptyData()
      METRIC_NAMES.forEach((name, index) => {
        loaded[name] = results[index].series.map((one) => ({ key: seriesKey(one.labels), labels: one.labels, points: one.points }))
      })
      data.value = loaded
      hosts.value = hostNames([...refs, ...METRIC_NAMES.flatMap((name) => loaded[name])])
      panelCache.clear()
      for (const host of hosts.value) {
        const seen = lastSeen(loaded, host)
        if (seen !== null && seen > (seenByHost.get(host) ?? 0)) seenByHost.set(host, seen)
      }
      now.value = Date.now()
      revision.value += 1
      ready = true
      if (early.length) onPoints(early)
    } catch (caught) {
      error.value = errorMessage(caught)
      stream?.close()
    } finally {
      loading.value = false
    }
  }

  load()
  clock = window.setInterval(() => (now.value = Date.now()), CLOCK_TICK_MS)
  onScopeDispose(() => {
    stream?.close()
    clearInterval(clock)
  })

  return { summaries, now, loading, error, streamStatus, reload: load }
}
