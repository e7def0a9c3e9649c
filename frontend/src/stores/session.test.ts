import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { normalizeMe, useSessionStore } from './session'

const ME = {
  email: 'admin@example.com',
  tenant: 'demo',
  role: 'admin',
  tenants: [{ name: 'demo', display_name: 'Demo', role: 'admin' }, { name: 'other', display_name: 'Other', role: 'viewer' }],
  csrf_token: 'token-1',
}

function reply(status: number, body?: unknown) {
  return new Response(body === undefined ? null : JSON.stringify(body), { status })
}

describe('session store', () => {
  let fetchMock: ReturnType<typeof vi.fn>

  beforeEach(() => {
    setActivePinia(createPinia())
    fetchMock = vi.fn()
    vi.stubGlobal('fetch', fetchMock)
  })
  afterEach(() => vi.unstubAllGlobals())

  it('logs in, knows the role and sends the CSRF token from the login answer', async () => {
    fetchMock.mockResolvedValueOnce(reply(200, ME)).mockResolvedValueOnce(reply(204))
    const session = useSessionStore()
    await session.login('admin@example.com', 'pw')
    expect(session.isAdmin).toBe(true)
    expect(session.tenant).toBe('demo')
    await session.logout()
    const [url, init] = fetchMock.mock.calls[1] as [string, RequestInit]
    expect(url).toBe('/api/v1/auth/logout')
    expect((init.headers as Record<string, string>)['X-CSRF-Token']).toBe('token-1')
    expect(session.me).toBeNull()
  })

  it('treats a 401 from /me as logged out, and asks only once', async () => {
    fetchMock.mockResolvedValue(reply(401, { detail: 'missing or invalid API token' }))
    const session = useSessionStore()
    expect(await session.ensureLoaded()).toBeNull()
    expect(await session.ensureLoaded()).toBeNull()
    expect(fetchMock).toHaveBeenCalledOnce()
  })

  it('switches tenant and takes the new role', async () => {
    fetchMock.mockResolvedValueOnce(reply(200, ME)).mockResolvedValueOnce(reply(200, { ...ME, tenant: 'other', role: 'viewer', csrf_token: 'token-2' }))
    const session = useSessionStore()
    await session.login('admin@example.com', 'pw')
    await session.switchTenant('other')
    expect(session.tenant).toBe('other')
    expect(session.isAdmin).toBe(false)
    const [, init] = fetchMock.mock.calls[1] as [string, RequestInit]
    expect(JSON.parse(init.body as string)).toEqual({ tenant: 'other' })
  })

  it('fills in an older /me answer', () => {
    expect(normalizeMe({ tenant: 'demo', role: 'viewer' })).toEqual({
      email: '', tenant: 'demo', role: 'viewer', tenants: [{ name: 'demo', display_name: 'demo', role: 'viewer' }], csrf_token: '',
    })
  })
})
