// Shapes of the api's JSON, typed by hand from api/microdash_api/routes/*.py (see /docs).

export type Role = 'admin' | 'viewer'

export interface TenantMembership {
  name: string
  display_name: string
  role: string
}

export interface Me {
  email: string
  tenant: string
  role: Role
  tenants: TenantMembership[]
  csrf_token: string
}

/** GET /api/v1/tenant: the calling tenant's limits and usage. */
export interface TenantUsage {
  name: string
  display_name: string
  limits: {
    /** the limit in effect: the tenant's own, else the server's default */
    ingest_samples_per_second: number
    /** null = unlimited */
    max_series: number | null
  }
  usage: { series: number }
}

export interface SeriesRef {
  metric: string
  labels: Record<string, string>
}

export type Point = [ts: number, value: number]

export type Resolution = 'raw' | '1m' | '5m'
export type Aggregation = 'avg' | 'min' | 'max' | 'sum' | 'count' | 'last'

export interface QueryResult {
  metric: string
  start: number
  end: number
  step: number
  aggregation: Aggregation
  resolution: Resolution
  series: { labels: Record<string, string>; points: Point[] }[]
}

/** One point of a `points` event on /api/v1/stream. */
export interface LivePoint {
  metric: string
  labels: Record<string, string>
  ts: number
  value: number
}

export interface Sample {
  metric: string
  value: number
  ts?: number
  labels?: Record<string, string>
}

export interface Accepted {
  accepted: number
  batch_id: string
  duplicate: boolean
}

export type AlertStateName = 'OK' | 'PENDING' | 'FIRING' | 'NODATA'
export type Comparison = '>' | '>=' | '<' | '<=' | '==' | '!='
export type NodataPolicy = 'ok' | 'nodata' | 'firing'

/** What POST and PUT /api/v1/alerts/rules accept (RuleIn). */
export interface AlertRuleIn {
  name: string
  /** The metric watched; '' when the rule is a PromQL expression. */
  metric: string
  /** PromQL instead of metric, matchers, aggregation and window: each result series is one alert. */
  expr?: string | null
  matchers: string[]
  aggregation: Aggregation
  window_seconds: number
  comparison: Comparison
  threshold: number
  recovery_threshold: number | null
  for_seconds: number
  keep_firing_for_seconds: number
  nodata_policy: NodataPolicy
  nodata_after: number
  severity: string
  labels: Record<string, string>
  annotations: Record<string, string>
  /** channel names; empty = every enabled channel of the tenant */
  channels: string[]
  enabled: boolean
}

export interface AlertRule extends AlertRuleIn {
  id: number
  managed_by: 'api' | 'kubernetes'
  /** Why the expression's last evaluation failed (its alerts keep their states meanwhile); null when it succeeded. */
  eval_error?: string | null
}

export interface AlertState {
  rule_id: number
  rule: string
  fingerprint: string
  labels: Record<string, string>
  state: AlertStateName
  since: number
  last_value: number | null
  last_evaluated: number
  fired_at: number | null
  resolved_at: number | null
}

export interface AlertTransition {
  id: number
  rule_id: number
  fingerprint: string
  labels: Record<string, string>
  from_state: AlertStateName
  to_state: AlertStateName
  value: number | null
  at: number
  evaluator: string
  muted: boolean
}

export interface Delivery {
  id: number
  notification_id: number
  channel_id: number
  rule_id: number
  transition_ids: number[]
  attempt: number
  status: 'sent' | 'error'
  http_status: number | null
  latency_ms: number
  error: string | null
  next_retry_at: number | null
  permanently_failed: boolean
  at: number
}

export interface SilenceIn {
  rule_id?: number | null
  matchers: string[]
  starts_at?: number | null
  ends_at: number
  created_by: string
  comment: string
}

export interface Silence extends SilenceIn {
  id: number
  starts_at: number
}

export type ChannelKind = 'webhook' | 'slack' | 'email'

export interface Channel {
  id: number
  name: string
  kind: ChannelKind | string
  config: Record<string, unknown>
  /** the secret itself (webhook HMAC key, SMTP password) is write-only */
  has_secret: boolean
  enabled: boolean
}

/** What POST and PUT /api/v1/alerts/channels accept. On PUT, a secret left out (or null) keeps the stored one. */
export interface ChannelIn {
  name: string
  kind: ChannelKind
  config: Record<string, unknown>
  secret?: string | null
  enabled: boolean
}

export interface ApiToken {
  public_id: string
  name: string
  created_at: string | number
  revoked_at: string | number | null
}

export interface CreatedToken {
  public_id: string
  name: string
  created_at: string | number
  token: string
}

export interface AuditEntry {
  id: number
  at: number
  source: 'api' | 'cli' | 'operator'
  actor: string
  address: string | null
  action: string
  object_type: string
  object_id: string | null
  before: unknown
  after: unknown
}

// The Prometheus HTTP API (/prometheus/api/v1/...): its own envelope, not the native one.
// https://prometheus.io/docs/prometheus/latest/querying/api/#format-overview

/** A sample value as Prometheus sends it: [unix seconds, "value"] ("NaN", "+Inf" and "-Inf" included). */
export type PromSamplePair = [seconds: number, value: string]

export interface PromRangeSeries {
  /** The label set, `__name__` included when the expression keeps it. */
  metric: Record<string, string>
  values: PromSamplePair[]
}

export interface PromInstantSeries {
  metric: Record<string, string>
  value: PromSamplePair
}

export type PromQueryData =
  | { resultType: 'matrix'; result: PromRangeSeries[] }
  | { resultType: 'vector'; result: PromInstantSeries[] }
  | { resultType: 'scalar'; result: PromSamplePair }
  | { resultType: 'string'; result: PromSamplePair }

export interface PromSuccess<T> {
  status: 'success'
  data: T
  warnings?: string[]
}

/** What a refused query answers: `errorType` is bad_data, execution, timeout, unavailable, … */
export interface PromFailure {
  status: 'error'
  errorType: string
  error: string
}
