// Dark or light: the user's last choice, else the system's preference.
import { defineStore } from 'pinia'
import { ref, watch } from 'vue'

export type Theme = 'light' | 'dark'
const STORAGE_KEY = 'microdash-theme'

export function initialTheme(stored: string | null, prefersDark: boolean): Theme {
  if (stored === 'light' || stored === 'dark') return stored
  return prefersDark ? 'dark' : 'light'
}

export const useThemeStore = defineStore('theme', () => {
  const stored = typeof localStorage !== 'undefined' ? localStorage.getItem(STORAGE_KEY) : null
  const prefersDark = typeof matchMedia !== 'undefined' && matchMedia('(prefers-color-scheme: dark)').matches
  const theme = ref<Theme>(initialTheme(stored, prefersDark))

  function apply(value: Theme) {
    if (typeof document !== 'undefined') document.documentElement.classList.toggle('dark', value === 'dark')
  }

  function toggle() {
    theme.value = theme.value === 'dark' ? 'light' : 'dark'
    if (typeof localStorage !== 'undefined') localStorage.setItem(STORAGE_KEY, theme.value)
  }

  apply(theme.value)
  watch(theme, apply)
  return { theme, toggle }
})
