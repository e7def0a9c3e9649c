// Who is logged in, in which tenant, with which role; the CSRF token for mutating requests.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api, ApiError, setCsrfToken } from '../api/client'
import type { Me, TenantMembership } from '../api/types'

/** Fills in what an older api's /me leaves out (it used to answer only tenant and role). */
export function normalizeMe(body: Partial<Me> & { tenant: string; role: string }): Me {
  const role = body.role === 'admin' ? 'admin' : 'viewer'
  const tenants: TenantMembership[] = body.tenants?.length
    ? body.tenants
    : [{ name: body.tenant, display_name: body.tenant, role }]
  return { email: body.email ?? '', tenant: body.tenant, role, tenants, csrf_token: body.csrf_token ?? '' }
}

export const useSessionStore = defineStore('session', () => {
  const me = ref<Me | null>(null)
  const checked = ref(false)

  const isAdmin = computed(() => me.value?.role === 'admin')
  const tenant = computed(() => me.value?.tenant ?? null)

  function accept(body: Me) {
    me.value = normalizeMe(body)
    setCsrfToken(me.value.csrf_token || null)
    checked.value = true
    return me.value
  }

  function forget() {
    me.value = null
    setCsrfToken(null)
    checked.value = true
  }

  /** Loads the session once; a 401 just means "not logged in". */
  async function ensureLoaded(): Promise<Me | null> {
    if (checked.value) return me.value
    try {
      return accept(await api.me())
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        forget()
        return null
      }
      throw error
    }
  }

  async function login(email: string, password: string) {
    return accept(await api.login(email, password))
  }

  async function logout() {
    try {
      await api.logout()
    } finally {
      forget()
    }
  }

  async function switchTenant(name: string) {
    return accept(await api.switchTenant(name))
  }

  return { me, checked, isAdmin, tenant, accept, forget, ensureLoaded, login, logout, switchTenant }
})
