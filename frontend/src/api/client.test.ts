import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { api, ApiError, buildUrl, onUnauthorized, setCsrfToken } from './client'

function respond(status: number, body: unknown, headers: Record<string, string> = {}) {
  return vi.fn(async () => new Response(body === undefined ? null : JSON.stringify(body), { status, headers }))
}

function sentHeaders(fetchMock: ReturnType<typeof vi.fn>): Record<string, string> {
  return (fetchMock.mock.calls[0] as unknown as [string, RequestInit])[1].headers as Record<string, string>
}

describe('api client', () => {
  beforeEach(() => setCsrfToken(null))
  afterEach(() => vi.unstubAllGlobals())

  it('repeats list parameters and drops empty ones', () => {
    expect(buildUrl('/q', { metric: 'm', match: ['a=1', 'b=2'], step: undefined, empty: '' })).toBe('/q?metric=m&match=a%3D1&match=b%3D2')
  })

  it('sends the CSRF token on mutating requests only', async () => {
    setCsrfToken('secret')
    const post = respond(204, undefined)
    vi.stubGlobal('fetch', post)
    await api.revokeToken('abc')
    expect(sentHeaders(post)['X-CSRF-Token']).toBe('secret')

    const get = respond(200, [])
    vi.stubGlobal('fetch', get)
    await api.tokens()
    expect(sentHeaders(get)['X-CSRF-Token']).toBeUndefined()
  })

  it('reports throttling with its Retry-After', async () => {
    vi.stubGlobal('fetch', respond(429, { detail: 'too many failed logins' }, { 'Retry-After': '30' }))
    const error = await api.login('a@b.c', 'x').catch((caught) => caught)
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ status: 429, detail: 'too many failed logins', retryAfterSeconds: 30 })
  })

  it('calls the unauthorized handler on 401, except for a failed login', async () => {
    const handler = vi.fn()
    onUnauthorized(handler)
    vi.stubGlobal('fetch', respond(401, { detail: 'wrong email or password' }))
    await expect(api.login('a@b.c', 'x')).rejects.toThrow('wrong email or password')
    expect(handler).not.toHaveBeenCalled()
    await expect(api.alertRules()).rejects.toBeInstanceOf(ApiError)
    expect(handler).toHaveBeenCalledOnce()
  })

  it('joins validation errors into one message', async () => {
    vi.stubGlobal('fetch', respond(422, { detail: [{ msg: 'name is required' }, { msg: 'too long' }] }))
    await expect(api.createToken('')).rejects.toThrow('name is required; too long')
  })

  it('reads the dead letters with the page size, and reports an outage with its Retry-After', async () => {
    const get = respond(200, { kept: 0, cap: 1000, entries: [] })
    vi.stubGlobal('fetch', get)
    expect(await api.deadLetters(20)).toEqual({ kept: 0, cap: 1000, entries: [] })
    expect((get.mock.calls[0] as unknown as [string])[0]).toBe('/api/v1/dead-letters?limit=20')
    expect(sentHeaders(get)['X-CSRF-Token']).toBeUndefined()

    vi.stubGlobal('fetch', respond(503, { detail: 'a dependency is unavailable, retry later' }, { 'Retry-After': '5' }))
    await expect(api.deadLetters()).rejects.toMatchObject({ status: 503, retryAfterSeconds: 5 })
  })

  it('says so when the server cannot be reached', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('network'))))
    await expect(api.me()).rejects.toMatchObject({ status: 0 })
  })
})

