// The alert-rule form: its state (what the inputs hold) <-> the api's RuleIn, checked locally the
// way core/microdash_core/alerting/rules.py check_rule does, so most mistakes never reach the server.
import type { Aggregation, AlertRuleIn, Comparison, NodataPolicy } from '../api/types'
import { formatDurationInput, parseDuration } from './durations'
import type { FieldMessages } from './formErrors'

export const AGGREGATIONS: Aggregation[] = ['avg', 'min', 'max', 'sum', 'count', 'last']
export const COMPARISONS: Comparison[] = ['>', '>=', '<', '<=', '==', '!=']
export const NODATA_POLICIES: NodataPolicy[] = ['nodata', 'ok', 'firing']
export const MAX_WINDOW_SECONDS = 7 * 24 * 3600
export const MAX_EXPR_LENGTH = 2000
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:.]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const MATCHER = /^([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)(.*)$/s

export interface KeyValueRow {
  key: string
  value: string
}

export interface RuleForm {
  name: string
  /** What the rule watches: a metric with matchers and an aggregation, or a PromQL expression. */
  watch: 'metric' | 'expr'
  metric: string
  expr: string
  /** one matcher per line: a regex may hold commas */
  matchers: string
  aggregation: Aggregation
  window: string
  comparison: Comparison
  threshold: string
  recoveryThreshold: string
  forDuration: string
  keepFiringFor: string
  nodataPolicy: NodataPolicy
  nodataAfter: string
  severity: string
  labels: KeyValueRow[]
  annotations: KeyValueRow[]
  /** 'all': the rule names no channel, so every enabled channel of the tenant is notified */
  channelMode: 'all' | 'chosen'
  channels: string[]
  enabled: boolean
}

export type RuleField = keyof AlertRuleIn
export type RuleErrors = FieldMessages<RuleField>
export type RuleCheck = { rule: AlertRuleIn; errors: null } | { rule: null; errors: RuleErrors }

const rowsOf = (record: Record<string, string>): KeyValueRow[] =>
  Object.entries(record).map(([key, value]) => ({ key, value }))

export function emptyRuleForm(): RuleForm {
  return {
    name: '', watch: 'metric', metric: '', expr: '', matchers: '', aggregation: 'avg', window: '1m', comparison: '>', threshold: '',
    recoveryThreshold: '', forDuration: '0s', keepFiringFor: '0s', nodataPolicy: 'nodata', nodataAfter: '1',
    severity: 'warning', labels: [], annotations: [], channelMode: 'all', channels: [], enabled: true,
  }
}

export function ruleToForm(rule: AlertRuleIn): RuleForm {
  return {
    name: rule.name,
    watch: rule.expr ? 'expr' : 'metric',
    metric: rule.metric,
    expr: rule.expr ?? '',
    matchers: rule.matchers.join('\n'),
    aggregation: rule.aggregation,
    window: formatDurationInput(rule.window_seconds),
    comparison: rule.comparison,
    threshold: String(rule.threshold),
    recoveryThreshold: rule.recovery_threshold === null ? '' : String(rule.recovery_threshold),
    forDuration: formatDurationInput(rule.for_seconds),
    keepFiringFor: formatDurationInput(rule.keep_firing_for_seconds),
    nodataPolicy: rule.nodata_policy,
    nodataAfter: String(rule.nodata_after),
    severity: rule.severity,
    labels: rowsOf(rule.labels),
    annotations: rowsOf(rule.annotations),
    channelMode: rule.channels.length ? 'chosen' : 'all',
    channels: [...rule.channels],
    enabled: rule.enabled,
  }
}

function parseNumber(text: string): number | null {
  const trimmed = text.trim()
  if (!trimmed) return null
  const value = Number(trimmed)
  return Number.isFinite(value) ? value : null
}

/** Rows with neither key nor value are ignored; a key given twice or a value without key is an error. */
function recordOf(rows: KeyValueRow[], checkKey: (key: string) => string | null): { record: Record<string, string>; error: string | null } {
  const record: Record<string, string> = {}
  for (const row of rows) {
    const key = row.key.trim()
    if (!key && !row.value) continue
    const problem = !key ? 'every value needs a name' : key in record ? `${key} is given twice` : checkKey(key)
    if (problem) return { record, error: problem }
    record[key] = row.value
  }
  return { record, error: null }
}

function checkMatchers(lines: string[]): string | null {
  const bad = lines.find((line) => !MATCHER.test(line))
  return bad === undefined ? null : `bad label matcher ${JSON.stringify(bad)}: expected name=value, name!=value, name=~regex or name!~regex`
}

function checkRecovery(comparison: Comparison, threshold: number, recovery: number): string | null {
  if (comparison === '==' || comparison === '!=') return 'a recovery threshold needs a comparison of >, >=, < or <='
  const wrongSide = comparison.startsWith('>') ? recovery > threshold : recovery < threshold
  return wrongSide ? `must be on the far side of the threshold (${comparison.startsWith('>') ? 'at or below' : 'at or above'} ${threshold})` : null
}

function durationIn(text: string, min: number, max: number, emptyIs: number | null): number | string {
  const seconds = text.trim() === '' && emptyIs !== null ? emptyIs : parseDuration(text)
  if (seconds === null) return 'a duration such as 90, 90s, 5m or 1h30m'
  if (seconds < min || seconds > max) return min === 0 ? `at most ${formatDurationInput(max)}` : `between ${formatDurationInput(min)} and ${formatDurationInput(max)}`
  return seconds
}

export function formToRule(form: RuleForm): RuleCheck {
  const errors: RuleErrors = {}
  const name = form.name.trim()
  if (!name || name.length > 200) errors.name = 'a name of 1 to 200 characters'
  const byExpr = form.watch === 'expr'
  // Only the chosen way is sent: an expression rule has no metric and no matchers.
  const metric = byExpr ? '' : form.metric.trim()
  const matchers = byExpr ? [] : form.matchers.split('\n').map((line) => line.trim()).filter(Boolean)
  const expr = byExpr ? form.expr.trim() : null
  if (byExpr) {
    if (!expr || expr.length > MAX_EXPR_LENGTH) errors.expr = `a PromQL expression of 1 to ${MAX_EXPR_LENGTH} characters`
  } else {
    if (!METRIC_NAME.test(metric)) errors.metric = 'a metric name such as cpu.usage_percent ([a-zA-Z_:][a-zA-Z0-9_:.]*)'
    const matcherError = checkMatchers(matchers)
    if (matcherError) errors.matchers = matcherError
  }

  const window = durationIn(form.window, 1, MAX_WINDOW_SECONDS, null)
  if (typeof window === 'string') errors.window_seconds = window
  const forSeconds = durationIn(form.forDuration, 0, Number.MAX_SAFE_INTEGER, 0)
  if (typeof forSeconds === 'string') errors.for_seconds = forSeconds
  const keepFiring = durationIn(form.keepFiringFor, 0, Number.MAX_SAFE_INTEGER, 0)
  if (typeof keepFiring === 'string') errors.keep_firing_for_seconds = keepFiring

  const threshold = parseNumber(form.threshold)
  if (threshold === null) errors.threshold = 'a number'
  const recovery = form.recoveryThreshold.trim() === '' ? null : parseNumber(form.recoveryThreshold)
  if (form.recoveryThreshold.trim() !== '' && recovery === null) errors.recovery_threshold = 'a number, or empty for none'
  else if (recovery !== null && threshold !== null) {
    const problem = checkRecovery(form.comparison, threshold, recovery)
    if (problem) errors.recovery_threshold = problem
  }
  const nodataAfter = Number(form.nodataAfter.trim())
  if (!/^\d+$/.test(form.nodataAfter.trim()) || nodataAfter < 1) errors.nodata_after = 'a whole number of evaluations, at least 1'

  const severity = form.severity.trim()
  if (!severity || severity.length > 32) errors.severity = 'a severity of 1 to 32 characters'
  const labels = recordOf(form.labels, (key) => (LABEL_NAME.test(key) ? null : `bad label name ${JSON.stringify(key)}`))
  if (labels.error) errors.labels = labels.error
  const annotations = recordOf(form.annotations, () => null)
  if (annotations.error) errors.annotations = annotations.error
  const channels = form.channelMode === 'all' ? [] : [...new Set(form.channels)]
  if (form.channelMode === 'chosen' && !channels.length) errors.channels = 'choose at least one channel, or notify every channel'

  if (Object.keys(errors).length) return { rule: null, errors }
  return {
    errors: null,
    rule: {
      name, metric, expr, matchers, aggregation: form.aggregation, window_seconds: window as number,
      comparison: form.comparison, threshold: threshold as number, recovery_threshold: recovery,
      for_seconds: forSeconds as number, keep_firing_for_seconds: keepFiring as number,
      nodata_policy: form.nodataPolicy, nodata_after: nodataAfter, severity,
      labels: labels.record, annotations: annotations.record, channels, enabled: form.enabled,
    },
  }
}

const RULE_FIELDS: RuleField[] = [
  'name', 'metric', 'expr', 'matchers', 'aggregation', 'window_seconds', 'comparison', 'threshold', 'recovery_threshold',
  'for_seconds', 'keep_firing_for_seconds', 'nodata_policy', 'nodata_after', 'severity', 'labels', 'annotations',
  'channels', 'enabled',
]

/** The form field a server reason is about: its body path, else the field its message names. */
export function ruleFieldOf(path: string | null, message: string): RuleField | null {
  const head = (path ?? '').split('.')[0]
  if ((RULE_FIELDS as string[]).includes(head)) return head as RuleField
  if (/^a rule named /.test(message)) return 'name'
  if (/label matcher|regex in matcher/.test(message)) return 'matchers'
  if (/^bad label name/.test(message)) return 'labels'
  return RULE_FIELDS.find((field) => message.startsWith(`${field} `)) ?? null
}
