import {performance} from 'node:perf_hooks'

import pLimit from 'p-limit'

import {ApiError, CliError} from '../errors.js'
import {hashAttributes, hashContactKey, hashTo} from '../plan/hash.js'
import type {Plan, PlannedBatch, PlannedMessage, PlannedSend} from '../plan/types.js'
import {DUPLICATE_MESSAGE_KEY} from '../sfmc/codes.js'
import type {SendBatchResult, SfmcClient} from '../sfmc/types.js'
import type {MessageRecord, StateStore} from '../state/types.js'


export const DEFAULT_PARALLELISM = 4

export interface ExecuteDeps {
  client: SfmcClient
  store: StateStore
  clock: () => Date
}

export interface BatchRef {
  send: string
  index: number
  size: number
}

export type ExecuteEvent =
  | ({type: 'batch_started'} & BatchRef)
  | ({type: 'batch_finished'; accepted: number; alreadyAccepted: number; rejected: number; unknown: number; requestId?: string; /** Time spent recording this batch in the state (pending + outcomes), ms. */ stateMs: number} & BatchRef)
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
  /** Answered 109110: accepted by an earlier, interrupted attempt; counted as accepted, never re-delivered. */
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
  /** Hashes computed once, for the pending and the outcome records. */
  base: Omit<MessageRecord, 'status' | 'at'>[]
}

/**
 * Sends the plan's batches with bounded concurrency and a write-ahead state: each batch's keys are recorded
 * `pending` (durably) before the request and `accepted`/`failed` after the answer. A crash at any point leaves
 * every key either recorded with its outcome or pending, and pending keys are re-sent with the same key, which
 * Marketing Cloud de-duplicates (109110). Never throws for per-recipient rejections; collects them.
 */
export async function executePlan(plan: Plan, deps: ExecuteDeps, options: ExecuteOptions = {}): Promise<ApplyResult> {
  const jobs: Job[] = []
  for (const send of plan.sends) {
    for (const batch of send.batches) jobs.push({send, batch, base: batch.messages.map((m) => baseRecord(send, m))})
  }
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

  const runJob = async (job: Job): Promise<void> => {
    const ref: BatchRef = {send: job.send.name, index: job.batch.index, size: job.batch.messages.length}
    if (stopped || options.signal?.aborted) {
      if (options.signal?.aborted) result.interrupted = true
      result.notAttempted += ref.size
      return
    }
    const startedAt = deps.clock().toISOString()
    let t0 = performance.now()
    await deps.store.append(job.base.map((b) => withStatus(b, 'pending', startedAt)))
    let stateMs = performance.now() - t0
    options.onEvent?.({type: 'batch_started', ...ref})
    let response: SendBatchResult
    try {
      response = await deps.client.sendBatch({
        definitionKey: job.send.definitionKey,
        attributes: Object.keys(job.send.attributes).length > 0 ? job.send.attributes : undefined,
        recipients: job.batch.messages.map((m) => ({
          contactKey: m.contactKey,
          to: m.to,
          messageKey: m.messageKey,
          ...(m.attributes === undefined ? {} : {attributes: m.attributes}),
        })),
      })
    } catch (error) {
      await onBatchError(job, ref, error)
      return
    }
    const at = deps.clock().toISOString()
    const outcomes = new Map(response.outcomes.map((o) => [o.messageKey, o]))
    const records: MessageRecord[] = []
    let accepted = 0
    let already = 0
    let rejected = 0
    let unknown = 0
    for (const [i, m] of job.batch.messages.entries()) {
      const base = job.base[i]!
      const o = outcomes.get(m.messageKey)
      if (o === undefined) {
        // No answer for this key: the outcome is unknown, so it stays pending and the next run re-sends it safely.
        unknown++
        continue
      }
      if (o.accepted) {
        accepted++
        const record = withStatus(base, 'accepted', at)
        if (response.requestId !== undefined) record.requestId = response.requestId
        records.push(record)
      } else if (o.errorCode === DUPLICATE_MESSAGE_KEY) {
        // The key was accepted by an earlier attempt whose answer we never saw (it was pending): do not resend.
        already++
        records.push({...base, status: 'accepted', at, requestId: response.requestId, errorCode: o.errorCode, errorMessage: o.errorMessage})
      } else {
        rejected++
        records.push({...base, status: 'failed', at, requestId: response.requestId, errorCode: o.errorCode, errorMessage: o.errorMessage})
        result.rejections.push({send: job.send.name, messageKey: m.messageKey, contactKey: m.contactKey, errorCode: o.errorCode, errorMessage: o.errorMessage})
      }
    }
    t0 = performance.now()
    if (records.length > 0) await deps.store.append(records)
    stateMs += performance.now() - t0
    result.accepted += accepted
    result.alreadyAccepted += already
    result.rejected += rejected
    result.unknown += unknown
    finishBatch(ref)
    options.onEvent?.({type: 'batch_finished', ...ref, accepted, alreadyAccepted: already, rejected, unknown, requestId: response.requestId, stateMs: Math.round(stateMs * 100) / 100})
  }

  const onBatchError = async (job: Job, ref: BatchRef, error: unknown): Promise<void> => {
    stopped = true
    const cliError = error instanceof CliError ? error : new ApiError(`sending failed: ${error instanceof Error ? error.message : String(error)}`, {outcomeUnknown: true, cause: error})
    result.fatal ??= cliError
    const outcomeUnknown = !(error instanceof ApiError) || error.outcomeUnknown || error.status === undefined || error.status === 401
    if (outcomeUnknown) {
      // Marketing Cloud may have queued them: leave them pending, the next run re-sends with the same keys.
      result.unknown += ref.size
    } else {
      // A definite refusal of the whole request (4xx): nothing was queued.
      const at = deps.clock().toISOString()
      const code = (error as ApiError).apiErrorCode
      await deps.store.append(job.base.map((b) => ({...b, status: 'failed', at, errorCode: code, errorMessage: cliError.message})))
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

  await Promise.all(jobs.map((job) => limit(() => guarded(job))))
  return result
}

function withStatus(b: Omit<MessageRecord, 'status' | 'at'>, status: MessageRecord['status'], at: string): MessageRecord {
  return {messageKey: b.messageKey, send: b.send, revision: b.revision, status, at, toHash: b.toHash, attributesHash: b.attributesHash, contactHash: b.contactHash}
}

function baseRecord(send: PlannedSend, m: PlannedMessage): Omit<MessageRecord, 'status' | 'at'> {
  return {
    messageKey: m.messageKey,
    send: send.name,
    revision: send.revision,
    toHash: hashTo(m.to),
    attributesHash: hashAttributes(send.attributes, m.attributes),
    contactHash: hashContactKey(m.contactKey),
  }
}
