import { ApiError } from '../api/client'

// Throttled (429) or a dependency down (503): the api says when to try again.
const RETRY_LATER = new Set([429, 503])

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    if (RETRY_LATER.has(error.status) && error.retryAfterSeconds) return `${error.detail} (try again in ${error.retryAfterSeconds} s)`
    return error.detail
  }
  return error instanceof Error ? error.message : String(error)
}
