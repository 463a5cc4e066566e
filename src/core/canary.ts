import {performance} from 'node:perf_hooks'

import {
  canaryMessageCount,
  canaryVerdict,
  countOf,
  hasCanary,
  judgeAnswer,
  judgeBeyondReach,
  mergeResults,
  notSentAfterCanary,
  splitCanary,
  type CanaryMessage,
  type CanaryOutcome,
  type CanaryRecipient,
  type CanaryReport,
} from '../apply/canary.js'
import {executePlan, type ApplyResult, type ExecuteDeps, type ExecuteOptions} from '../apply/execute.js'
import {ApiError, CliError, ExitCode} from '../errors.js'
import type {Plan} from '../plan/types.js'
import {subscriberStatusName} from '../sfmc/codes.js'
import type {DeliveryRecord, MessageRecord} from '../state/types.js'
import {beyondReach, deliveryFromStatus} from '../status/delivery.js'
import {DEFAULT_STATUS_RATE, Pacer} from '../status/pacer.js'
import {abortableSleep, formatTimeout} from '../text/duration.js'

/**
 * apply's canary step (manifest `canary:`): the canary requests go first, through the same write-ahead executor
 * as every request (so they are ordinary state records: a re-run never sends them twice); then each canary message
 * is awaited through the status endpoint, paced within its rate limit (src/status/pacer.ts), until it reached what
 * its send awaits, failed, or the send's timeout passed. `decide` sees the report and says whether the rest goes.
 */

export interface CanaryOptions {
  /** --skip-canary: send everything at once (the caller warns loudly). */
  skip?: boolean
  /** Shown the report; true sends the rest. Default: go on only when every canary message got there. */
  decide?: (report: CanaryReport) => Promise<boolean>
  /**
   * The state's record of a message before this run: a canary message accepted by an earlier run longer ago than
   * the status endpoint answers for is judged from it at once (apply/canary.ts judgeBeyondReach), not awaited.
   */
  recordOf?: (messageKey: string) => MessageRecord | undefined
  /** Told once when the wait starts. */
  note?: (message: string) => void
  /** Time and sleeping (tests); default the monotonic clock and a timer that Ctrl-C cuts short. */
  now?: () => number
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
}

export interface CanaryRunResult {
  result: ApplyResult
  /** Absent when the plan has no canary step. */
  canary?: CanaryOutcome
}

/** The pacer apply's connection reports 429s on the status route to (see core/connection.ts). */
export function canaryPacer(): Pacer {
  return new Pacer(DEFAULT_STATUS_RATE)
}

/** Runs the plan with its canary step first (or all at once when there is none, or with --skip-canary). */
export async function executeWithCanary(plan: Plan, deps: ExecuteDeps, execute: ExecuteOptions, pacer: Pacer, options: CanaryOptions = {}): Promise<CanaryRunResult> {
  if (!hasCanary(plan)) return {result: await executePlan(plan, deps, execute)}
  if (options.skip) {
    return {result: await executePlan(plan, deps, execute), canary: {skipped: true, messages: canaryMessageCount(plan)}}
  }
  const split = splitCanary(plan)
  const rest = countOf(split.rest)
  // The progress view counts every request of the run, canary first.
  const total = countOf(plan)
  const first = await executePlan(split.canary, deps, {...execute, onProgress: (p) => execute.onProgress?.({...p, batchesTotal: total.requests, messagesTotal: total.messages})})
  if (first.fatal !== undefined || first.interrupted) {
    // The canary did not go out as planned: nothing after it is sent.
    return {result: notSentAfterCanary(first, rest)}
  }
  const rejected = new Map(first.rejections.map((r) => [r.messageKey, r]))
  const waited = await waitForCanary(split.messages, rejected, deps, pacer, execute.signal, options)
  if (waited.error !== undefined || waited.interrupted) {
    const stopped = notSentAfterCanary(first, rest)
    if (waited.error !== undefined) stopped.fatal = waited.error
    if (waited.interrupted) stopped.interrupted = true
    return {result: stopped}
  }
  const report: CanaryReport = {...waited.report, rest}
  const go = options.decide === undefined ? report.verdict === 'passed' : await options.decide(report)
  if (!go) {
    return {result: notSentAfterCanary(first, rest), canary: {skipped: false, report, continued: false, stoppedBy: report.verdict === 'passed' ? 'person' : 'verdict'}}
  }
  const second = await executePlan(split.rest, deps, {
    ...execute,
    onProgress: (p) =>
      execute.onProgress?.({
        batchesDone: total.requests - rest.requests + p.batchesDone,
        batchesTotal: total.requests,
        messagesDone: total.messages - rest.messages + p.messagesDone,
        messagesTotal: total.messages,
        rejected: first.rejected + p.rejected,
      }),
  })
  return {result: mergeResults(first, second), canary: {skipped: false, report, continued: true}}
}

