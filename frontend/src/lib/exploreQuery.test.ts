import { describe, expect, it } from 'vitest'
import { exploreQuery, matchersOf, parseExploreQuery } from './exploreQuery'

describe('explore deep links', () => {
  it('reads metric, range and label filters from the URL', () => {
    const state = parseExploreQuery({ metric: 'cpu.usage_percent', range: '24h', host: 'n1', match: 'mode!=idle' })
    expect(state.metric).toBe('cpu.usage_percent')
    expect(state.range).toBe('24h')
    expect(matchersOf(state.filters)).toEqual(['host=n1', 'mode!=idle'])
  })

  it('falls back to the default range for an unknown one', () => {
    expect(parseExploreQuery({ range: '3y' }).range).toBe('1h')
  })

  it('reads a custom range only when it is sound', () => {
    expect(parseExploreQuery({ range: 'custom', from: '10', to: '20' }).custom).toEqual({ start: 10, end: 20 })
    expect(parseExploreQuery({ range: 'custom', from: '20', to: '10' }).custom).toBeUndefined()
  })

  it('writes a state back to the same URL', () => {
    const query = { metric: 'm', range: '5m', host: 'n1', match: ['env=~prod.*'] }
    expect(exploreQuery(parseExploreQuery(query))).toEqual(query)
  })

  it('leaves out filters without a label name', () => {
    expect(exploreQuery({ metric: 'm', range: '1h', filters: [{ name: '', op: '=', value: 'x' }] })).toEqual({ metric: 'm', range: '1h' })
  })
})

describe('explore deep links with PromQL', () => {
  it('reads the mode and the expression, and never takes them for label filters', () => {
    const state = parseExploreQuery({ mode: 'promql', expr: 'sum by (host) (rate(x[5m]))', range: '24h' })
    expect(state.mode).toBe('promql')
    expect(state.expr).toBe('sum by (host) (rate(x[5m]))')
    expect(state.filters).toEqual([])
  })

  it('is the metric picker for any other mode', () => {
    expect(parseExploreQuery({ mode: 'sql' }).mode).toBe('metric')
  })

  it('writes an expression back to the same URL and keeps the picker state beside it', () => {
    const query = { mode: 'promql', expr: 'up{job="node"} == 0', metric: 'm', range: '1h', host: 'n1' }
    expect(exploreQuery(parseExploreQuery(query))).toEqual(query)
  })

  it('writes no expression in metric mode', () => {
    expect(exploreQuery({ mode: 'metric', expr: 'up', metric: 'm', range: '1h', filters: [] })).toEqual({ metric: 'm', range: '1h' })
  })
})
