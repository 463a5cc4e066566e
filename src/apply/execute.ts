import {performance} from 'node:perf_hooks'

import pLimit from 'p-limit'

import {ApiError, CliError} from '../errors.js'
import {UNKEYED, type StateHasher} from '../keys/keyed.js'
import type {Plan, PlannedBatch, PlannedMessage, PlannedSend} from '../plan/types.js'
import {CONCURRENCY_BLOCKED, DUPLICATE_MESSAGE_KEY} from '../sfmc/codes.js'
import type {RecipientOutcome, SendBatchResult, SfmcClient} from '../sfmc/types.js'
import type {MessageRecord, MessageStatus, StateStore} from '../state/types.js'
import {abortableSleep} from '../text/duration.js'

/** What a 109110 means for a key mcsend never saw accepted: Marketing Cloud had it already, so it was not delivered again. */
export const ALREADY_HAD_KEY_MESSAGE = 'Marketing Cloud already had this key (109110): not re-delivered; bump revision to send again'
/** A key rejected before, answered 109110 on a retry, that the status endpoint does not know. */
export const BLOCKED_KEY_MESSAGE =
  'Marketing Cloud refuses this messageKey as reused (109110) but holds no message for it: it remembers keys it rejected, so the key stays blocked for its dedupe window (2-3 days); bump revision in the manifest to send to this recipient now'
/** 429 / 50200 answers in a row (each at a lower concurrency) before apply gives up. */
const BLOCKED_LIMIT = 5


export const DEFAULT_PARALLELISM = 4

export interface ExecuteDeps {
  client: SfmcClient
  store: StateStore
  clock: () => Date
  /** The status each key had in the state before this run (the plan retries `failed` and `pending` keys). */
  previousStatus?: (messageKey: string) => MessageStatus | undefined
  /** The state's hashes: keyed under MCSEND_STATE_KEY, or not (default). */
  hasher?: StateHasher
}

export interface BatchRef {
  send: string
  index: number
  size: number
}

export type ExecuteEvent =
  | ({type: 'batch_started'} & BatchRef)
  | ({type: 'batch_finished'; accepted: number; alreadyAccepted: number; rejected: number; requestId?: string; /** Time spent recording this batch in the state (pending + outcomes), ms. */ stateMs: number} & BatchRef)
  | ({type: 'batch_errored'; error: string; outcomeUnknown: boolean} & BatchRef)

export interface Progress {
  batchesDone: number
  batchesTotal: number
  messagesDone: number
  messagesTotal: number
  rejected: number
}

export interface ExecuteOptions {
  parallelism?: number
  /** Aborted on Ctrl-C: no new batch starts; batches in flight finish and are recorded. */
  signal?: AbortSignal
  onEvent?: (event: ExecuteEvent) => void
  onProgress?: (progress: Progress) => void
  /** First wait after a 429 / 50200 (too many concurrent requests); it doubles each time. Default 2000 ms. */
  blockedBackoffMs?: number
}

export interface Rejection {
  send: string
  messageKey: string
  contactKey: string
  errorCode?: number
  errorMessage?: string
}

export interface ApplyResult {
  /** Newly accepted in this run. */
  accepted: number
  /** Answered 109110: Marketing Cloud already had the key (an earlier attempt); counted as accepted, never re-delivered. */
  alreadyAccepted: number
  rejected: number
  /** Sent, but Marketing Cloud's answer was lost: left pending for the next run (same keys). */
  unknown: number
  /** Not attempted (interrupted, or stopped after an error). */
  notAttempted: number
  rejections: Rejection[]
  interrupted: boolean
  /** The error that stopped the run, if any (credentials, Marketing Cloud unavailable, …). */
  fatal?: CliError
  batches: {total: number; done: number}
}

interface Job {
  send: PlannedSend
  batch: PlannedBatch
}

/** A batch's pending record of one message: what its later records share (key, send, revision, hashes). */
type BaseRecord = MessageRecord

/**
 * Sends the plan's batches with bounded concurrency and a write-ahead state: each batch's keys are recorded
 * `pending` (durably) before the request and `accepted`/`failed` after the answer. A crash at any point leaves
 * every key either recorded with its outcome or pending, and pending keys are re-sent with the same key, which
 * Marketing Cloud de-duplicates (109110). Never throws for per-recipient rejections; collects them.
 */
