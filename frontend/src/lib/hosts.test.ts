import { describe, expect, it } from 'vitest'
import { combineByTimestamp, hostNames, hostPanels, isStale, summarizeHosts, type SeriesByMetric } from './hosts'
import { seriesKey, type Series } from './series'

const series = (labels: Record<string, string>, points: [number, number][]): Series => ({ key: seriesKey(labels), labels, points })

function data(partial: Partial<SeriesByMetric>): SeriesByMetric {
  return { cpuIdle: [], memory: [], disk: [], netRx: [], netTx: [], ...partial }
}

describe('combineByTimestamp', () => {
  it('sums values of the same timestamp across devices', () => {
    const combined = combineByTimestamp([series({ device: 'eth0' }, [[1, 10], [2, 20]]), series({ device: 'eth1' }, [[1, 1], [3, 3]])], (v) => v.reduce((a, b) => a + b, 0))
    expect(combined).toEqual([[1, 11], [2, 20], [3, 3]])
  })
})

describe('hostPanels', () => {
  it('turns idle CPU into used CPU and takes the fullest disk', () => {
    const panels = hostPanels(
      data({
        cpuIdle: [series({ host: 'a', cpu: 'total', mode: 'idle' }, [[1, 75]])],
        disk: [series({ host: 'a', mountpoint: '/' }, [[1, 40]]), series({ host: 'a', mountpoint: '/data' }, [[1, 90]]), series({ host: 'b', mountpoint: '/' }, [[1, 99]])],
      }),
      'a',
    )
    expect(panels.map((panel) => panel.title)).toEqual(['CPU', 'Memory', 'Disk (fullest)', 'Network ↓ / ↑'])
    expect(panels[0].series[0].points).toEqual([[1, 25]])
    expect(panels[2].series[0].points).toEqual([[1, 90]])
    expect(panels[3].series).toHaveLength(2)
    expect(panels[3].unit).toBe('bytesPerSecond')
  })
})

describe('staleness', () => {
  it('is stale past 60 s without a sample, or with none at all', () => {
    expect(isStale(1_000, 61_000)).toBe(false)
    expect(isStale(1_000, 61_001)).toBe(true)
    expect(isStale(null, 0)).toBe(true)
  })

  it('summarizes each host with its newest sample of any metric', () => {
    const byMetric = data({
      memory: [series({ host: 'a' }, [[100_000, 50]]), series({ host: 'b' }, [[10_000, 50]])],
      netRx: [series({ host: 'b', device: 'eth0' }, [[20_000, 1]])],
    })
    const [a, b, c] = summarizeHosts(['a', 'b', 'c'], byMetric, 110_000, new Map([['c', 105_000]]))
    expect(a).toMatchObject({ host: 'a', lastSeen: 100_000, stale: false })
    expect(b).toMatchObject({ host: 'b', lastSeen: 20_000, stale: true })
    expect(c).toMatchObject({ host: 'c', lastSeen: 105_000, stale: false })
  })

  it('lists distinct hosts, sorted', () => {
    expect(hostNames([{ labels: { host: 'b' } }, { labels: { host: 'a' } }, { labels: { host: 'b' } }, { labels: {} }])).toEqual(['a', 'b'])
  })
})
