// The submit flow the alert forms share. A form the local check refuses is never sent; a save the
// server refuses lists its reasons above the form and marks the inputs they belong to. Either way
// focus moves to the first marked input, else to the summary (`data-form-summary`).
import { nextTick, ref, type Ref } from 'vue'
import { serverErrors, type FieldMessages } from '../lib/formErrors'

/** A local check's answer: the marked fields, or the body to send (`formToRule`, `formToChannel`). */
type Checked<F extends string> = { errors: FieldMessages<F> | null }

export interface FormSubmitOptions<F extends string, C extends Checked<F>, S> {
  root: Ref<HTMLElement | null>
  check: () => C
  save: (checked: Extract<C, { errors: null }>) => Promise<S>
  fieldOf: (path: string | null, message: string) => F | null
  saved: (result: S) => void
}

export function useFormSubmit<F extends string, C extends Checked<F>, S>(options: FormSubmitOptions<F, C, S>) {
  const errors = ref({}) as Ref<FieldMessages<F>>
  const messages = ref<string[]>([])
  const busy = ref(false)

  async function focusFirstProblem() {
    await nextTick()
    const root = options.root.value
    const problem = root?.querySelector<HTMLElement>('[aria-invalid="true"]') ?? root?.querySelector<HTMLElement>('[data-form-summary]')
    problem?.focus()
  }

  async function submit() {
    const checked = options.check()
    messages.value = []
    if (checked.errors) {
      errors.value = checked.errors
      return focusFirstProblem()
    }
    errors.value = {}
    busy.value = true
    try {
      options.saved(await options.save(checked as Extract<C, { errors: null }>))
    } catch (caught) {
      const reasons = serverErrors(caught, options.fieldOf)
      messages.value = reasons.messages
      errors.value = reasons.fields
      await focusFirstProblem()
    } finally {
      busy.value = false
    }
  }

  return { errors, messages, busy, submit }
}
