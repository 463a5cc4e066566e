import type {Pacer} from '../status/pacer.js'
import {openStateStore} from '../state/open.js'
import type {LockOwner, StateLock, StateStore} from '../state/types.js'
import {openConnection, SANDBOX_STATE, type ConnectOptions, type Connection} from './connection.js'
import {lockWithin, waitingNote, type LockWaitOptions} from './lock-wait.js'

/**
 * The one way core/ opens, locks, connects and releases: each helper runs `body` with the resource and always
 * releases it afterwards, innermost first when nested. If the body fails, that failure is what the caller sees (a
 * release that also fails then is dropped, not allowed to hide it); if only the release fails, that failure is thrown.
 */
async function using<R, T>(resource: R, release: (resource: R) => Promise<void>, body: (resource: R) => Promise<T>): Promise<T> {
  let result: T
  try {
    result = await body(resource)
  } catch (error) {
    await release(resource).catch(() => undefined)
    throw error
  }
  await release(resource)
  return result
}

/** Where the state is: `--state`, else the sandbox's own state with `--sandbox`, else undefined (MCSEND_STATE or the default file). */
export function stateSpec(options: {state?: string; sandbox?: boolean}): string | undefined {
  return options.state ?? (options.sandbox ? SANDBOX_STATE : undefined)
}

export interface StoreTarget {
  /** --state (a file path or a postgres:// URL). */
  state?: string
  /** With --sandbox and no --state: the sandbox's own state. */
  sandbox?: boolean
  /** PostgreSQL only. */
  workspace?: string
  cwd: string
  env: NodeJS.ProcessEnv
  /** --lock-timeout (ms): how long withLockedStore waits for a lock another run holds (default 0: refuse at once). */
  lockTimeoutMs?: number
  /** Told once when it starts waiting for the lock. */
  note?: (message: string) => void
}

/** Opens the state store the options name, runs `body`, closes the store. */
export async function withStore<T>(target: StoreTarget, body: (store: StateStore) => Promise<T>): Promise<T> {
  const store = await openStateStore({spec: stateSpec(target), cwd: target.cwd, env: target.env, workspace: target.workspace})
  return using(store, (s) => s.close(), body)
}

/**
 * Takes the store's lock (or throws StateLockedError naming the holder; with `wait.timeoutMs`, after retrying that
 * long: --lock-timeout), runs `body`, releases the lock.
 */
export async function withLock<T>(store: StateStore, owner: LockOwner, body: (lock: StateLock) => Promise<T>, wait: LockWaitOptions = {}): Promise<T> {
  const lock = await lockWithin(store, owner, wait)
  return using(lock, (l) => l.release(), body)
}

/** withStore and withLock together: the lock is held from before the body reads the state until it returns. */
export function withLockedStore<T>(target: StoreTarget, owner: LockOwner, body: (store: StateStore) => Promise<T>): Promise<T> {
  return withStore(target, (store) => withLock(store, owner, () => body(store), lockWait(target)))
}

/** The --lock-timeout of a target as lock-wait options, noting once that it waits. */
export function lockWait(target: Pick<StoreTarget, 'lockTimeoutMs' | 'note'>): LockWaitOptions {
  return {timeoutMs: target.lockTimeoutMs, onWait: (error) => target.note?.(waitingNote(error, target.lockTimeoutMs))}
}

/** Connects to Marketing Cloud (or starts the sandbox), runs `body`, closes the client and stops the sandbox. */
export async function withConnection<T>(options: ConnectOptions, pacer: Pacer | undefined, body: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = await openConnection(options, pacer)
  return using(connection, (c) => c.close(), body)
}