describe('api client: alert rules and channels', () => {
  beforeEach(() => setCsrfToken('csrf'))
  afterEach(() => vi.unstubAllGlobals())

  function sent(fetchMock: ReturnType<typeof vi.fn>) {
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit]
    return { url, method: init.method, body: init.body ? JSON.parse(String(init.body)) : undefined, headers: init.headers as Record<string, string> }
  }

  it('replaces a rule without sending its id or manager', async () => {
    const put = respond(200, {})
    vi.stubGlobal('fetch', put)
    await api.replaceAlertRule({ id: 7, managed_by: 'api', name: 'r', enabled: false } as never)
    expect(sent(put)).toMatchObject({ url: '/api/v1/alerts/rules/7', method: 'PUT', body: { name: 'r', enabled: false } })
    expect(sent(put).body).not.toHaveProperty('id')
    expect(sent(put).body).not.toHaveProperty('managed_by')
  })

  it('creates, updates and deletes channels with the CSRF header', async () => {
    const post = respond(201, {})
    vi.stubGlobal('fetch', post)
    await api.createChannel({ name: 'ops', kind: 'webhook', config: { url: 'https://x' }, secret: 's', enabled: true })
    expect(sent(post)).toMatchObject({ url: '/api/v1/alerts/channels', method: 'POST', body: { secret: 's' } })
    expect(sent(post).headers['X-CSRF-Token']).toBe('csrf')

    const del = respond(204, undefined)
    vi.stubGlobal('fetch', del)
    await api.deleteChannel(3)
    expect(sent(del)).toMatchObject({ url: '/api/v1/alerts/channels/3', method: 'DELETE' })
  })

  it('asks for the history page before an id only when given one', async () => {
    const first = respond(200, [])
    vi.stubGlobal('fetch', first)
    await api.alertHistory(200)
    expect(sent(first).url).toBe('/api/v1/alerts/history?limit=200')

    const older = respond(200, [])
    vi.stubGlobal('fetch', older)
    await api.alertHistory(200, 41)
    expect(sent(older).url).toBe('/api/v1/alerts/history?limit=200&before_id=41')
  })

  it('keeps the field of each validation error', async () => {
    vi.stubGlobal('fetch', respond(422, { detail: [
      { loc: ['body', 'window_seconds'], msg: 'Input should be greater than or equal to 1' },
      { loc: ['body'], msg: 'Value error, webhook channel config needs url' },
    ] }))
    const error = await api.createAlertRule({} as never).catch((caught) => caught)
    expect(error.fieldErrors).toEqual([
      { field: 'window_seconds', message: 'Input should be greater than or equal to 1' },
      { field: null, message: 'webhook channel config needs url' },
    ])
    expect(error.detail).toBe('Input should be greater than or equal to 1; webhook channel config needs url')
  })

  it('reads the api\'s own per-field errors next to its detail', async () => {
    vi.stubGlobal('fetch', respond(422, { detail: 'refused', errors: [{ index: 0, field: 'labels', error: 'too many' }] }))
    const error = await api.createAlertRule({} as never).catch((caught) => caught)
    expect(error).toMatchObject({ detail: 'refused', fieldErrors: [{ field: 'labels', message: 'too many' }] })
  })

  it('reads the Prometheus error envelope: the message and its errorType', async () => {
    vi.stubGlobal('fetch', respond(400, { status: 'error', errorType: 'bad_data', error: '1:5: parse error: unexpected "}"' }))
    const error = await api.promQueryRange({ query: 'up{}}', start: 0, end: 60_000, stepMs: 15_000 }).catch((caught) => caught)
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ status: 400, detail: '1:5: parse error: unexpected "}"', errorType: 'bad_data' })
  })

  it('asks query_range in Prometheus seconds, with the session cookie and no CSRF header', async () => {
    setCsrfToken('secret')
    const get = respond(200, { status: 'success', data: { resultType: 'matrix', result: [] } })
    vi.stubGlobal('fetch', get)
    await api.promQueryRange({ query: 'sum(rate(x[5m]))', start: 1_700_000_000_000, end: 1_700_003_600_500, stepMs: 15_000 })
    const [url, init] = get.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('/prometheus/api/v1/query_range?query=sum%28rate%28x%5B5m%5D%29%29&start=1700000000&end=1700003600.5&step=15')
    expect(init.credentials).toBe('same-origin')
    expect(sentHeaders(get)['X-CSRF-Token']).toBeUndefined()
  })
})
