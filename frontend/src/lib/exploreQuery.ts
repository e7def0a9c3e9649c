// The explore view's state lives in the URL, so a link opens the same view:
// /explore?metric=cpu.usage_percent&range=24h&host=n1&match=mode!=idle
// /explore?mode=promql&expr=sum by (host) (rate(x[5m]))&range=1h
import { isRangeKey, type CustomRange, type RangeKey } from './ranges'

export type MatchOp = '=' | '!=' | '=~' | '!~'
export const MATCH_OPS: MatchOp[] = ['=', '!=', '=~', '!~']

export interface LabelFilter {
  name: string
  op: MatchOp
  value: string
}

export type ExploreMode = 'metric' | 'promql'

export interface ExploreState {
  /** The metric picker with label filters, or a PromQL expression; absent means the picker. */
  mode?: ExploreMode
  /** The PromQL expression (mode promql). */
  expr?: string
  metric: string
  range: RangeKey
  custom?: CustomRange
  filters: LabelFilter[]
}

const RESERVED = new Set(['metric', 'range', 'from', 'to', 'match', 'mode', 'expr'])
const MATCHER = /^([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)(.*)$/s

type RouteQuery = Record<string, string | null | (string | null)[] | undefined>

function all(value: RouteQuery[string]): string[] {
  if (value === undefined || value === null) return []
  return (Array.isArray(value) ? value : [value]).filter((item): item is string => typeof item === 'string')
}

export function parseMatcher(text: string): LabelFilter | null {
  const found = MATCHER.exec(text.trim())
  return found ? { name: found[1], op: found[2] as MatchOp, value: found[3].trim() } : null
}

export function matcherText(filter: LabelFilter): string {
  return `${filter.name}${filter.op}${filter.value}`
}

export function parseExploreQuery(query: RouteQuery, defaultRange: RangeKey = '1h'): ExploreState {
  const rangeText = all(query.range)[0]
  const range = isRangeKey(rangeText) ? rangeText : defaultRange
  const filters: LabelFilter[] = []
  for (const [name, value] of Object.entries(query)) {
    if (RESERVED.has(name)) continue
    for (const item of all(value)) filters.push({ name, op: '=', value: item })
  }
  for (const text of all(query.match)) {
    const filter = parseMatcher(text)
    if (filter) filters.push(filter)
  }
  const start = Number(all(query.from)[0])
  const end = Number(all(query.to)[0])
  const custom = range === 'custom' && start > 0 && end > start ? { start, end } : undefined
  const mode: ExploreMode = all(query.mode)[0] === 'promql' ? 'promql' : 'metric'
  return { mode, expr: all(query.expr)[0] ?? '', metric: all(query.metric)[0] ?? '', range, custom, filters }
}

export function exploreQuery(state: ExploreState): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {}
  if (state.mode === 'promql') {
    query.mode = 'promql'
    if (state.expr) query.expr = state.expr
  }
  if (state.metric) query.metric = state.metric
  query.range = state.range
  if (state.range === 'custom' && state.custom) {
    query.from = String(state.custom.start)
    query.to = String(state.custom.end)
  }
  const matchers: string[] = []
  for (const filter of completeFilters(state.filters)) {
    if (filter.op === '=' && !RESERVED.has(filter.name) && !(filter.name in query)) query[filter.name] = filter.value
    else matchers.push(matcherText(filter))
  }
  if (matchers.length) query.match = matchers
  return query
}

export function completeFilters(filters: LabelFilter[]): LabelFilter[] {
  return filters.filter((filter) => filter.name.trim() !== '')
}

export function matchersOf(filters: LabelFilter[]): string[] {
  return completeFilters(filters).map(matcherText)
}
