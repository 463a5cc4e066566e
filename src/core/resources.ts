import type {Pacer} from '../status/pacer.js'
import {openStateStore} from '../state/open.js'
import type {LockOwner, StateLock, StateStore} from '../state/types.js'
import {openConnection, SANDBOX_STATE, type ConnectOptions, type Connection} from './connection.js'

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
}

/** Opens the state store the options name, runs `body`, closes the store. */
export async function withStore<T>(target: StoreTarget, body: (store: StateStore) => Promise<T>): Promise<T> {
  const store = await openStateStore({spec: stateSpec(target), cwd: target.cwd, env: target.env, workspace: target.workspace})
  return using(store, (s) => s.close(), body)
}

/** Takes the store's lock (or throws StateLockedError naming the holder), runs `body`, releases the lock. */
export async function withLock<T>(store: StateStore, owner: LockOwner, body: (lock: StateLock) => Promise<T>): Promise<T> {
  const lock = await store.lock(owner)
  return using(lock, (l) => l.release(), body)
}

/** withStore and withLock together: the lock is held from before the body reads the state until it returns. */
export function withLockedStore<T>(target: StoreTarget, owner: LockOwner, body: (store: StateStore) => Promise<T>): Promise<T> {
  return withStore(target, (store) => withLock(store, owner, () => body(store)))
}

/** Connects to Marketing Cloud (or starts the sandbox), runs `body`, closes the client and stops the sandbox. */
export async function withConnection<T>(options: ConnectOptions, pacer: Pacer | undefined, body: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = await openConnection(options, pacer)
  return using(connection, (c) => c.close(), body)
}
