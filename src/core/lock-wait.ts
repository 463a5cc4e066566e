import {StateLockedError} from '../errors.js'
import type {LockOwner, StateLock, StateStore} from '../state/types.js'
import {formatDuration} from '../text/duration.js'

export interface LockWaitOptions {
  /** How long to keep trying while another run holds the lock (--lock-timeout); 0 or undefined: one try. */
  timeoutMs?: number
  /** ms since epoch; default Date.now. */
  now?: () => number
  /** Resolves after `ms` (tests pass their own); default a timer. */
  sleep?: (ms: number) => Promise<void>
  /** Told once, when the first try finds the state locked and there is time to wait. */
  onWait?: (error: StateLockedError) => void
}

/** First retry after this long, then half as long again each time, up to the cap. */
const FIRST_RETRY_MS = 100
const MAX_RETRY_MS = 2000

/**
 * Takes the state lock like `store.lock(owner)`, but while another run holds it keeps trying until `timeoutMs` has
 * passed (terraform's -lock-timeout): a CI job queued behind another waits instead of failing. Any other error,
 * and the refusal after the timeout (exit 5, naming the holder and how long it waited), goes to the caller.
 */
export async function lockWithin(store: Pick<StateStore, 'lock'>, owner: LockOwner, options: LockWaitOptions = {}): Promise<StateLock> {
  const timeoutMs = Math.max(0, options.timeoutMs ?? 0)
  const now = options.now ?? Date.now
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)))
  const start = now()
  let delay = FIRST_RETRY_MS
  for (let attempt = 0; ; attempt++) {
    try {
      return await store.lock(owner)
    } catch (error) {
      if (!(error instanceof StateLockedError)) throw error
      const left = start + timeoutMs - now()
      if (left <= 0) {
        if (timeoutMs === 0) throw error
        throw new StateLockedError(`${error.message} (still locked after waiting ${formatDuration(timeoutMs / 1000)})`, error.hint ?? 'try again later, or raise --lock-timeout', error.details)
      }
      if (attempt === 0) options.onWait?.(error)
      await sleep(Math.min(delay, left))
      delay = Math.min(MAX_RETRY_MS, Math.round(delay * 1.5))
    }
  }
}

/** The note printed once while waiting: who holds the state, and for how long we wait. */
export function waitingNote(error: StateLockedError, timeoutMs: number | undefined): string {
  return `${error.message}; waiting up to ${formatDuration((timeoutMs ?? 0) / 1000)} for it (--lock-timeout)`
}