/**
 * The exit code of an apply whose canary stopped it: 4 when a canary message failed or the wait timed out (the
 * same code as rejected recipients), 1 when the person said no (as a cancelled approval). undefined otherwise.
 */
export function canaryExitCode(canary: CanaryOutcome | undefined): number | undefined {
  if (canary === undefined || canary.skipped || canary.continued) return undefined
  return canary.stoppedBy === 'person' && canary.report.verdict === 'passed' ? ExitCode.error : ExitCode.rejected
}

interface WaitResult {
  report: Omit<CanaryReport, 'rest'>
  interrupted: boolean
  error?: CliError
}

const FIRST_ROUND_DELAY_MS = 250
const MAX_ROUND_DELAY_MS = 5000

/**
 * Asks the status endpoint about every canary message still waiting, one request per pacer slot, in rounds; between
 * rounds it waits a little longer each time (up to 5 s). Ends when none is waiting or every waiting one is past its
 * send's timeout. Rejected messages failed already (the send answer named the code).
 */
async function waitForCanary(
  messages: readonly CanaryMessage[],
  rejected: ReadonlyMap<string, {errorCode?: number; errorMessage?: string}>,
  deps: ExecuteDeps,
  pacer: Pacer,
  signal: AbortSignal | undefined,
  options: CanaryOptions,
): Promise<WaitResult> {
  const now = options.now ?? (() => performance.now())
  const sleep = options.sleep ?? abortableSleep
  const start = now()
  const recipients: CanaryRecipient[] = messages.map(({timeoutMs: _t, ...m}) => {
    const r = rejected.get(m.messageKey)
    if (r === undefined) return {...m, state: 'waiting', event: 'unanswered'}
    const code = r.errorCode === undefined ? '' : ` (${r.errorCode})`
    return {...m, state: 'failed', event: 'rejected', reason: `rejected${code}: ${r.errorMessage ?? 'no reason given'}`, ...(r.errorCode === undefined ? {} : {statusCode: r.errorCode})}
  })
  const checkedAt = deps.clock()
  for (const r of recipients) {
    if (!r.earlier || r.state !== 'waiting') continue
    const record = options.recordOf?.(r.messageKey)
    if (record === undefined || !beyondReach(record, checkedAt)) continue
    Object.assign(r, judgeBeyondReach(r.await, recorded(record.delivery)))
  }
  const deadline = messages.map((m) => start + m.timeoutMs)
  const longest = Math.max(...messages.map((m) => m.timeoutMs))
  if (recipients.some((r) => r.state === 'waiting')) options.note?.(`Canary: waiting up to ${formatTimeout(longest)} for ${messages.length} message${messages.length === 1 ? '' : 's'}, asking Marketing Cloud's status endpoint …`)
  let delay = FIRST_ROUND_DELAY_MS
  let interrupted = false
  let error: CliError | undefined
  for (;;) {
    const open = recipients.flatMap((r, i) => (r.state === 'waiting' && now() < deadline[i]! ? [i] : []))
    if (open.length === 0) break
    for (const i of open) {
      if (signal?.aborted) break
      await pacer.take(signal)
      if (signal?.aborted) break
      const r = recipients[i]!
      try {
        const answer = await deps.client.getMessageStatus(r.messageKey)
        pacer.succeeded()
        const delivery = answer === undefined ? undefined : deliveryFromStatus(answer, deps.clock().toISOString())
        Object.assign(r, judgeAnswer(r.await, recorded(delivery)))
      } catch (caught) {
        error = caught instanceof CliError ? caught : new ApiError(`asking for the canary's status failed: ${caught instanceof Error ? caught.message : String(caught)}`, {cause: caught})
        break
      }
    }
    if (error !== undefined) break
    if (signal?.aborted) {
      interrupted = true
      break
    }
    const left = recipients.flatMap((r, i) => (r.state === 'waiting' ? [deadline[i]! - now()] : [])).filter((ms) => ms > 0)
    if (left.length === 0) break
    await sleep(Math.min(delay, Math.max(...left)), signal)
    delay = Math.min(delay * 2, MAX_ROUND_DELAY_MS)
  }
  const count = (state: CanaryRecipient['state']) => recipients.filter((r) => r.state === state).length
  const report = {verdict: canaryVerdict(recipients), recipients, reached: count('reached'), failed: count('failed'), waiting: count('waiting'), waitedMs: Math.round(now() - start)}
  return error === undefined ? {report, interrupted} : {report, interrupted, error}
}

/** A delivery event (answered now, or recorded by `mcsend status`) as the canary judges it, with its reason. */
function recorded(delivery: DeliveryRecord | undefined): {event: DeliveryRecord['event']; statusCode?: number; reason?: string} | undefined {
  if (delivery === undefined) return undefined
  const reason = delivery.statusCode !== undefined ? subscriberStatusName(delivery.statusCode) : delivery.event === 'other' ? delivery.statusMessage : undefined
  return {event: delivery.event, statusCode: delivery.statusCode, reason}
}

