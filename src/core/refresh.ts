import {plural} from '../text/format.js'
import type {ClientOptions} from '../sfmc/client.js'
import {makeLockOwner} from '../state/lock.js'
import type {MessageRecord, StateData, StateStore} from '../state/types.js'
import {requireConnection} from './connection.js'
import {applyEnvironment} from './environment.js'
import {withConnection, withLockedStore} from './resources.js'
import {assertTarget} from './target.js'
import {beyondReach, settlePending} from '../status/delivery.js'
import {DEFAULT_STATUS_RATE, Pacer} from '../status/pacer.js'
import {pollStatuses} from '../status/poll.js'

/**
 * `plan --refresh` and `apply --refresh`: before planning, ask the status endpoint about every `pending` key (left by
 * a crash) so the plan knows for certain whether Marketing Cloud accepted it. Found (queued, sent or notSent):
 * `accepted`, with the delivery event, and not re-sent. Not found: `failed` with a message saying it never arrived,
 * so the plan retries it (safe: it was never accepted). Pending keys older than the endpoint's 3-day reach are left
 * pending (a 404 there proves nothing).
 */
export interface RefreshOptions {
  sandbox?: boolean
  env: NodeJS.ProcessEnv
  cwd: string
  /** Only pending keys of these sends (default: every pending key in the state). */
  sends?: readonly string[]
  rate?: number
  clock?: () => Date
  signal?: AbortSignal
  clientOptions?: ClientOptions
  note?: (message: string) => void
}

export interface RefreshResult {
  /** Pending keys asked about. */
  asked: number
  /** Marketing Cloud had them: now accepted (not re-sent). */
  accepted: number
  /** Marketing Cloud did not know them: now failed, and re-sent by the next apply. */
  notFound: number
  /** Older than the status endpoint's reach: still pending. */
  tooOld: number
  /** Not asked because the run was interrupted or stopped on an error. */
  unasked: number
}

/**
 * Settles the state's pending keys and commits them. The caller holds the lock on `store`; `state` is what it loaded,
 * and is updated in place (so a plan built from it afterwards sees the settled records and the new serial).
 */
export async function refreshPending(store: StateStore, state: StateData, options: RefreshOptions): Promise<RefreshResult> {
  const clock = options.clock ?? (() => new Date())
  const now = clock()
  const only = options.sends && options.sends.length > 0 ? new Set(options.sends) : undefined
  const pending: MessageRecord[] = []
  let tooOld = 0
  for (const record of state.messages.values()) {
    if (record.status !== 'pending' || (only && !only.has(record.send))) continue
    if (beyondReach(record, now)) tooOld++
    else pending.push(record)
  }
  const result: RefreshResult = {asked: 0, accepted: 0, notFound: 0, tooOld, unasked: 0}
  if (tooOld > 0) {
    options.note?.(`refresh: ${plural(tooOld, 'pending key')} ${tooOld === 1 ? 'is' : 'are'} older than the 3 days the status endpoint can see; left pending`)
  }
  if (pending.length === 0) return result

  const pacer = new Pacer(options.rate ?? DEFAULT_STATUS_RATE)
  const settled: MessageRecord[] = []
  await withConnection(options, pacer, async ({client, target}) => {
    // Another business unit would not know these keys, and they would be recorded "never accepted": refuse it.
    assertTarget(state, store.location, await target())
    const poll = await pollStatuses(pending, client, {
      pacer,
      signal: options.signal,
      onAnswer: ({record, result: answer}) => {
        const next = settlePending(record, answer, clock())
        if (next === undefined) return
        settled.push(next)
        if (next.status === 'accepted') result.accepted++
        else result.notFound++
      },
    })
    result.asked = poll.answered
    result.unasked = pending.length - poll.answered
    if (settled.length > 0) {
      await store.append(settled)
      // Committed at once (the caller holds the lock), so the settled keys survive even if nothing is sent next;
      // the caller's `state` is refreshed in place, whatever the backend returns from load().
      await store.commit()
      const fresh = await store.load()
      if (fresh !== state) Object.assign(state, fresh)
      for (const record of settled) state.messages.set(record.messageKey, record)
    }
    if (poll.error) throw poll.error
  })
  options.note?.(
    `refresh: asked about ${plural(result.asked, 'pending key')}: ${result.accepted} accepted by Marketing Cloud (not re-sent), ${result.notFound} never arrived (to send again)` +
      (result.unasked > 0 ? `, ${result.unasked} not asked (still pending)` : ''),
  )
  return result
}

export interface RefreshStateOptions extends RefreshOptions {
  state?: string
  workspace?: string
  /** --env NAME: an environment of the project file (core/environment.ts). */
  envName?: string
  /** --lock-timeout (ms). */
  lockTimeoutMs?: number
}

/**
 * `plan --refresh`: plan itself writes nothing, but settling pending keys is worth keeping, so this takes the state
 * lock briefly (refused with exit 5 while an apply runs), settles, commits and releases it before planning.
 */
export async function refreshStatePending(given: RefreshStateOptions): Promise<RefreshResult> {
  const target = await applyEnvironment({envName: given.envName, state: given.state, workspace: given.workspace, cwd: given.cwd, env: given.env, sandbox: given.sandbox, needsCredentials: !given.sandbox})
  const options: RefreshStateOptions = {...given, env: target.env, state: target.state, workspace: target.workspace}
  requireConnection(options)
  const owner = makeLockOwner('plan --refresh', (options.clock ?? (() => new Date()))())
  // refreshPending commits what it settled, before it rethrows an error that stopped the polling.
  return withLockedStore(options, owner, async (store) => refreshPending(store, await store.load(), options))
}
