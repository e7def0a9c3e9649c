import { ApiError } from '../api/client'

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 429 && error.retryAfterSeconds) return `${error.detail} (try again in ${error.retryAfterSeconds} s)`
    return error.detail
  }
  return error instanceof Error ? error.message : String(error)
}
