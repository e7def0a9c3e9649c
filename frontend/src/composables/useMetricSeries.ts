// One metric's series over a time range: a query, then in live mode the stream appends points
// (no refetch) and the window slides; in historical mode one query at the server's resolution.
import { computed, onBeforeUnmount, ref, shallowRef, watch, type Ref } from 'vue'
import { api } from '../api/client'
import { openStream, type LiveStream, type StreamStatus } from '../api/stream'
import type { LivePoint, Resolution } from '../api/types'
import { appendLivePoints } from '../lib/liveBuffer'
import { rangeDuration, rangeWindow, type CustomRange, type RangeKey } from '../lib/ranges'
import { seriesKey, type Series } from '../lib/series'
import { errorMessage } from '../lib/errors'

export interface SeriesRequest {
  metric: string
  match: string[]
  range: RangeKey
  custom?: CustomRange
}

export function useMetricSeries(request: Ref<SeriesRequest>) {
  const live = shallowRef<Series[]>([])
  const frozen = shallowRef<Series[] | null>(null)
  const loading = ref(false)
  const error = ref<string | null>(null)
  const resolution = ref<Resolution | null>(null)
  const isLiveMode = ref(false)
  const streamStatus = ref<StreamStatus | null>(null)
  const xRange = ref<[number, number] | undefined>(undefined)
  let stream: LiveStream | null = null
  let generation = 0

  const paused = computed(() => frozen.value !== null)
  const series = computed(() => frozen.value ?? live.value)

  function closeStream() {
    stream?.close()
    stream = null
    streamStatus.value = null
  }

  async function load() {
    closeStream()
    frozen.value = null
    const current = ++generation
    const { metric, match, range, custom } = request.value
    if (!metric) {
      live.value = []
      return
    }
    const window = rangeWindow(range, Date.now(), custom)
    const windowMs = rangeDuration(range, custom)
    isLiveMode.value = window.live
    xRange.value = window.live ? undefined : [window.start, window.end]
    loading.value = true
    error.value = null
    // The stream opens before the query so no point falls between the two; early points wait here.
    let early: LivePoint[] | null = window.live ? [] : null
    const apply = (points: LivePoint[]) => {
      if (current !== generation) return
      if (early) early.push(...points)
      else live.value = appendLivePoints(live.value, points, metric, Date.now(), windowMs)
    }
    if (window.live) stream = openStream({ metric, match }, apply, (status) => (streamStatus.value = status))
    try {
      const result = await api.query({ metric, match, start: window.start, end: window.end, step: window.step })
      if (current !== generation) return
      resolution.value = result.resolution
      live.value = result.series.map((one) => ({ key: seriesKey(one.labels), labels: one.labels, points: one.points }))
      if (early) {
        const waiting = early
        early = null
        if (waiting.length) apply(waiting)
      }
    } catch (caught) {
      if (current !== generation) return
      closeStream()
      live.value = []
      error.value = errorMessage(caught)
    } finally {
      if (current === generation) loading.value = false
    }
  }

  function pause() {
    frozen.value = live.value
  }

  function resume() {
    frozen.value = null
  }

  watch(request, load, { immediate: true, deep: true })
  onBeforeUnmount(() => {
    generation += 1
    closeStream()
  })

  return { series, loading, error, resolution, isLiveMode, streamStatus, paused, xRange, pause, resume, reload: load }
}
