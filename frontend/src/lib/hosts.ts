// The overview's model: per host, four panels (CPU, memory, disk, network) derived from the
// agent's series, and whether the host stopped reporting.
import type { Point } from '../api/types'
import type { Series } from './series'
import type { Unit } from './units'

export const STALE_AFTER_MS = 60_000

/** The agent metrics the overview reads, with the matchers that pick the useful series. */
export const HOST_METRICS = {
  cpuIdle: { metric: 'cpu.usage_percent', match: ['cpu=total', 'mode=idle'] },
  memory: { metric: 'mem.used_percent', match: [] },
  disk: { metric: 'disk.used_percent', match: [] },
  netRx: { metric: 'net.rx_bytes_per_s', match: [] },
  netTx: { metric: 'net.tx_bytes_per_s', match: [] },
} as const

export type HostMetricName = keyof typeof HOST_METRICS
export type SeriesByMetric = Record<HostMetricName, Series[]>

export interface HostPanel {
  title: string
  unit: Unit
  series: Series[]
}

export interface HostSummary {
  host: string
  lastSeen: number | null
  stale: boolean
  panels: HostPanel[]
}

type Combine = (values: number[]) => number

const sum: Combine = (values) => values.reduce((total, value) => total + value, 0)
const max: Combine = (values) => Math.max(...values)

/** One series from several (devices, mountpoints) of one host: values of the same timestamp combined. */
export function combineByTimestamp(series: Series[], combine: Combine): Point[] {
  const byTs = new Map<number, number[]>()
  for (const one of series) {
    for (const [ts, value] of one.points) {
      const values = byTs.get(ts)
      if (values) values.push(value)
      else byTs.set(ts, [value])
    }
  }
  return [...byTs.entries()].sort((a, b) => a[0] - b[0]).map(([ts, values]) => [ts, combine(values)])
}

function ofHost(series: Series[], host: string): Series[] {
  return series.filter((one) => one.labels.host === host)
}

function derived(key: string, points: Point[]): Series {
  return { key, labels: { series: key }, points }
}

export function hostPanels(data: SeriesByMetric, host: string): HostPanel[] {
  const idle = combineByTimestamp(ofHost(data.cpuIdle, host), max)
  return [
    { title: 'CPU', unit: 'percent', series: [derived('cpu', idle.map(([ts, value]) => [ts, 100 - value]))] },
    { title: 'Memory', unit: 'percent', series: [derived('memory', combineByTimestamp(ofHost(data.memory, host), max))] },
    { title: 'Disk (fullest)', unit: 'percent', series: [derived('disk', combineByTimestamp(ofHost(data.disk, host), max))] },
    {
      title: 'Network ↓ / ↑',
      unit: 'bytesPerSecond',
      series: [
        derived('rx', combineByTimestamp(ofHost(data.netRx, host), sum)),
        derived('tx', combineByTimestamp(ofHost(data.netTx, host), sum)),
      ],
    },
  ]
}

export function hostNames(series: { labels: Record<string, string> }[]): string[] {
  return [...new Set(series.map((one) => one.labels.host).filter((host): host is string => !!host))].sort()
}

/** The newest timestamp of any series of the host; `extra` holds last-seen times from other metrics. */
export function lastSeen(data: SeriesByMetric, host: string, extra?: Map<string, number>): number | null {
  let newest = extra?.get(host) ?? null
  for (const series of Object.values(data)) {
    for (const one of ofHost(series, host)) {
      const last = one.points[one.points.length - 1]
      if (last && (newest === null || last[0] > newest)) newest = last[0]
    }
  }
  return newest
}

export function isStale(seen: number | null, now: number, staleAfterMs = STALE_AFTER_MS): boolean {
  return seen === null || now - seen > staleAfterMs
}

export function summarizeHosts(hosts: string[], data: SeriesByMetric, now: number, extra?: Map<string, number>): HostSummary[] {
  return hosts.map((host) => {
    const seen = lastSeen(data, host, extra)
    return { host, lastSeen: seen, stale: isStale(seen, now), panels: hostPanels(data, host) }
  })
}
