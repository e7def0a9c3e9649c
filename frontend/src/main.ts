import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { router } from './router'
import { onUnauthorized } from './api/client'
import { useSessionStore } from './stores/session'
import { useThemeStore } from './stores/theme'
import { installDrawStats } from './lib/drawStats'
import './style.css'

installDrawStats()
const app = createApp(App).use(createPinia())
useThemeStore()
onUnauthorized(() => {
  useSessionStore().forget()
  if (router.currentRoute.value.name !== 'login') {
    router.push({ name: 'login', query: { next: router.currentRoute.value.fullPath } })
  }
})
app.use(router).mount('#app')
