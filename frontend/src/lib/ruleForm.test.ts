import { describe, expect, it } from 'vitest'
import { ApiError } from '../api/client'
import type { AlertRuleIn } from '../api/types'
import { serverErrors } from './formErrors'
import { emptyRuleForm, formToRule, ruleFieldOf, ruleToForm, type RuleForm } from './ruleForm'

const RULE: AlertRuleIn = {
  name: 'cpu-high', metric: 'cpu.usage_percent', expr: null, matchers: ['host=~web-.*', 'cpu!=total', 'x=~a{1,3}'],
  aggregation: 'max', window_seconds: 300, comparison: '>', threshold: 90, recovery_threshold: 80,
  for_seconds: 90, keep_firing_for_seconds: 3600, nodata_policy: 'firing', nodata_after: 3, severity: 'critical',
  labels: { team: 'ops' }, annotations: { summary: '{{ $labels.host }} at {{ $value }}', 'runbook url': 'a=b' },
  channels: ['pager'], enabled: false,
}

function form(overrides: Partial<RuleForm>): RuleForm {
  return { ...emptyRuleForm(), name: 'r', metric: 'm', threshold: '1', ...overrides }
}

describe('rule form', () => {
  it('round-trips every field of a rule', () => {
    expect(formToRule(ruleToForm(RULE))).toEqual({ rule: RULE, errors: null })
  })

  it('round-trips a PromQL rule, and sends neither metric nor matchers with it', () => {
    const byExpr: AlertRuleIn = { ...RULE, metric: '', matchers: [], expr: 'sum by (host) (rate(errors_total[5m]))' }
    expect(ruleToForm(byExpr)).toMatchObject({ watch: 'expr', expr: byExpr.expr })
    expect(formToRule(ruleToForm(byExpr))).toEqual({ rule: byExpr, errors: null })
    const switched = formToRule(form({ watch: 'expr', metric: 'left.over', matchers: 'host=a', expr: ' up == 0 ' }))
    expect(switched.rule).toMatchObject({ metric: '', matchers: [], expr: 'up == 0' })
    expect(formToRule(form({ watch: 'metric', expr: 'up' })).rule?.expr).toBeNull()
  })

  it('asks for an expression of at most 2,000 characters, and leaves its parsing to the server', () => {
    expect(formToRule(form({ watch: 'expr', expr: '  ' })).errors).toHaveProperty('expr')
    expect(formToRule(form({ watch: 'expr', expr: 'x'.repeat(2001) })).errors).toHaveProperty('expr')
    expect(formToRule(form({ watch: 'expr', expr: 'sum(' })).errors).toBeNull()
    expect(ruleFieldOf('expr', 'expr: parse error: unexpected end of input')).toBe('expr')
  })

  it('shows durations in their short spelling', () => {
    expect(ruleToForm(RULE)).toMatchObject({ window: '5m', forDuration: '1m30s', keepFiringFor: '1h' })
  })

  it('builds the payload of a new rule from typed text', () => {
    const result = formToRule(form({
      name: '  disk-full ', metric: 'disk.used_percent', matchers: 'mount=/\n\n  host=~n.* \n', window: '90',
      threshold: ' 95.5 ', forDuration: '', keepFiringFor: '2m', labels: [{ key: 'team', value: 'ops' }, { key: '', value: '' }],
    }))
    expect(result.errors).toBeNull()
    expect(result.rule).toMatchObject({
      name: 'disk-full', matchers: ['mount=/', 'host=~n.*'], window_seconds: 90, threshold: 95.5, recovery_threshold: null,
      for_seconds: 0, keep_firing_for_seconds: 120, labels: { team: 'ops' }, annotations: {}, channels: [], enabled: true,
    })
  })

  it('notifies every channel unless channels are chosen', () => {
    expect(formToRule(form({ channelMode: 'all', channels: ['ops'] })).rule?.channels).toEqual([])
    expect(formToRule(form({ channelMode: 'chosen', channels: ['ops', 'ops', 'pager'] })).rule?.channels).toEqual(['ops', 'pager'])
    expect(formToRule(form({ channelMode: 'chosen', channels: [] })).errors).toHaveProperty('channels')
  })

  it.each<[Partial<RuleForm>, string]>([
    [{ name: ' ' }, 'name'],
    [{ name: 'x'.repeat(201) }, 'name'],
    [{ metric: '9lives' }, 'metric'],
    [{ matchers: 'host' }, 'matchers'],
    [{ matchers: 'host=a\n1bad=b' }, 'matchers'],
    [{ window: '0' }, 'window_seconds'],
    [{ window: '8d' }, 'window_seconds'],
    [{ window: 'soon' }, 'window_seconds'],
    [{ forDuration: '-1' }, 'for_seconds'],
    [{ keepFiringFor: '1 fortnight' }, 'keep_firing_for_seconds'],
    [{ threshold: '' }, 'threshold'],
    [{ threshold: 'ninety' }, 'threshold'],
    [{ recoveryThreshold: 'x' }, 'recovery_threshold'],
    [{ comparison: '>', threshold: '90', recoveryThreshold: '95' }, 'recovery_threshold'],
    [{ comparison: '<=', threshold: '10', recoveryThreshold: '5' }, 'recovery_threshold'],
    [{ comparison: '==', threshold: '1', recoveryThreshold: '1' }, 'recovery_threshold'],
    [{ nodataAfter: '0' }, 'nodata_after'],
    [{ nodataAfter: '1.5' }, 'nodata_after'],
    [{ severity: '' }, 'severity'],
    [{ labels: [{ key: 'bad-name', value: 'x' }] }, 'labels'],
    [{ labels: [{ key: 'a', value: '1' }, { key: 'a', value: '2' }] }, 'labels'],
    [{ annotations: [{ key: '', value: 'orphan' }] }, 'annotations'],
  ])('refuses %j (%s)', (overrides, field) => {
    const result = formToRule(form(overrides))
    expect(result.rule).toBeNull()
    expect(Object.keys(result.errors ?? {})).toEqual([field])
  })

  it('accepts a recovery threshold on the far side, equal included', () => {
    expect(formToRule(form({ comparison: '>=', threshold: '90', recoveryThreshold: '90' })).errors).toBeNull()
    expect(formToRule(form({ comparison: '<', threshold: '10', recoveryThreshold: '20' })).rule?.recovery_threshold).toBe(20)
  })
})

