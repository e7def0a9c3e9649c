import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { useSessionStore } from './stores/session'
import LoginView from './views/LoginView.vue'
import OverviewView from './views/OverviewView.vue'
// Explore is eager: deep links to a chart are what must draw fastest.
import ExploreView from './views/ExploreView.vue'

const routes: RouteRecordRaw[] = [
  { path: '/login', name: 'login', component: LoginView, meta: { public: true } },
  { path: '/', name: 'overview', component: OverviewView },
  { path: '/explore', name: 'explore', component: ExploreView },
  { path: '/latency', name: 'latency', component: () => import('./views/LatencyView.vue') },
  { path: '/alerts', name: 'alerts', component: () => import('./views/AlertsView.vue') },
  { path: '/dead-letters', name: 'dead-letters', component: () => import('./views/DeadLettersView.vue') },
  { path: '/tokens', name: 'tokens', component: () => import('./views/TokensView.vue'), meta: { admin: true } },
  { path: '/audit', name: 'audit', component: () => import('./views/AuditView.vue'), meta: { admin: true } },
  { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('./views/NotFoundView.vue') },
]

export const router = createRouter({ history: createWebHistory(), routes })

router.beforeEach(async (to) => {
  const session = useSessionStore()
  let me = null
  try {
    me = await session.ensureLoaded()
  } catch {
    // the api is unreachable: the login page says so when the user tries
  }
  if (to.meta.public) return me && to.name === 'login' ? { path: '/' } : true
  if (!me) return { name: 'login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} }
  if (to.meta.admin && me.role !== 'admin') return { path: '/' }
  return true
})
