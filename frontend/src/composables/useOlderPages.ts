// "Load older" for a newest-first list whose first page another loader fetched: each further
// page is asked for before the smallest id shown and appended below the rows already there.
import { computed, ref, shallowRef, watch } from 'vue'
import { errorMessage } from '../lib/errors'

export interface HasId {
  id: number
}

/** `shown` followed by the rows of `page` it does not hold yet, in the page's order. */
export function appendOlder<T extends HasId>(shown: readonly T[], page: readonly T[]): T[] {
  const ids = new Set(shown.map((item) => item.id))
  return [...shown, ...page.filter((item) => !ids.has(item.id))]
}

export function oldestId(items: readonly HasId[]): number | null {
  return items.reduce<number | null>((oldest, item) => (oldest === null || item.id < oldest ? item.id : oldest), null)
}

export function useOlderPages<T extends HasId>(
  firstPage: () => readonly T[],
  loadBefore: (beforeId: number, limit: number) => Promise<T[]>,
  pageSize: number,
) {
  const older = shallowRef<T[]>([])
  const loading = ref(false)
  const error = ref<string | null>(null)
  const shortPageSeen = ref(false)
  // A reloaded first page makes any page still on its way stale.
  let generation = 0

  const items = computed(() => appendOlder(firstPage(), older.value))
  const exhausted = computed(() => shortPageSeen.value || firstPage().length < pageSize)

  function reset() {
    generation += 1
    older.value = []
    loading.value = false
    error.value = null
    shortPageSeen.value = false
  }
  watch(firstPage, reset)

  async function loadOlder() {
    const beforeId = oldestId(items.value)
    if (loading.value || exhausted.value || beforeId === null) return
    const started = generation
    loading.value = true
    error.value = null
    try {
      const page = await loadBefore(beforeId, pageSize)
      if (started !== generation) return
      older.value = appendOlder(older.value, page)
      shortPageSeen.value = page.length < pageSize
    } catch (caught) {
      if (started === generation) error.value = errorMessage(caught)
    } finally {
      if (started === generation) loading.value = false
    }
  }

  return { items, loading, error, exhausted, loadOlder }
}