export async function executePlan(plan: Plan, deps: ExecuteDeps, options: ExecuteOptions = {}): Promise<ApplyResult> {
  const jobs: Job[] = plan.sends.flatMap((send) => send.batches.map((batch) => ({send, batch})))
  const result: ApplyResult = {
    accepted: 0,
    alreadyAccepted: 0,
    rejected: 0,
    unknown: 0,
    notAttempted: 0,
    rejections: [],
    interrupted: false,
    batches: {total: jobs.length, done: 0},
  }
  const messagesTotal = jobs.reduce((n, j) => n + j.batch.messages.length, 0)
  let messagesDone = 0
  let stopped = false
  const limit = pLimit(Math.max(1, options.parallelism ?? DEFAULT_PARALLELISM))
  // 429 / 50200 in a row: each one halves the concurrency (down to 1) and backs off; a success resets it.
  let blockedStreak = 0
  const blockedBackoffMs = options.blockedBackoffMs ?? 2000

  /**
   * One batch: its pending records and its request hold one of the `parallelism` slots, its outcome records do not.
   * Writing them (an fsync) overlaps the next batches' requests; the batch counts as done once they are durable,
   * and the run ends (and the state is committed) only after every batch is done.
   */
  const runJob = async (job: Job): Promise<void> => {
    const sent = await limit(() => sendJob(job))
    if (sent === undefined) return
    const {ref, outcomes} = sent
    const t0 = performance.now()
    if (outcomes.records.length > 0) await deps.store.append(outcomes.records)
    const stateMs = sent.stateMs + performance.now() - t0
    result.accepted += outcomes.accepted
    result.alreadyAccepted += outcomes.already
    result.rejected += outcomes.rejected
    result.unknown += outcomes.unknown
    finishBatch(ref)
    options.onEvent?.({type: 'batch_finished', ...ref, accepted: outcomes.accepted, alreadyAccepted: outcomes.already, rejected: outcomes.rejected, requestId: sent.requestId, stateMs: Math.round(stateMs * 100) / 100})
  }

  /** Pending records, the request and the reading of its answer; undefined when the batch was settled otherwise. */
  const sendJob = async (job: Job): Promise<SentBatch | undefined> => {
    const ref: BatchRef = {send: job.send.name, index: job.batch.index, size: job.batch.messages.length}
    if (stopped || options.signal?.aborted) {
      if (options.signal?.aborted) result.interrupted = true
      result.notAttempted += ref.size
      return undefined
    }
    // The pending records: hashes are computed once per batch, when it starts, and its outcome records copy them.
    const startedAt = deps.clock().toISOString()
    const base = job.batch.messages.map((m) => pendingRecord(job.send, m, deps.hasher ?? UNKEYED, startedAt))
    // Read before the pending records below replace them.
    const wasFailed = job.batch.messages.map((m) => deps.previousStatus?.(m.messageKey) === 'failed')
    const t0 = performance.now()
    try {
      // Fencing: record and send only while this run still holds the lock (a run paused long enough to be taken over
      // must not). Checked before the pending records (a run that lost the lock must not mark keys pending that the
      // new holder recorded since) and again right before the request.
      await deps.store.checkLock()
      await deps.store.append(base)
      await deps.store.checkLock()
    } catch (error) {
      // The lock was lost or the state cannot be written: this batch is not sent (the run stops, see guarded).
      result.notAttempted += ref.size
      throw error
    }
    const stateMs = performance.now() - t0
    options.onEvent?.({type: 'batch_started', ...ref})
    let response: SendBatchResult
    for (;;) {
      try {
        // Planned messages carry contactKey, to, messageKey and attributes: the client builds the wire body from them.
        response = await deps.client.sendBatch({definitionKey: job.send.definitionKey, attributes: job.send.attributes, recipients: job.batch.messages})
        blockedStreak = 0
        break
      } catch (error) {
        if (isConcurrencyBlocked(error) && !stopped && !options.signal?.aborted && ++blockedStreak <= BLOCKED_LIMIT) {
          // Too many concurrent requests (not a rate): fewer requests in flight, then this batch again. Its keys stay
          // pending meanwhile; the refused request was not processed.
          limit.concurrency = Math.max(1, Math.floor(limit.concurrency / 2))
          await abortableSleep(Math.min(blockedBackoffMs * 2 ** (blockedStreak - 1), 60_000), options.signal)
          await deps.store.checkLock()
          continue
        }
        await onBatchError(base, ref, error)
        return undefined
      }
    }
    // Read in the slot: a 109110 for a key that failed before asks the status endpoint, a request like any other.
    return {ref, requestId: response.requestId, stateMs, outcomes: await readOutcomes(job, base, wasFailed, response)}
  }

  /** The records and counts of one answer, one outcome per recipient in request order. */
  const readOutcomes = async (job: Job, base: BaseRecord[], wasFailed: boolean[], response: SendBatchResult): Promise<BatchOutcomes> => {
    const at = deps.clock().toISOString()
    const out: BatchOutcomes = {records: [], accepted: 0, already: 0, rejected: 0, unknown: 0}
    for (const [i, m] of job.batch.messages.entries()) {
      const b = base[i]!
      // A key missing from the answer comes back as not accepted.
      let o: Outcome109110 = response.outcomes[i]!
      if (!o.accepted && o.errorCode === DUPLICATE_MESSAGE_KEY && wasFailed[i]) o = await confirmReusedKey(m.messageKey, o)
      if (o.accepted) {
        out.accepted++
        out.records.push(acceptedRecord(b, at, response.requestId))
      } else if (o.unknown) {
        // Neither accepted nor refused: it stays pending and the next run re-sends it with the same key.
        out.unknown++
      } else if (o.errorCode === DUPLICATE_MESSAGE_KEY && !o.blocked) {
        // Marketing Cloud already had this key (an earlier attempt whose answer was lost, or a state that forgot
        // it): it did not deliver it again, and it never counts as failed.
        out.already++
        out.records.push(record(b, 'accepted', at, {requestId: response.requestId, errorCode: o.errorCode, errorMessage: wasPending(m.messageKey) ? o.errorMessage : ALREADY_HAD_KEY_MESSAGE}))
      } else {
        out.rejected++
        out.records.push(record(b, 'failed', at, {requestId: response.requestId, errorCode: o.errorCode, errorMessage: o.errorMessage}))
        result.rejections.push({send: job.send.name, messageKey: m.messageKey, contactKey: m.contactKey, errorCode: o.errorCode, errorMessage: o.errorMessage})
      }
    }
    return out
  }

  const wasPending = (messageKey: string): boolean => deps.previousStatus?.(messageKey) === 'pending'

  /**
   * A key rejected before and answered 109110 now: Marketing Cloud may remember keys it rejected, so the answer does
   * not prove it queued one. Ask the status endpoint: a message there means accepted; none means the key is blocked
   * (recorded failed, with what to do); no answer leaves it pending.
   */
  const confirmReusedKey = async (messageKey: string, o: RecipientOutcome): Promise<Outcome109110> => {
    try {
      const status = await deps.client.getMessageStatus(messageKey)
      if (status !== undefined) return {messageKey, accepted: true}
      return {messageKey, accepted: false, errorCode: DUPLICATE_MESSAGE_KEY, errorMessage: BLOCKED_KEY_MESSAGE, blocked: true}
    } catch {
      return {...o, unknown: true}
    }
  }

  const onBatchError = async (base: BaseRecord[], ref: BatchRef, error: unknown): Promise<void> => {
    stopped = true
    const cliError = error instanceof CliError ? error : new ApiError(`sending failed: ${error instanceof Error ? error.message : String(error)}`, {outcomeUnknown: true, cause: error})
    result.fatal ??= cliError
    if (isConcurrencyBlocked(error) || (error instanceof ApiError && error.status === 429)) {
      // Refused before processing (throttled): nothing was queued and nothing was rejected. The keys stay pending
      // and the next run sends them with the same keys.
      result.notAttempted += ref.size
      finishBatch(ref)
      options.onEvent?.({type: 'batch_errored', ...ref, error: cliError.message, outcomeUnknown: false})
      return
    }
    const outcomeUnknown = !(error instanceof ApiError) || error.outcomeUnknown || error.status === undefined || error.status === 401
    if (outcomeUnknown) {
      // Marketing Cloud may have queued them: leave them pending, the next run re-sends with the same keys.
      result.unknown += ref.size
    } else {
      // A definite refusal of the whole request (4xx): nothing was queued.
      const at = deps.clock().toISOString()
      const code = (error as ApiError).apiErrorCode
      await deps.store.append(base.map((b) => record(b, 'failed', at, {errorCode: code, errorMessage: cliError.message})))
      result.rejected += ref.size
    }
    finishBatch(ref)
    options.onEvent?.({type: 'batch_errored', ...ref, error: cliError.message, outcomeUnknown})
  }

  const finishBatch = (ref: BatchRef) => {
    result.batches.done++
    messagesDone += ref.size
    options.onProgress?.({
      batchesDone: result.batches.done,
      batchesTotal: result.batches.total,
      messagesDone,
      messagesTotal,
      rejected: result.rejected,
    })
  }

  const guarded = async (job: Job): Promise<void> => {
    try {
      await runJob(job)
    } catch (error) {
      // A state write failed. The batch's keys are pending (or were never sent): stop, and let the next run settle them.
      stopped = true
      result.fatal ??= error instanceof CliError ? error : new CliError(`recording the state failed: ${error instanceof Error ? error.message : String(error)}`, {code: 'state_error', exitCode: 1, cause: error})
    }
  }

  // The starting point of the progress view: its totals, and the time its rate and ETA are measured from.
  options.onProgress?.({batchesDone: 0, batchesTotal: jobs.length, messagesDone: 0, messagesTotal, rejected: 0})
  await Promise.all(jobs.map((job) => guarded(job)))
  return result
}

