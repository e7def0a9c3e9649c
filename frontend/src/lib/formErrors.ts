// A refused save, split for a form: every reason (for the summary above it) and those that belong
// to one field (shown next to that input).
import { ApiError } from '../api/client'
import { errorMessage } from './errors'

export type FieldMessages<F extends string> = Partial<Record<F, string>>

export interface ServerErrors<F extends string> {
  messages: string[]
  fields: FieldMessages<F>
}

/**
 * `fieldOf` names the form field of an API field path ("config.url"), or of a bare message: the
 * api's own checks answer with `detail` only, e.g. "window_seconds must be between 1 and 604800".
 */
export function serverErrors<F extends string>(
  caught: unknown,
  fieldOf: (path: string | null, message: string) => F | null,
): ServerErrors<F> {
  const fields: FieldMessages<F> = {}
  const place = (path: string | null, message: string) => {
    const field = fieldOf(path, message)
    if (field && !fields[field]) fields[field] = message
  }
  if (!(caught instanceof ApiError)) return { messages: [errorMessage(caught)], fields }
  if (!caught.fieldErrors.length) {
    place(null, caught.detail)
    return { messages: [errorMessage(caught)], fields }
  }
  const messages = caught.fieldErrors.map((item) => item.message)
  if (!messages.some((message) => caught.detail.includes(message))) messages.unshift(caught.detail)
  for (const item of caught.fieldErrors) place(item.field, item.message)
  return { messages, fields }
}
