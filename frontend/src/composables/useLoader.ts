// A value loaded from the api, with the loading and error states views show.
import { onMounted, ref, shallowRef } from 'vue'
import { errorMessage } from '../lib/errors'

export function useLoader<T>(load: () => Promise<T>, initial: T) {
  const data = shallowRef<T>(initial)
  const loading = ref(true)
  const error = ref<string | null>(null)

  async function reload() {
    loading.value = true
    error.value = null
    try {
      data.value = await load()
    } catch (caught) {
      error.value = errorMessage(caught)
    } finally {
      loading.value = false
    }
  }

  onMounted(reload)
  return { data, loading, error, reload }
}