type Outcome = Pick<MessageRecord, 'requestId' | 'errorCode' | 'errorMessage'>

/** What a batch's answer says, to be recorded once its slot is free. */
interface BatchOutcomes {
  records: MessageRecord[]
  accepted: number
  already: number
  rejected: number
  unknown: number
}

interface SentBatch {
  ref: BatchRef
  requestId?: string
  /** Time spent on the pending records, ms. */
  stateMs: number
  outcomes: BatchOutcomes
}

/** An outcome after a 109110 was checked: `blocked` when the status endpoint knows no message for the key. */
type Outcome109110 = RecipientOutcome & {blocked?: boolean}

function isConcurrencyBlocked(error: unknown): boolean {
  return error instanceof ApiError && error.status === 429 && error.apiErrorCode === CONCURRENCY_BLOCKED
}

/**
 * One state record: the batch's hashes, a status and time, and the fields of the answer that are set. One literal per
 * shape (see canonicalRecord in state/serialize.ts): no outcome object and no property added after the fact.
 */
function record(b: BaseRecord, status: MessageRecord['status'], at: string, outcome?: Outcome): MessageRecord {
  if (outcome === undefined) {
    return {messageKey: b.messageKey, send: b.send, revision: b.revision, status, at, toHash: b.toHash, attributesHash: b.attributesHash, contactHash: b.contactHash}
  }
  const r: MessageRecord = {messageKey: b.messageKey, send: b.send, revision: b.revision, status, at, toHash: b.toHash, attributesHash: b.attributesHash, contactHash: b.contactHash}
  if (outcome.requestId !== undefined) r.requestId = outcome.requestId
  if (outcome.errorCode !== undefined) r.errorCode = outcome.errorCode
  if (outcome.errorMessage !== undefined) r.errorMessage = outcome.errorMessage
  return r
}

/** An accepted record (the usual outcome): the request id, nothing else. */
function acceptedRecord(b: BaseRecord, at: string, requestId: string | undefined): MessageRecord {
  if (requestId === undefined) return record(b, 'accepted', at)
  return {
    messageKey: b.messageKey,
    send: b.send,
    revision: b.revision,
    status: 'accepted',
    at,
    toHash: b.toHash,
    attributesHash: b.attributesHash,
    contactHash: b.contactHash,
    requestId,
  }
}

function pendingRecord(send: PlannedSend, m: PlannedMessage, hasher: StateHasher, at: string): BaseRecord {
  return {
    messageKey: m.messageKey,
    send: send.name,
    revision: send.revision,
    status: 'pending',
    at,
    toHash: hasher.hashTo(m.to),
    attributesHash: hasher.hashAttributes(send.attributes, m.attributes),
    contactHash: hasher.hashContactKey(m.contactKey),
  }
}
