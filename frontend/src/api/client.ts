// The one module that talks to the api over HTTP. Components and stores call `api.*`, never fetch().
import type {
  Accepted, AlertRule, AlertRuleIn, AlertState, AlertTransition, ApiToken, AuditEntry, Channel, ChannelIn, CreatedToken,
  DeadLetters, Delivery, Me, PromQueryData, PromSuccess, QueryResult, Aggregation, Sample, SeriesRef, Silence, SilenceIn,
  TenantUsage,
} from './types'

/** One reason of a refused request; `field` is the body path ("window_seconds", "config.url") when known. */
export interface FieldError {
  field: string | null
  message: string
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly retryAfterSeconds: number | null = null,
    readonly fieldErrors: FieldError[] = [],
    /** The Prometheus API's `errorType` (bad_data, execution, timeout, …); null for the native API. */
    readonly errorType: string | null = null,
  ) {
    super(detail)
    this.name = 'ApiError'
  }
}

type QueryValue = string | number | undefined | null | string[]
type Query = Record<string, QueryValue>

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const CSRF_COOKIE = 'microdash_csrf'

let csrfToken: string | null = null
let unauthorizedHandler: (() => void) | null = null

export function setCsrfToken(token: string | null): void {
  csrfToken = token
}

/** Called on any 401 except from the login call itself: the session is gone. */
export function onUnauthorized(handler: () => void): void {
  unauthorizedHandler = handler
}

function csrfFromCookie(): string | null {
  if (typeof document === 'undefined') return null
  const entry = document.cookie.split('; ').find((part) => part.startsWith(`${CSRF_COOKIE}=`))
  return entry ? decodeURIComponent(entry.slice(CSRF_COOKIE.length + 1)) : null
}

export function buildUrl(path: string, query: Query = {}): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item))
  }
  const text = params.toString()
  return text ? `${path}?${text}` : path
}

interface ErrorItem {
  loc?: unknown
  msg?: unknown
  field?: unknown
  error?: unknown
}

// FastAPI's validation items ({loc: ["body", "window_seconds"], msg}) and the api's own `errors` ({field, error}).
function fieldErrorOf(item: ErrorItem): FieldError {
  const message = String(item.msg ?? item.error ?? '').replace(/^Value error, /, '')
  if (typeof item.field === 'string') return { field: item.field, message }
  const path = Array.isArray(item.loc) ? item.loc.slice(item.loc[0] === 'body' ? 1 : 0) : []
  return { field: path.length ? path.join('.') : null, message }
}

async function errorFrom(response: Response): Promise<ApiError> {
  let detail = response.statusText || `HTTP ${response.status}`
  let fieldErrors: FieldError[] = []
  let errorType: string | null = null
  try {
    const body = await response.json()
    if (body?.status === 'error' && typeof body.error === 'string') {
      // The Prometheus API's envelope: {"status": "error", "errorType": "bad_data", "error": "..."}
      detail = body.error
      errorType = typeof body.errorType === 'string' ? body.errorType : null
    } else if (typeof body?.detail === 'string') detail = body.detail
    else if (Array.isArray(body?.detail)) {
      fieldErrors = body.detail.map(fieldErrorOf)
      detail = fieldErrors.map((e) => e.message).join('; ')
    }
    if (Array.isArray(body?.errors)) fieldErrors = [...fieldErrors, ...body.errors.map(fieldErrorOf)]
  } catch {
    // not JSON: keep the status text
  }
  const retryAfter = Number(response.headers.get('Retry-After'))
  return new ApiError(response.status, detail, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
    fieldErrors, errorType)
}

interface RequestOptions {
  query?: Query
  body?: unknown
  /** The login call answers 401 for wrong credentials; that is not an expired session. */
  expectUnauthorized?: boolean
}

async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (options.body !== undefined) headers['Content-Type'] = 'application/json'
  if (MUTATING.has(method)) {
    const token = csrfToken ?? csrfFromCookie()
    if (token) headers['X-CSRF-Token'] = token
  }
  let response: Response
  try {
    response = await fetch(buildUrl(path, options.query), {
      method,
      headers,
      credentials: 'same-origin',
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    })
  } catch {
    throw new ApiError(0, 'the server cannot be reached')
  }
  if (!response.ok) {
    if (response.status === 401 && !options.expectUnauthorized) unauthorizedHandler?.()
    throw await errorFrom(response)
  }
  if (response.status === 204) return undefined as T
  return (await response.json()) as T
}

export interface RangeQuery {
  metric: string
  match?: string[]
  start?: number
  end?: number
  step?: number
  aggregation?: Aggregation
}

