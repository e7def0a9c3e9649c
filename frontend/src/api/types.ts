// Shapes of the api's JSON. Those the api models are its OpenAPI document's (contract/openapi.json,
// generated into ./openapi.d.ts by `make contract`), under the names the dashboard uses; the rest,
// which the api answers without a response model, are typed by hand below: the live stream's points
// (text/event-stream) and the Prometheus HTTP API's envelope.
import type { components, paths } from './openapi'

type Schemas = components['schemas']

export type Role = Schemas['Me']['role']
export type TenantMembership = Schemas['TenantMembership']
export type Me = Schemas['Me']

/** GET /api/v1/tenant: the calling tenant's limits (the tenant's own, else the server's default; max_series null = unlimited) and usage. */
export type TenantUsage = Schemas['TenantPublic']

export type SeriesRef = Schemas['SeriesOut']

/** [epoch ms, value] */
export type Point = Schemas['SeriesPoints']['points'][number]
export type Resolution = Schemas['QueryResult']['resolution']
export type Aggregation = Schemas['QueryResult']['aggregation']
export type QueryResult = Schemas['QueryResult']

/** One point of a `points` event on /api/v1/stream (Server-Sent Events: not in the OpenAPI document). */
export interface LivePoint {
  metric: string
  labels: Record<string, string>
  ts: number
  value: number
}

/** One sample as POST /api/v1/metrics takes it (an array of them for /bulk). */
export type Sample = paths['/api/v1/metrics']['post']['requestBody']['content']['application/json']
export type Accepted = Schemas['Accepted']

export type AlertStateName = Schemas['AlertStateOut']['state']
export type Comparison = Schemas['RuleIn']['comparison']
export type NodataPolicy = Schemas['RuleIn']['nodata_policy']

/** What POST and PUT /api/v1/alerts/rules accept; `metric` is '' when the rule is a PromQL `expr`. */
export type AlertRuleIn = Schemas['RuleIn']
/** `eval_error`: why the expression's last evaluation failed (its alerts keep their states meanwhile). */
export type AlertRule = Schemas['RuleOut']
export type AlertState = Schemas['AlertStateOut']
export type AlertTransition = Schemas['TransitionOut']
export type Delivery = Schemas['DeliveryOut']

export type SilenceIn = Schemas['SilenceIn']
export type Silence = Schemas['SilenceOut']

export type ChannelKind = Schemas['ChannelIn']['kind']
/** The secret itself (webhook HMAC key, SMTP password) is write-only: `has_secret` says whether one is stored. */
export type Channel = Schemas['ChannelOut']
/** What POST and PUT /api/v1/alerts/channels accept. On PUT, a secret left out (or null) keeps the stored one. */
export type ChannelIn = Schemas['ChannelIn']

export type ApiToken = Schemas['TokenPublic']
export type CreatedToken = Schemas['TokenCreated']

export type AuditEntry = Schemas['AuditEntryOut']

/** GET /api/v1/dead-letters: what the tenant sent that could never be stored, newest first (at most `cap` kept). */
export type DeadLetters = Schemas['DeadLettersOut']
/** An MQTT message the bridge refused (`topic`, `payload`) or a sample the database refused (`batch_id`, `sample`). */
export type DeadLetter = Schemas['DeadLetterOut']
export type DeadLetterSource = DeadLetter['source']

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
