import {InvalidInputError, StateLockedError, UsageError} from '../errors.js'
import {UNKEYED, type StateHasher} from '../keys/keyed.js'
import {sameHash} from '../keys/hash.js'
import {checkStateKey} from './state-key.js'
import {makeLockOwner} from '../state/lock.js'
import {isPostgresSpec} from '../state/open.js'
import {redactPgUrl} from '../state/pg-errors.js'
import type {PgWorkspaceInfo} from '../state/pg-store.js'
import type {LockOwner, MessageRecord, StateData} from '../state/types.js'
import {applyEnvironment} from './environment.js'
import {withLockedStore, withStore} from './resources.js'

/**
 * The operations behind `mcsend state list|show|rm|forget|unlock`, on the StateStore interface (file or PostgreSQL).
 * Readers load without the lock; writers hold it from before they read until they have committed.
 */
export interface StateTarget {
  state?: string
  workspace?: string
  cwd: string
  env: NodeJS.ProcessEnv
  /** --env NAME: the state of that environment of the project file (core/environment.ts). */
  envName?: string
}

/** The target with the project file's environment applied (its state and workspace, unless --state/--workspace). */
async function resolved(given: StateTarget): Promise<StateTarget> {
  const target = await applyEnvironment({envName: given.envName, state: given.state, workspace: given.workspace, cwd: given.cwd, env: given.env})
  return {...given, env: target.env, state: target.state, workspace: target.workspace}
}

export const RECORD_FILTERS = ['pending', 'accepted', 'failed', 'queued', 'sent', 'notSent'] as const
export type RecordFilter = (typeof RECORD_FILTERS)[number]

export async function readState(target: StateTarget): Promise<{location: string; data: StateData}> {
  return withStore(await resolved(target), async (store) => ({location: store.location, data: await store.load()}))
}

/** Records of the given sends with the given status (record status, or delivery event), by send then messageKey. */
export function filterRecords(data: StateData, filter: {sends?: readonly string[]; status?: RecordFilter}): MessageRecord[] {
  const sends = filter.sends && filter.sends.length > 0 ? new Set(filter.sends) : undefined
  const out: MessageRecord[] = []
  for (const r of data.messages.values()) {
    if (sends && !sends.has(r.send)) continue
    if (filter.status !== undefined && !matchesStatus(r, filter.status)) continue
    out.push(r)
  }
  return out.sort(bySendThenKey)
}

function matchesStatus(r: MessageRecord, status: RecordFilter): boolean {
  if (status === 'pending' || status === 'accepted' || status === 'failed') return r.status === status
  return r.status === 'accepted' && r.delivery?.event === status
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function bySendThenKey(a: MessageRecord, b: MessageRecord): number {
  return compare(a.send, b.send) || compare(a.messageKey, b.messageKey)
}

export interface Selection {
  records: MessageRecord[]
  /** Requested keys the state does not hold. */
  missing: string[]
}

export function selectByKeys(data: StateData, keys: readonly string[]): Selection {
  const records: MessageRecord[] = []
  const missing: string[] = []
  for (const key of new Set(keys)) {
    const r = data.messages.get(key)
    if (r) records.push(r)
    else missing.push(key)
  }
  return {records, missing}
}

export function selectBySends(data: StateData, sends: readonly string[]): Selection {
  const records = filterRecords(data, {sends})
  const present = new Set(records.map((r) => r.send))
  return {records, missing: sends.filter((s) => !present.has(s))}
}

/** Every record derived from this contactKey (matched by its hash: the state never holds the key itself). */
export function selectByContact(data: StateData, contactKey: string, hasher: StateHasher = UNKEYED, location = 'the state'): Selection {
  checkStateKey(data, hasher, location)
  const hash = hasher.hashContactKey(contactKey)
  return {records: [...data.messages.values()].filter((r) => sameHash(r.contactHash, hash)).sort(bySendThenKey), missing: []}
}

export interface RemoveOptions {
  /** Lock owner operation, e.g. `state rm`. */
  operation: string
  select: (data: StateData) => Selection
  /** Asked (holding the lock) once the records are known; false cancels. Not called when nothing matches. */
  confirm: (selection: Selection, location: string) => Promise<boolean>
  /** What to say when nothing matches (an InvalidInputError, exit 3); undefined: succeed with nothing removed. */
  nothingMatches?: (selection: Selection, location: string) => InvalidInputError | undefined
  /** --lock-timeout (ms): how long to wait for a state another run holds. */
  lockTimeoutMs?: number
  note?: (message: string) => void
}

export interface RemoveResult {
  location: string
  removed: MessageRecord[]
  missing: string[]
  cancelled: boolean
}

/** Forgets records under the lock and commits: the snapshot is rewritten atomically without them. */
export async function removeRecords(target: StateTarget, options: RemoveOptions): Promise<RemoveResult> {
  return withLockedStore({...(await resolved(target)), lockTimeoutMs: options.lockTimeoutMs, note: options.note}, makeLockOwner(options.operation), async (store) => {
    const data = await store.load()
    const selection = options.select(data)
    const base = {location: store.location, missing: selection.missing}
    if (selection.records.length === 0) {
      const error = options.nothingMatches?.(selection, store.location)
      if (error) throw error
      return {...base, removed: [], cancelled: false}
    }
    if (!(await options.confirm(selection, store.location))) return {...base, removed: [], cancelled: true}
    await store.remove(selection.records.map((r) => r.messageKey))
    await store.commit()
    return {...base, removed: selection.records, cancelled: false}
  })
}

export interface UnlockResult {
  location: string
  /** Who held the lock (undefined: it was not locked). */
  holder?: LockOwner
  /** Whether the holder looked gone. */
  stale?: boolean
  removed: boolean
}

/** Removes a stale lock; a live one only with `force` (otherwise the store throws StateLockedError naming it). */
export async function unlockState(target: StateTarget, force: boolean): Promise<UnlockResult> {
  return withStore(await resolved(target), async (store) => {
    const info = await store.lockInfo()
    const owner = info ? await store.unlock(force) : undefined
    // Taking the lock folds what a run that did not finish left (a leftover journal) into the state file.
    try {
      const lock = await store.lock(makeLockOwner('state unlock'))
      await lock.release()
    } catch (error) {
      // Another run took the lock meanwhile: it folds them itself.
      if (!(error instanceof StateLockedError)) throw error
    }
    if (!info) return {location: store.location, removed: false}
    return {location: store.location, holder: owner ?? info.owner, stale: info.stale, removed: true}
  })
}

export interface WorkspaceList {
  /** The database, as a postgres:// URL without its password. */
  state: string
  workspaces: PgWorkspaceInfo[]
}

/** `mcsend state workspaces`: the workspaces of a PostgreSQL state (read-only; a state file has none). */
export async function listWorkspaces(target: Pick<StateTarget, 'state' | 'env'>): Promise<WorkspaceList> {
  const spec = target.state ?? (target.env.MCSEND_STATE || undefined)
  if (spec === undefined || !isPostgresSpec(spec)) {
    throw new UsageError('state workspaces lists the workspaces of a PostgreSQL state, and this state is a file', 'pass --state postgres://USER@HOST/DATABASE, or set MCSEND_STATE to that URL')
  }
  const {PgStateStore} = await import('../state/pg-store.js')
  const store = await PgStateStore.connect({url: spec, workspace: 'default'})
  try {
    return {state: redactPgUrl(spec), workspaces: await store.listWorkspaces()}
  } finally {
    await store.close()
  }
}
