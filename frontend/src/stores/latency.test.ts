import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { KEEP_LAST, PROBE_METRIC, randomProbeId, useLatencyStore } from './latency'

const probe = (id: string, ts: number) => ({ metric: PROBE_METRIC, labels: { probe: id }, ts, value: 1 })

describe('latency store', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('measures from the probe ts to its arrival', () => {
    const latency = useLatencyStore()
    latency.sent('a', 1000)
    latency.sent('b', 1100)
    latency.arrived([probe('a', 1000), probe('b', 1100)], 1150)
    expect(latency.latencies).toEqual([150, 50])
    expect(latency.count).toBe(2)
    expect(latency.p50).toBe(50)
    expect(latency.p99).toBe(150)
  })

  it('ignores unknown probes, other metrics and a second arrival of the same probe', () => {
    const latency = useLatencyStore()
    latency.sent('a', 1000)
    latency.arrived([probe('someone-else', 900), { ...probe('a', 1000), metric: 'cpu' }], 1200)
    expect(latency.count).toBe(0)
    latency.arrived([probe('a', 1000)], 1200)
    latency.arrived([probe('a', 1000)], 1300)
    expect(latency.latencies).toEqual([200])
  })

  it('counts probes that never came back as lost', () => {
    const latency = useLatencyStore()
    latency.sent('a', 0)
    latency.sent('b', 9000)
    latency.expire(10_001)
    expect(latency.lost).toBe(1)
    latency.arrived([probe('b', 9000)], 10_050)
    expect(latency.latencies).toEqual([1050])
  })

  it('keeps only the last probes', () => {
    const latency = useLatencyStore()
    for (let n = 0; n < KEEP_LAST + 5; n += 1) {
      latency.sent(`p${n}`, 0)
      latency.arrived([probe(`p${n}`, 0)], n)
    }
    expect(latency.count).toBe(KEEP_LAST)
    expect(latency.latencies[0]).toBe(5)
  })

  it('makes distinct random ids', () => {
    expect(randomProbeId()).toMatch(/^[0-9a-f]{16}$/)
    expect(randomProbeId()).not.toBe(randomProbeId())
  })
})