export interface PromRangeQuery {
  /** A PromQL expression. */
  query: string
  /** Epoch ms; sent as Prometheus's unix seconds. */
  start: number
  end: number
  stepMs: number
}

const seconds = (ms: number) => String(ms / 1000)

export const api = {
  login: (email: string, password: string, tenant?: string) =>
    request<Me>('POST', '/api/v1/auth/login', { body: { email, password, tenant }, expectUnauthorized: true }),
  logout: () => request<void>('POST', '/api/v1/auth/logout'),
  me: () => request<Me>('GET', '/api/v1/auth/me'),
  switchTenant: (tenant: string) => request<Me>('POST', '/api/v1/auth/tenant', { body: { tenant } }),

  tenant: () => request<TenantUsage>('GET', '/api/v1/tenant'),

  series: (metric?: string, match: string[] = [], limit = 1000) =>
    request<{ series: SeriesRef[] }>('GET', '/api/v1/series', { query: { metric, match, limit } })
      .then((body) => body.series),
  query: (q: RangeQuery) =>
    request<QueryResult>('GET', '/api/v1/query', {
      query: { metric: q.metric, match: q.match, start: q.start, end: q.end, step: q.step, aggregation: q.aggregation },
    }),
  /** The Prometheus-compatible API, with the dashboard's session like every other call. */
  promQueryRange: (q: PromRangeQuery) =>
    request<PromSuccess<PromQueryData>>('GET', '/prometheus/api/v1/query_range', {
      query: { query: q.query, start: seconds(q.start), end: seconds(q.end), step: seconds(q.stepMs) },
    }),
  ingest: (sample: Sample) => request<Accepted>('POST', '/api/v1/metrics', { body: sample }),

  alertRules: () => request<AlertRule[]>('GET', '/api/v1/alerts/rules'),
  createAlertRule: (rule: AlertRuleIn) => request<AlertRule>('POST', '/api/v1/alerts/rules', { body: rule }),
  updateAlertRule: (id: number, rule: AlertRuleIn) =>
    request<AlertRule>('PUT', `/api/v1/alerts/rules/${id}`, { body: rule }),
  replaceAlertRule: ({ id, managed_by: _managedBy, eval_error: _evalError, ...rule }: AlertRule) =>
    request<AlertRule>('PUT', `/api/v1/alerts/rules/${id}`, { body: rule }),
  deleteAlertRule: (id: number) => request<void>('DELETE', `/api/v1/alerts/rules/${id}`),
  alertStates: () => request<AlertState[]>('GET', '/api/v1/alerts/states'),
  /** Newest first; with `beforeId`, only transitions older than that id (the next page). */
  alertHistory: (limit = 100, beforeId?: number) =>
    request<AlertTransition[]>('GET', '/api/v1/alerts/history', { query: { limit, before_id: beforeId } }),
  deliveries: (limit = 100) => request<Delivery[]>('GET', '/api/v1/alerts/deliveries', { query: { limit } }),
  channels: () => request<Channel[]>('GET', '/api/v1/alerts/channels'),
  createChannel: (channel: ChannelIn) => request<Channel>('POST', '/api/v1/alerts/channels', { body: channel }),
  updateChannel: (id: number, channel: ChannelIn) =>
    request<Channel>('PUT', `/api/v1/alerts/channels/${id}`, { body: channel }),
  deleteChannel: (id: number) => request<void>('DELETE', `/api/v1/alerts/channels/${id}`),
  silences: () => request<Silence[]>('GET', '/api/v1/alerts/silences'),
  createSilence: (silence: SilenceIn) => request<Silence>('POST', '/api/v1/alerts/silences', { body: silence }),
  expireSilence: (id: number) => request<void>('DELETE', `/api/v1/alerts/silences/${id}`),

  tokens: () => request<ApiToken[]>('GET', '/api/v1/tokens'),
  createToken: (name: string) => request<CreatedToken>('POST', '/api/v1/tokens', { body: { name } }),
  revokeToken: (publicId: string) => request<void>('DELETE', `/api/v1/tokens/${encodeURIComponent(publicId)}`),

  /** Newest first; with `beforeId`, only entries older than that id (the next page). */
  audit: (limit = 100, beforeId?: number, objectType?: string) =>
    request<AuditEntry[]>('GET', '/api/v1/audit', { query: { limit, before_id: beforeId, object_type: objectType } }),

  /** Newest first; `limit` 1..the api's cap (1,000), any session or token of the tenant. */
  deadLetters: (limit = 100) => request<DeadLetters>('GET', '/api/v1/dead-letters', { query: { limit } }),
}
