import {InvalidInputError, StateError, UsageError} from '../errors.js'
import {plural} from '../text/format.js'
import {makeLockOwner} from '../state/lock.js'
import {DEFAULT_STATE_PATH, isPostgresSpec} from '../state/open.js'
import type {LockOwner, StateData, StateStore} from '../state/types.js'
import {lockWait, withLock, withStore} from './resources.js'

export interface StateSummary {
  location: string
  lineage: string
  serial: number
  messages: number
  sends: number
}

export interface CopyStateResult {
  from: StateSummary
  /** The destination after the copy. */
  to: StateSummary
  /** The destination before the copy. */
  replaced: StateSummary
  /** Which refusals --force overrode (empty without --force or when nothing was refused). */
  overridden: string[]
}

function summary(location: string, data: StateData): StateSummary {
  return {location, lineage: data.lineage, serial: data.serial, messages: data.messages.size, sends: Object.keys(data.sends).length}
}

function isEmpty(state: StateSummary): boolean {
  return state.lineage === '' && state.messages === 0 && state.sends === 0
}

/** Why copying `source` over `dest` would lose something, or [] when it is safe. */
export function copyConflicts(source: StateSummary, dest: StateSummary): string[] {
  const conflicts: string[] = []
  if (isEmpty(source)) {
    conflicts.push(`the source ${source.location} is empty: copying it would erase ${dest.location}`)
    return conflicts
  }
  if (isEmpty(dest)) return conflicts
  if (dest.lineage !== source.lineage) {
    conflicts.push(
      `${dest.location} holds a different state (lineage ${dest.lineage || '(none)'}, ${dest.messages} records) than ${source.location} (lineage ${source.lineage || '(none)'})`,
    )
  } else if (dest.serial > source.serial) {
    conflicts.push(`${dest.location} is newer (serial ${dest.serial}) than ${source.location} (serial ${source.serial})`)
  }
  return conflicts
}

/**
 * Copies the whole state from one store to another, both locked for the duration. Refuses (StateError) to
 * overwrite a destination of another lineage (unless empty) or with a newer serial, unless `force`.
 */
export async function copyState(from: StateStore, to: StateStore, options: {owner: LockOwner; force: boolean; lockTimeoutMs?: number; note?: (message: string) => void}): Promise<CopyStateResult> {
  if (from.location === to.location) throw new UsageError(`the source and the destination are the same state (${from.location})`)
  const wait = lockWait(options)
  return withLock(from, options.owner, () => withLock(to, options.owner, () => copyLocked(from, to, options.force), wait), wait)
}

async function copyLocked(from: StateStore, to: StateStore, force: boolean): Promise<CopyStateResult> {
  const source = await from.load()
  const dest = await to.load()
  const sourceSummary = summary(from.location, source)
  const replaced = summary(to.location, dest)
  const conflicts = copyConflicts(sourceSummary, replaced)
  if (conflicts.length > 0 && !force) {
    throw new StateError(`refusing to overwrite ${to.location}: ${conflicts.join('; ')}`, 'check that --from, --to and --workspace point where you mean; add --force to overwrite anyway')
  }
  // Both stores take a whole state as it is, lineage and serial included, so saved plans still apply to it.
  await to.importState(source)
  return {from: sourceSummary, to: {...sourceSummary, location: to.location}, replaced, overridden: force ? conflicts : []}
}

export type TransferDirection = 'push' | 'pull'

export interface TransferOptions {
  direction: TransferDirection
  from?: string
  to?: string
  workspace?: string
  force: boolean
  cwd: string
  env: NodeJS.ProcessEnv
  /** --lock-timeout (ms). */
  lockTimeoutMs?: number
  note?: (message: string) => void
}

export interface TransferResult extends CopyStateResult {
  direction: TransferDirection
  workspace: string
}

