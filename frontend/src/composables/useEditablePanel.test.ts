import { describe, expect, it, vi } from 'vitest'
import { ref } from 'vue'
import { ApiError } from '../api/client'
import { useEditablePanel } from './useEditablePanel'

function setUp() {
  const focused: string[] = []
  const reload = vi.fn(async () => {})
  const root = { querySelector: (selector: string) => ({ focus: () => focused.push(selector) }) }
  const panel = useEditablePanel({
    root: ref(root as unknown as HTMLElement),
    noun: 'Rule',
    reload,
    newButton: 'new',
    editButton: (id) => `edit ${id}`,
    heading: (id) => `heading ${id}`,
  })
  return { panel, focused, reload }
}

describe('useEditablePanel', () => {
  it('says whether a save created or changed the item, reloads and focuses its name', async () => {
    const { panel, focused, reload } = setUp()
    panel.open('new')
    await panel.saved({ id: 7, name: 'cpu' })
    panel.open(7)
    await panel.saved({ id: 7, name: 'cpu' })
    expect(panel.notice.value).toBe('Rule cpu saved.')
    expect(panel.editing.value).toBeNull()
    expect(reload).toHaveBeenCalledTimes(2)
    expect(focused).toEqual(['heading 7', 'heading 7'])
  })

  it('returns focus to the button that opened the form', async () => {
    const { panel, focused } = setUp()
    panel.open(3)
    await panel.closeForm()
    panel.open('new')
    await panel.closeForm()
    expect(focused).toEqual(['edit 3', 'new'])
  })

  it('reports a deletion and focuses New, or shows why it failed without reloading', async () => {
    const { panel, focused, reload } = setUp()
    await panel.runDelete({ name: 'cpu' }, async () => {})
    expect(panel.notice.value).toBe('Rule cpu deleted.')
    expect(focused).toEqual(['new'])
    panel.open('new')
    await panel.runDelete({ name: 'mem' }, async () => { throw new ApiError(409, 'in use') })
    expect(panel.actionError.value).toBe('in use')
    expect(panel.notice.value).toBe('')
    expect(reload).toHaveBeenCalledTimes(1)
    expect(focused).toEqual(['new'])
  })

  it('clears an earlier error when the next action succeeds', async () => {
    const { panel, reload } = setUp()
    await panel.run(async () => { throw new ApiError(500, 'boom') })
    expect(panel.actionError.value).toBe('boom')
    await panel.run(async () => {})
    expect(panel.actionError.value).toBeNull()
    expect(reload).toHaveBeenCalledTimes(1)
  })
})