describe('server reasons for the rule form', () => {
  it.each<[string | null, string, string | null]>([
    ['window_seconds', 'Input should be greater than or equal to 1', 'window_seconds'],
    [null, 'window_seconds must be between 1 and 604800', 'window_seconds'],
    [null, "bad label matcher 'x': expected name=value", 'matchers'],
    [null, "bad regex in matcher 'x=~(': missing )", 'matchers'],
    [null, 'recovery_threshold must be on the far side of threshold', 'recovery_threshold'],
    [null, "a rule named 'cpu' exists already", 'name'],
    [null, "bad label name '9'", 'labels'],
    [null, 'for_seconds and keep_firing_for_seconds must be >= 0, nodata_after >= 1', 'for_seconds'],
    [null, 'the database is on fire', null],
  ])('puts %s / %j on %s', (path, message, field) => expect(ruleFieldOf(path, message)).toBe(field))

  it('keeps the server\'s detail as the summary and marks the field', () => {
    const errors = serverErrors(new ApiError(422, 'metric must match [a-zA-Z_:][a-zA-Z0-9_:.]*'), ruleFieldOf)
    expect(errors).toEqual({ messages: ['metric must match [a-zA-Z_:][a-zA-Z0-9_:.]*'], fields: { metric: 'metric must match [a-zA-Z_:][a-zA-Z0-9_:.]*' } })
  })
})
