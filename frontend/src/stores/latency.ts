// The latency check: probe samples go in through the ingest API, and the time until each comes
// back on the stream is the ingest → browser latency.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api } from '../api/client'
import { openStream, type LiveStream } from '../api/stream'
import type { LivePoint } from '../api/types'
import { percentile } from '../lib/percentiles'
import { errorMessage } from '../lib/errors'

export const PROBE_METRIC = 'microdash.latency_probe'
export const KEEP_LAST = 100
export const PROBE_TIMEOUT_MS = 10_000
const STREAM_READY_TIMEOUT_MS = 5_000

export function randomProbeId(): string {
  const bytes = new Uint8Array(8)
  crypto.getRandomValues(bytes)
  return [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('')
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export const useLatencyStore = defineStore('latency', () => {
  /** probe id → the ts it was sent with (epoch ms, the browser's clock) */
  const pending = new Map<string, number>()
  const latencies = ref<number[]>([])
  const lost = ref(0)
  const running = ref(false)
  const error = ref<string | null>(null)

  const count = computed(() => latencies.value.length)
  const p50 = computed(() => percentile(latencies.value, 50))
  const p99 = computed(() => percentile(latencies.value, 99))

  function sent(id: string, ts: number) {
    pending.set(id, ts)
  }

  function arrived(points: LivePoint[], now: number) {
    const measured: number[] = []
    for (const point of points) {
      const id = point.metric === PROBE_METRIC ? point.labels.probe : undefined
      const sentAt = id === undefined ? undefined : pending.get(id)
      if (sentAt === undefined) continue
      pending.delete(id!)
      measured.push(now - sentAt)
    }
    if (measured.length) latencies.value = [...latencies.value, ...measured].slice(-KEEP_LAST)
  }

  /** Probes that did not come back in time count as lost. */
  function expire(now: number, timeoutMs = PROBE_TIMEOUT_MS) {
    for (const [id, sentAt] of pending) {
      if (now - sentAt > timeoutMs) {
        pending.delete(id)
        lost.value += 1
      }
    }
  }

  function reset() {
    pending.clear()
    latencies.value = []
    lost.value = 0
    error.value = null
  }

  function openProbeStream(): Promise<LiveStream> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the live stream did not open')), STREAM_READY_TIMEOUT_MS)
      const stream = openStream({ metric: PROBE_METRIC }, (points) => arrived(points, Date.now()), (status) => {
        if (status === 'open') {
          clearTimeout(timer)
          resolve(stream)
        } else if (status === 'closed') {
          clearTimeout(timer)
          reject(new Error('the live stream was refused'))
        }
      })
    })
  }

  async function run(probes = 20, spacingMs = 250) {
    if (running.value) return
    running.value = true
    error.value = null
    let stream: LiveStream | null = null
    try {
      stream = await openProbeStream()
      for (let n = 0; n < probes; n += 1) {
        const id = randomProbeId()
        const ts = Date.now()
        sent(id, ts)
        await api.ingest({ metric: PROBE_METRIC, value: n, ts, labels: { probe: id } })
        await sleep(spacingMs)
      }
      const deadline = Date.now() + PROBE_TIMEOUT_MS
      while (pending.size && Date.now() < deadline) await sleep(100)
      expire(Date.now(), 0)
    } catch (caught) {
      error.value = errorMessage(caught)
      pending.clear()
    } finally {
      stream?.close()
      running.value = false
    }
  }

  return { latencies, lost, running, error, count, p50, p99, sent, arrived, expire, reset, run }
})
