// An admin action on a listed item (create, revoke, expire, delete): while it runs `busy` is set;
// success reloads the list, a failure is kept in `actionError` for the view to show above it.
import { ref } from 'vue'
import { errorMessage } from '../lib/errors'

export function useAction(reload: () => Promise<void>) {
  const busy = ref(false)
  const actionError = ref<string | null>(null)

  /** True when the action and the reload succeeded; `after` runs after the reload. */
  async function run(action: () => Promise<unknown>, after?: () => Promise<void> | void): Promise<boolean> {
    busy.value = true
    actionError.value = null
    try {
      await action()
      await reload()
      await after?.()
      return true
    } catch (caught) {
      actionError.value = errorMessage(caught)
      return false
    } finally {
      busy.value = false
    }
  }

  return { busy, actionError, run }
}
