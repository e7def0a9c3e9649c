// A PromQL expression over a time range, through /prometheus/api/v1/query_range. There is no
// stream for an expression, so a live range is re-queried on a clock (paused on request).
import { computed, onScopeDispose, ref, shallowRef, watch, type Ref } from 'vue'
import { api, ApiError } from '../api/client'
import { errorMessage } from '../lib/errors'
import { alignedStart, promStepMs, seriesFromPromData } from '../lib/promql'
import { rangeDuration, rangeWindow, type CustomRange, type RangeKey } from '../lib/ranges'
import type { Series } from '../lib/series'

export interface PromQLRequest {
  expr: string
  range: RangeKey
  custom?: CustomRange
}

export interface PromQLError {
  /** The Prometheus API's errorType (bad_data, execution, timeout, …), when it sent one. */
  type: string | null
  message: string
}

/** How often a live range is asked again: often enough to look live, at most once a minute. */
export function refreshIntervalMs(windowMs: number): number {
  return Math.min(60_000, Math.max(5_000, windowMs / 60))
}

export function usePromQLSeries(request: Ref<PromQLRequest>) {
  const series = shallowRef<Series[]>([])
  const total = ref(0)
  const warnings = ref<string[]>([])
  const loading = ref(false)
  const error = ref<PromQLError | null>(null)
  const stepMs = ref(0)
  const isLiveMode = ref(false)
  const paused = ref(false)
  const span = ref<[number, number] | undefined>(undefined)
  let generation = 0
  let clock = 0

  const xRange = computed(() => span.value)

  function stopClock() {
    clearInterval(clock)
    clock = 0
  }

  async function run() {
    const current = ++generation
    const { expr, range, custom } = request.value
    if (!expr.trim()) {
      series.value = []
      total.value = 0
      error.value = null
      return
    }
    const window = rangeWindow(range, Date.now(), custom)
    const step = promStepMs(rangeDuration(range, custom))
    const start = alignedStart(window.start, step)
    loading.value = true
    try {
      const answer = await api.promQueryRange({ query: expr, start, end: window.end, stepMs: step })
      if (current !== generation) return
      const found = seriesFromPromData(answer.data)
      series.value = found.series
      total.value = found.total
      warnings.value = answer.warnings ?? []
      stepMs.value = step
      span.value = [start, window.end]
      error.value = null
    } catch (caught) {
      if (current !== generation) return
      series.value = []
      total.value = 0
      warnings.value = []
      error.value = { type: caught instanceof ApiError ? caught.errorType : null, message: errorMessage(caught) }
    } finally {
      if (current === generation) loading.value = false
    }
  }

  function load() {
    stopClock()
    paused.value = false
    const { expr, range, custom } = request.value
    isLiveMode.value = rangeWindow(range, Date.now(), custom).live && expr.trim() !== ''
    if (isLiveMode.value) {
      clock = window.setInterval(() => {
        if (!paused.value && !loading.value) void run()
      }, refreshIntervalMs(rangeDuration(range, custom)))
    }
    return run()
  }

  function pause() {
    paused.value = true
  }

  function resume() {
    paused.value = false
    void run()
  }

  watch(request, load, { immediate: true, deep: true })
  onScopeDispose(() => {
    generation += 1
    stopClock()
  })

  return { series, total, warnings, loading, error, stepMs, isLiveMode, paused, xRange, pause, resume, reload: load }
}
