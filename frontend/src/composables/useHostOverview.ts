// The overview's data: the agent's host metrics for the last hour, kept current by the stream.
import { computed, onBeforeUnmount, onMounted, ref, shallowRef } from 'vue'
import { api } from '../api/client'
import { openStream, type LiveStream, type StreamStatus } from '../api/stream'
import type { LivePoint } from '../api/types'
import { HOST_METRICS, hostNames, summarizeHosts, type HostMetricName, type SeriesByMetric } from '../lib/hosts'
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

export function useHostOverview() {
  const data = shallowRef<SeriesByMetric>(emptyData())
  const hosts = ref<string[]>([])
  const seenByHost = new Map<string, number>()
  const now = ref(Date.now())
  const loading = ref(true)
  const error = ref<string | null>(null)
  const streamStatus = ref<StreamStatus | null>(null)
  let stream: LiveStream | null = null
  let clock = 0

  const summaries = computed(() => summarizeHosts(hosts.value, data.value, now.value, seenByHost))

  function onPoints(points: LivePoint[]) {
    let newHost = false
    for (const point of points) {
      const host = point.labels.host
      if (!host) continue
      if (point.ts > (seenByHost.get(host) ?? 0)) seenByHost.set(host, point.ts)
      if (!hosts.value.includes(host)) newHost = true
    }
    if (newHost) hosts.value = hostNames([...hosts.value.map((host) => ({ labels: { host } })), ...points])
    const next = { ...data.value }
    const current = Date.now()
    for (const name of METRIC_NAMES) {
      const { metric, match } = HOST_METRICS[name]
      const relevant = points.filter((point) => point.metric === metric && matchesAll(match, point.labels))
      if (relevant.length) next[name] = appendLivePoints(next[name], relevant, metric, current, OVERVIEW_WINDOW_MS)
    }
    data.value = next
    now.value = current
  }

  async function load() {
    loading.value = true
    error.value = null
    stream?.close()
    const early: LivePoint[] = []
    let ready = false
    stream = openStream({}, (points) => (ready ? onPoints(points) : early.push(...points)), (status) => (streamStatus.value = status))
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
      now.value = Date.now()
      ready = true
      if (early.length) onPoints(early)
    } catch (caught) {
      error.value = errorMessage(caught)
      stream?.close()
    } finally {
      loading.value = false
    }
  }

  onMounted(() => {
    load()
    clock = window.setInterval(() => (now.value = Date.now()), CLOCK_TICK_MS)
  })
  onBeforeUnmount(() => {
    stream?.close()
    clearInterval(clock)
  })

  return { summaries, now, loading, error, streamStatus, reload: load }
}

function matchesAll(match: readonly string[], labels: Record<string, string>): boolean {
  return match.every((matcher) => {
    const [name, value] = matcher.split('=')
    return labels[name] === value
  })
}