/** The two ends of `state push` (file -> PostgreSQL) or `state pull` (PostgreSQL -> file), from flags and environment. */
export function resolveTransferEnds(options: Pick<TransferOptions, 'direction' | 'from' | 'to' | 'env'>): {file: string; url: string} {
  const envState = options.env.MCSEND_STATE || undefined
  const envUrl = envState !== undefined && isPostgresSpec(envState) ? envState : undefined
  const envFile = envState !== undefined && !isPostgresSpec(envState) ? envState : undefined
  const push = options.direction === 'push'
  const fileFlag = push ? '--from' : '--to'
  const urlFlag = push ? '--to' : '--from'
  const file = (push ? options.from : options.to) ?? envFile ?? DEFAULT_STATE_PATH
  const url = (push ? options.to : options.from) ?? envUrl
  if (url === undefined) {
    throw new UsageError(`state ${options.direction} needs the PostgreSQL state: give ${urlFlag} postgres://USER@HOST/DATABASE`, 'or set MCSEND_STATE to the postgres:// URL (which also keeps the password out of your shell history)')
  }
  if (!isPostgresSpec(url)) {
    throw new InvalidInputError(
      `${urlFlag} must be a postgres:// URL`,
      [],
      push ? 'to copy from PostgreSQL into a file, use `mcsend state pull`' : 'to copy a file into PostgreSQL, use `mcsend state push`',
    )
  }
  if (isPostgresSpec(file)) {
    throw new InvalidInputError(`${fileFlag} must be a state file path, not a URL`, [], `state ${options.direction} copies between a local state file and PostgreSQL`)
  }
  return {file, url}
}

/** `mcsend state push` / `state pull`: opens both ends, copies (holding both locks as `state push`/`state pull`), closes. */
export async function transferState(options: TransferOptions): Promise<TransferResult> {
  const {file, url} = resolveTransferEnds(options)
  const workspace = options.workspace ?? (options.env.MCSEND_WORKSPACE || undefined) ?? 'default'
  const owner = makeLockOwner(`state ${options.direction}`, undefined, options.env)
  return withStore({state: file, cwd: options.cwd, env: options.env}, (fileStore) =>
    withStore({state: url, cwd: options.cwd, env: options.env, workspace}, async (pgStore) => {
      const [from, to] = options.direction === 'push' ? [fileStore, pgStore] : [pgStore, fileStore]
      const result = await copyState(from, to, {owner, force: options.force, lockTimeoutMs: options.lockTimeoutMs, note: options.note})
      return {...result, direction: options.direction, workspace}
    }),
  )
}

/** The --json document of `state push` / `state pull`. */
export interface TransferDocument {
  direction: TransferDirection
  workspace: string
  from: StateSummary
  to: StateSummary
  replaced: StateSummary
  copied: {messages: number; sends: number}
  overridden: string[]
}

export function toTransferDocument(result: TransferResult): TransferDocument {
  return {
    direction: result.direction,
    workspace: result.workspace,
    from: result.from,
    to: result.to,
    replaced: result.replaced,
    copied: {messages: result.from.messages, sends: result.from.sends},
    overridden: result.overridden,
  }
}

/** Human lines for stdout: what was copied, where from and to, and the resulting lineage and serial. */
export function renderTransferText(result: TransferResult): string {
  const verb = result.direction === 'push' ? 'Pushed' : 'Pulled'
  const lines = [
    `${verb} ${plural(result.from.messages, 'message record')} and ${plural(result.from.sends, 'send snapshot')}`,
    `  from ${result.from.location}  lineage ${result.from.lineage || '(none)'}, serial ${result.from.serial}`,
    `  to   ${result.to.location}  lineage ${result.to.lineage || '(none)'}, serial ${result.to.serial}`,
    `  replaced ${plural(result.replaced.messages, 'record')} (lineage ${result.replaced.lineage || '(none)'}, serial ${result.replaced.serial})`,
  ]
  for (const overridden of result.overridden) lines.push(`  forced: ${overridden}`)
  return `${lines.join('\n')}\n`
}
