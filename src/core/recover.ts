import {onlineRun, type ProgressUi, type StatusRunOptions} from './run-options.js'
import {makeLockOwner} from '../state/lock.js'
import type {MessageRecord} from '../state/types.js'
import type {CliError} from '../errors.js'
import {buildPlan} from '../plan/build.js'
import {deliveryFromStatus, STATUS_REACH_MS} from '../status/delivery.js'
import {DEFAULT_STATUS_RATE, Pacer} from '../status/pacer.js'
import {pollStatuses} from '../status/poll.js'
import {assertTargetsExist, loadOrFail} from './load.js'
import {withConnection, withLockedStore} from './resources.js'
import type {RecoverReport, RecoverSendCounts} from '../status/recover-report.js'
import {appliedSnapshot, bindStateKey, checkStateKey, stateHasherFromEnv} from './state-key.js'
import {assertTarget, offlineTarget} from './target.js'
import {prepareVariables} from './variables.js'

/**
 * `mcsend state recover MANIFESTS`: the state was lost (or is new), Marketing Cloud still knows. For every planned key
 * the state does not hold as accepted, asks the status endpoint (paced, within its rate limit), and records each key
 * it knows as accepted, with its delivery event, exactly as apply would have recorded it. It never sends. The status
 * endpoint answers for about 3 days only (docs/marketing-cloud-api.md): an older message is "unknown", like one never
 * sent, and the next apply would send it again.
 */
/** flushEvery: what was found is written every this many keys (default 500). */
export type RecoverOptions = StatusRunOptions

export type RecoverUi = ProgressUi

export async function runRecover(given: RecoverOptions, ui: RecoverUi): Promise<RecoverReport> {
  const clock = given.clock ?? (() => new Date())
  const {options} = await onlineRun(given)
  const hasher = stateHasherFromEnv(options.env)
  const variables = await prepareVariables(options.variables ?? {}, options.env, options.cwd)
  const {sends} = await loadOrFail(options.paths, {cwd: options.cwd, sourceRoots: options.sourceRoots, env: options.env, variables})
  assertTargetsExist(sends, options.sends)

  return withLockedStore({...options, note: (m) => ui.note(m)}, makeLockOwner('state recover', clock(), options.env), async (store) => {
    const state = await store.load()
    assertTarget(state, store.location, offlineTarget(options))
    checkStateKey(state, hasher, store.location)
    const plan = buildPlan(sends, state, {stateLocation: store.location, targets: options.sends, hasher})
    const counts = new Map<string, RecoverSendCounts>()
    const candidates: MessageRecord[] = []
    const now = clock().toISOString()
    for (const send of plan.sends) {
      const c: RecoverSendCounts = {send: send.name, planned: send.counts.total, alreadyRecorded: send.counts.noop + send.counts.drift, asked: 0, foundAccepted: 0, foundNotSent: 0, unknown: 0, unasked: 0}
      counts.set(send.name, c)
      for (const batch of send.batches) {
        for (const m of batch.messages) {
          // The record apply would have written for this message, had the state not been lost.
          const previous = state.messages.get(m.messageKey)
          candidates.push({
            messageKey: m.messageKey,
            send: send.name,
            revision: send.revision,
            status: 'accepted',
            at: now,
            ...(previous?.requestId === undefined ? {} : {requestId: previous.requestId}),
            toHash: hasher.hashTo(m.to),
            attributesHash: hasher.hashAttributes(send.attributes, m.attributes),
            contactHash: hasher.hashContactKey(m.contactKey),
          })
        }
      }
      c.unasked = send.counts.toSend
    }

    const pacer = new Pacer(options.rate ?? DEFAULT_STATUS_RATE)
    const found = new Set<string>()
    let buffer: MessageRecord[] = []
    const flushEvery = Math.max(1, options.flushEvery ?? 500)
    let writing: Promise<void> = Promise.resolve()
    const flush = () => {
      const batch = buffer
      buffer = []
      if (batch.length > 0) writing = writing.then(() => store.append(batch))
      return writing
    }
    let interrupted = false
    let error: CliError | undefined
    if (candidates.length > 0) {
      if (candidates.length > 50) ui.note(`Asking Marketing Cloud about ${candidates.length} messageKeys at up to ${pacer.rate}/s …`)
      const poll = await withConnection(options, pacer, async (connection) => {
        // Another business unit does not know these keys: it would make them all look unsent. Refused instead.
        const target = await connection.target()
        assertTarget(state, store.location, target)
        if (state.target === undefined) await store.setMeta({target})
        await bindStateKey(store, state, hasher)
        return pollStatuses(candidates, connection.client, {
          pacer,
          signal: options.signal,
          onProgress: ui.onProgress,
          onAnswer: async ({record, result}) => {
            const c = counts.get(record.send)!
            c.asked++
            c.unasked--
            if (result === undefined) {
              c.unknown++
              return
            }
            const delivery = deliveryFromStatus(result, clock().toISOString())
            if (delivery.event === 'notSent') c.foundNotSent++
            else c.foundAccepted++
            found.add(record.send)
            buffer.push({...record, delivery})
            if (buffer.length >= flushEvery) await flush()
          },
        })
      })
      interrupted = poll.interrupted
      error = poll.error
      await flush()
      for (const send of plan.sends) if (found.has(send.name) && state.sends[send.name] === undefined) await store.putSend(appliedSnapshot(send, clock(), hasher))
      await store.commit()
    }
    const list = [...counts.values()]
    const totals = {planned: 0, alreadyRecorded: 0, asked: 0, foundAccepted: 0, foundNotSent: 0, unknown: 0, unasked: 0}
    for (const c of list) for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += c[k]
    return {state: store.location, sends: list, totals, interrupted, ...(error === undefined ? {} : {error}), backoffs: pacer.backoffs, reachDays: STATUS_REACH_MS / (24 * 3600 * 1000)}
  })
}

