// What the rules and channels panels share around their list: which item's form is open, the notice
// or error an admin action left, and where focus goes afterwards, so a keyboard user keeps their
// place: the saved item's name after Save, the button that opened the form after Cancel, New after
// a delete (the item's own buttons are gone).
import { nextTick, ref, type Ref } from 'vue'
import { useAction } from './useAction'

export interface EditablePanelOptions {
  /** The panel's element: focus targets are looked up inside it. */
  root: Ref<HTMLElement | null>
  /** Starts the notices: "Rule", "Channel". */
  noun: string
  reload: () => Promise<void>
  newButton: string
  editButton: (id: number) => string
  heading: (id: number) => string
}

export function useEditablePanel(options: EditablePanelOptions) {
  const editing = ref<number | 'new' | null>(null)
  const notice = ref('')
  const { actionError, run: runAction } = useAction(options.reload)

  async function focusIn(selector: string) {
    await nextTick()
    options.root.value?.querySelector<HTMLElement>(selector)?.focus()
  }

  function open(target: number | 'new') {
    editing.value = target
    notice.value = ''
    actionError.value = null
  }

  async function closeForm() {
    const was = editing.value
    editing.value = null
    await focusIn(was === 'new' || was === null ? options.newButton : options.editButton(was))
  }

  async function saved(item: { id: number; name: string }) {
    const created = editing.value === 'new'
    editing.value = null
    notice.value = `${options.noun} ${item.name} ${created ? 'created' : 'saved'}.`
    await options.reload()
    await focusIn(options.heading(item.id))
  }

  /** An admin action on a listed item: success reloads the list (then `after`), a failure is shown above it. */
  async function run(action: () => Promise<unknown>, after?: () => Promise<void>) {
    await runAction(action, after)
  }

  function runDelete(item: { name: string }, action: () => Promise<unknown>) {
    const deleted = async () => {
      await action()
      notice.value = `${options.noun} ${item.name} deleted.`
    }
    return run(deleted, () => focusIn(options.newButton))
  }

  return { editing, notice, actionError, open, closeForm, saved, run, runDelete }
}
