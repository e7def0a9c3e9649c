import { describe, expect, it } from 'vitest'
import { appendLivePoints, trimSeries } from './liveBuffer'
import { seriesKey, type Series } from './series'

const host = (name: string) => ({ host: name })
const series = (labels: Record<string, string>, points: [number, number][]): Series => ({ key: seriesKey(labels), labels, points })

describe('appendLivePoints', () => {
  it('appends to the matching series without touching others', () => {
    const before = [series(host('a'), [[1000, 1]]), series(host('b'), [[1000, 5]])]
    const after = appendLivePoints(before, [{ metric: 'm', labels: host('a'), ts: 2000, value: 2 }], 'm', 2000, 60_000)
    expect(after[0].points).toEqual([[1000, 1], [2000, 2]])
    expect(after[1]).toBe(before[1])
  })

  it('creates a series that appears only on the stream', () => {
    const after = appendLivePoints([], [{ metric: 'm', labels: host('new'), ts: 5, value: 1 }], 'm', 5, 60_000)
    expect(after).toHaveLength(1)
    expect(after[0].labels).toEqual(host('new'))
  })

  it('ignores points of other metrics', () => {
    const after = appendLivePoints([], [{ metric: 'other', labels: host('a'), ts: 5, value: 1 }], 'm', 5, 60_000)
    expect(after).toEqual([])
  })

  it('drops points that slid out of the window, keeping the emptied series', () => {
    const before = [series(host('a'), [[0, 1], [50_000, 2]]), series(host('b'), [[1_000, 1]])]
    const after = appendLivePoints(before, [{ metric: 'm', labels: host('a'), ts: 70_000, value: 3 }], 'm', 70_000, 60_000)
    expect(after[0].points).toEqual([[50_000, 2], [70_000, 3]])
    expect(after[1].points).toEqual([])
  })
})

describe('trimSeries', () => {
  it('caps the number of points, keeping the newest', () => {
    const many = series({}, Array.from({ length: 10 }, (_, i) => [i, i] as [number, number]))
    expect(trimSeries(many, 0, 3).points).toEqual([[7, 7], [8, 8], [9, 9]])
  })

  it('returns the same series when nothing is trimmed', () => {
    const one = series({}, [[5, 1]])
    expect(trimSeries(one, 0)).toBe(one)
  })
})
