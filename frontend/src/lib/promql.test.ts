import { describe, expect, it } from 'vitest'
import type { PromQueryData } from '../api/types'
import { alignedStart, promSeriesName, promStepMs, selectorFor, seriesFromPromData, unitOfSeries } from './promql'

describe('PromQL steps', () => {
  it('gives each range about 300 points at a step a person would pick', () => {
    expect(promStepMs(5 * 60_000)).toBe(1_000)
    expect(promStepMs(3_600_000)).toBe(15_000)
    expect(promStepMs(24 * 3_600_000)).toBe(300_000)
    expect(promStepMs(7 * 24 * 3_600_000)).toBe(3_600_000)
  })

  it('keeps whole days past the longest nice step', () => {
    expect(promStepMs(400 * 24 * 3_600_000)).toBe(2 * 86_400_000)
  })

  it('moves the start back onto the step so refreshes evaluate the same instants', () => {
    expect(alignedStart(1_000_017_500, 15_000)).toBe(1_000_005_000)
    expect(alignedStart(30_000, 15_000)).toBe(30_000)
  })
})

describe('PromQL answers as chart series', () => {
  const matrix: PromQueryData = {
    resultType: 'matrix',
    result: [
      { metric: { __name__: 'up', job: 'node', instance: 'a:9100' }, values: [[1700000000, '1'], [1700000015.5, '0']] },
      { metric: { job: 'api' }, values: [[1700000000, 'NaN'], [1700000015, '+Inf'], [1700000030, '2.5']] },
    ],
  }

  it('turns seconds and string values into epoch-ms points, one series per label set', () => {
    const { series, total } = seriesFromPromData(matrix)
    expect(total).toBe(2)
    expect(series[0].points).toEqual([[1700000000000, 1], [1700000015500, 0]])
    expect(series[0].labels).toEqual({ __name__: 'up', job: 'node', instance: 'a:9100' })
    expect(series[0].key).toBe('__name__=up,instance=a:9100,job=node')
  })

  it('drops NaN and infinite values, which a chart cannot draw', () => {
    expect(seriesFromPromData(matrix).series[1].points).toEqual([[1700000030000, 2.5]])
  })

  it('names every series by its whole label set, the way Prometheus does', () => {
    const names = seriesFromPromData(matrix).series.map((one) => one.name)
    expect(names).toEqual(['up{instance="a:9100", job="node"}', '{job="api"}'])
    expect(promSeriesName({})).toBe('{}')
    expect(promSeriesName({ path: 'C:\\x "y"' })).toBe('{path="C:\\\\x \\"y\\""}')
  })

  it('draws at most the limit and says how many there were', () => {
    const many: PromQueryData = {
      resultType: 'matrix',
      result: Array.from({ length: 7 }, (_, index) => ({ metric: { i: String(index) }, values: [[1, '1']] })),
    }
    const { series, total } = seriesFromPromData(many, 5)
    expect(series).toHaveLength(5)
    expect(total).toBe(7)
  })

  it('accepts vectors and scalars too', () => {
    expect(seriesFromPromData({ resultType: 'scalar', result: [10, '3'] }).series[0].points).toEqual([[10000, 3]])
    const vector = seriesFromPromData({ resultType: 'vector', result: [{ metric: { a: 'b' }, value: [10, '4'] }] })
    expect(vector.series[0].points).toEqual([[10000, 4]])
    expect(seriesFromPromData({ resultType: 'string', result: [10, 'x'] }).series).toEqual([])
  })

  it('keeps the unit of a single metric name and forgets it once names differ or are gone', () => {
    const of = (...names: (string | undefined)[]) =>
      unitOfSeries(names.map((name) => ({ key: String(name), labels: name ? { __name__: name } : ({} as Record<string, string>), points: [] })))
    expect(of('mem_used_percent', 'mem_used_percent')).toBe('percent')
    expect(of('mem_used_percent', 'disk_used_bytes')).toBe('none')
    expect(of(undefined)).toBe('none')
  })
})

describe('the metric picker as a PromQL selector', () => {
  it('writes a plain selector for a Prometheus name', () => {
    expect(selectorFor('node_load1', [])).toBe('node_load1')
    expect(selectorFor('node_load1', [{ name: 'host', op: '=~', value: 'web-.*' }])).toBe('node_load1{host=~"web-.*"}')
  })

  it('puts a dotted microdash name into __name__, and quotes values safely', () => {
    expect(selectorFor('cpu.usage_percent', [{ name: 'mode', op: '!=', value: 'id"le' }]))
      .toBe('{__name__="cpu.usage_percent", mode!="id\\"le"}')
  })

  it('leaves out unnamed filters and starts empty without a metric', () => {
    expect(selectorFor('', [])).toBe('')
    expect(selectorFor('m', [{ name: ' ', op: '=', value: 'x' }])).toBe('m')
  })
})
