import {onlineRun, type ProgressUi, type StatusRunOptions} from './run-options.js'
import {assertTargetsExist, loadOrFail} from './load.js'
import {prepareVariables} from './variables.js'
import {StateLockedError, type CliError} from '../errors.js'
import {makeLockOwner} from '../state/lock.js'
import type {MessageRecord, StateStore} from '../state/types.js'
import type {LockWaitOptions} from './lock-wait.js'
import {lockWait, withConnection, withLock, withStore} from './resources.js'
import {assertTarget, offlineTarget} from './target.js'
import {deliveryFromStatus, selectForStatus, summariseStatus, type StatusReport} from '../status/delivery.js'
import {DEFAULT_STATUS_RATE, Pacer} from '../status/pacer.js'
import {pollStatuses, type PollResult, type StatusAnswer} from '../status/poll.js'

/**
 * The variables are for manifests whose send names use them; --lock-timeout is how long the writes wait for the
 * lock; flushEvery defaults to 1000 answers.
 */
export interface StatusOptions extends StatusRunOptions {
  /** Manifests: only their sends. Empty: every send in the state. */
  paths: string[]
  sandbox: boolean
}

export type StatusUi = ProgressUi

/**
 * `mcsend status`: asks the status endpoint about accepted messages without a final delivery event, paced, and
 * records each event in the state. The state lock is taken only while writing (briefly, every `flushEvery` answers
 * and at the end), so a long status run never blocks an apply; an answer is written only if its record is still the
 * accepted record that was asked about.
 */
export async function runStatus(given: StatusOptions, ui: StatusUi): Promise<StatusReport> {
  const clock = given.clock ?? (() => new Date())
  const {options} = await onlineRun(given)
  let only: Set<string> | undefined
  if (options.paths.length > 0) {
    const variables = await prepareVariables(options.variables ?? {}, options.env, options.cwd)
    const {sends} = await loadOrFail(options.paths, {cwd: options.cwd, sourceRoots: options.sourceRoots, env: options.env, variables})
    assertTargetsExist(sends, options.sends)
    only = new Set(sends.map((s) => s.name))
  }
  if (options.sends && options.sends.length > 0) only = new Set(options.sends.filter((s) => only === undefined || only.has(s)))

  return withStore(options, async (store) => {
    const state = await store.load()
    assertTarget(state, store.location, offlineTarget(options))
    const records = new Map<string, MessageRecord>()
    for (const r of state.messages.values()) if (only === undefined || only.has(r.send)) records.set(r.messageKey, r)
    const now = clock()
    const selection = selectForStatus(records.values(), {now})
    const tooOld = new Set(selection.tooOld.map((r) => r.messageKey))
    const notFound = new Set<string>()
    const pacer = new Pacer(options.rate ?? DEFAULT_STATUS_RATE)
    let buffer: MessageRecord[] = []
    let unsaved = 0
    let saveError: CliError | undefined
    let poll: PollResult = {answered: 0, interrupted: false}

    if (selection.ask.length > 0) {
      if (selection.ask.length > 50) ui.note(`Asking Marketing Cloud about ${selection.ask.length} messages at up to ${pacer.rate}/s …`)
      const flushEvery = Math.max(1, options.flushEvery ?? 1000)
      let flushing: Promise<void> = Promise.resolve()
      const onAnswer = async ({record, result}: StatusAnswer) => {
        if (result === undefined) {
          notFound.add(record.messageKey)
          return
        }
        const delivery = deliveryFromStatus(result, clock().toISOString())
        if (delivery === undefined) return
        const updated = {...record, delivery}
        records.set(record.messageKey, updated)
        buffer.push(updated)
        if (buffer.length >= flushEvery) {
          const batch = buffer
          buffer = []
          // An intermediate write that finds the state locked keeps its answers for the next one.
          flushing = flushing.then(() => saveDeliveries(store, batch).then(({left}) => void buffer.push(...left)))
          await flushing
        }
      }
      poll = await withConnection(options, pacer, async ({client, target}) => {
        // A state of another business unit would make every key look unknown: refuse it instead.
        assertTarget(state, store.location, await target())
        return pollStatuses(selection.ask, client, {pacer, signal: options.signal, onAnswer, onProgress: ui.onProgress})
      })
      await flushing
      // The last write may wait for another run (--lock-timeout); the intermediate ones never hold polling up.
      const saved = await saveDeliveries(store, buffer, lockWait({lockTimeoutMs: options.lockTimeoutMs, note: (m) => ui.note(m)}))
      unsaved = saved.left.length
      saveError = saved.lockError
    }
    const summary = summariseStatus(records.values(), {tooOld, notFound}, only)
    return {
      ...summary,
      state: store.location,
      checkedAt: now.toISOString(),
      asked: poll.answered,
      alreadyKnown: selection.known.length,
      interrupted: poll.interrupted,
      error: poll.error,
      unsaved,
      saveError,
      backoffs: pacer.backoffs,
    }
  })
}

/**
 * Records delivery events under the lock: each only if the state still holds the same accepted record (a `state rm`
 * or a re-send in between wins). When another run holds the lock, nothing is written and the updates come back.
 */
async function saveDeliveries(store: StateStore, updates: MessageRecord[], wait: LockWaitOptions = {}): Promise<{left: MessageRecord[]; lockError?: CliError}> {
  if (updates.length === 0) return {left: []}
  let locked = false
  try {
    return await withLock(store, makeLockOwner('status'), async () => {
      locked = true
      const state = await store.load()
      const writes: MessageRecord[] = []
      for (const update of updates) {
        const current = state.messages.get(update.messageKey)
        if (current === undefined || current.status !== 'accepted' || current.at !== update.at) continue
        writes.push({...current, delivery: update.delivery})
      }
      if (writes.length > 0) await store.append(writes)
      await store.commit()
      return {left: []}
    }, wait)
  } catch (error) {
    // Only a refused lock keeps the updates for later; a failure while holding it is a real error.
    if (!locked && error instanceof StateLockedError) return {left: updates, lockError: error}
    throw error
  }
}
