// One metric's series over a time range: a query, then in live mode the stream appends points
// (no refetch) and the window slides; in historical mode one query at the server's resolution.
import { computed, onScopeDispose, ref, shallowRef, watch, type Ref } from 'vue'
import { api } from '../api/client'
import { openStream, type LiveStream, type StreamStatus } from '../api/stream'
import type { LivePoint, Resolution } from '../api/types'
import { appendLivePoints, trimSeries } from '../lib/liveBuffer'
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
  const fixedRange = ref<[number, number] | undefined>(undefined)
  const windowMs = ref(0)
  const liveNow = ref(Date.now())
  let stream: LiveStream | null = null
  let generation = 0
  let clock = 0

  const paused = computed(() => frozen.value !== null)
  const series = computed(() => frozen.value ?? live.value)
  // Live charts slide with the clock even when no point arrives; a paused one stands still.
  const xRange = computed<[number, number] | undefined>(() =>
    isLiveMode.value ? [liveNow.value - windowMs.value, liveNow.value] : fixedRange.value,
  )

  function closeStream() {
    stream?.close()
    stream = null
    streamStatus.value = null
    clearInterval(clock)
  }

  function startClock(tickMs: number) {
    liveNow.value = Date.now()
    clock = window.setInterval(() => {
      if (paused.value) return
      liveNow.value = Date.now()
      const oldest = liveNow.value - windowMs.value
      const trimmed = live.value.map((one) => trimSeries(one, oldest))
      if (trimmed.some((one, index) => one !== live.value[index])) live.value = trimmed
    }, tickMs)
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
    const span = rangeWindow(range, Date.now(), custom)
    windowMs.value = rangeDuration(range, custom)
    isLiveMode.value = span.live
    fixedRange.value = [span.start, span.end]
    loading.value = true
    error.value = null
    // The stream opens before the query so no point falls between the two; early points wait here.
    let early: LivePoint[] | null = span.live ? [] : null
    const apply = (points: LivePoint[]) => {
      if (current !== generation) return
      if (early) early.push(...points)
      else live.value = appendLivePoints(live.value, points, metric, Date.now(), windowMs.value)
    }
    if (span.live) {
      stream = openStream({ metric, match }, apply, (status) => (streamStatus.value = status))
      startClock(Math.max(1000, windowMs.value / 300))
    }
    try {
      const result = await api.query({ metric, match, start: span.start, end: span.end, step: span.step })
      if (current !== generation) return
      resolution.value = result.resolution
      live.value = result.series.map((one) => ({ key: seriesKey(one.labels), labels: one.labels, points: one.points }))
      // A pause only holds back stream points: one pressed while the query ran still shows its answer.
      if (paused.value) frozen.value = live.value
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
  onScopeDispose(() => {
    generation += 1
    closeStream()
  })

  return { series, loading, error, resolution, isLiveMode, streamStatus, paused, xRange, pause, resume, reload: load }
}
