import { describe, expect, it } from 'vitest'
import { alignSeries, countPoints, mergePoints, seriesKey, seriesLabel, varyingLabelNames } from './series'

describe('seriesKey', () => {
  it('does not depend on label order', () => {
    expect(seriesKey({ host: 'a', cpu: '0' })).toBe(seriesKey({ cpu: '0', host: 'a' }))
    expect(seriesKey({ host: 'a' })).not.toBe(seriesKey({ host: 'b' }))
  })
})

describe('mergePoints', () => {
  it('appends newer points', () => {
    expect(mergePoints([[1, 1], [2, 2]], [[3, 3]])).toEqual([[1, 1], [2, 2], [3, 3]])
  })

  it('sorts late points in and lets a later value replace one of the same timestamp', () => {
    expect(mergePoints([[1, 1], [3, 3]], [[2, 2], [3, 30]])).toEqual([[1, 1], [2, 2], [3, 30]])
  })

  it('keeps the same array when nothing arrives', () => {
    const points: [number, number][] = [[1, 1]]
    expect(mergePoints(points, [])).toBe(points)
  })
})

describe('alignSeries', () => {
  it('unites timestamps (as seconds) and fills gaps with null', () => {
    const aligned = alignSeries([
      { key: 'a', labels: {}, points: [[1000, 1], [3000, 3]] },
      { key: 'b', labels: {}, points: [[2000, 20], [3000, 30]] },
    ])
    expect(aligned).toEqual([[1, 2, 3], [1, null, 3], [null, 20, 30]])
  })

  it('gives just an empty x column for no series', () => {
    expect(alignSeries([])).toEqual([[]])
  })
})

describe('labels for legends', () => {
  it('names series by the labels that differ', () => {
    const all = [{ host: 'a', env: 'prod' }, { host: 'b', env: 'prod' }]
    const varying = varyingLabelNames(all)
    expect([...varying]).toEqual(['host'])
    expect(seriesLabel(all[0], varying)).toBe('host=a')
  })

  it('counts points over all series', () => {
    expect(countPoints([{ key: 'a', labels: {}, points: [[1, 1]] }, { key: 'b', labels: {}, points: [[1, 1], [2, 2]] }])).toBe(3)
  })
})
