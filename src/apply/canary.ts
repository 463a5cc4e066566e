import type {CanaryAwait} from '../manifest/types.js'
import type {Plan, PlannedMessage, PlannedSend} from '../plan/types.js'
import type {ApplyResult} from './execute.js'

/**
 * The canary step of apply, its pure parts: which requests go first, which messages are awaited, what each status
 * answer means for the wait, and the verdict. The waiting itself (status endpoint, pacing) is core/canary.ts.
 */

/** Where one canary message stands when the wait ends. */
export type CanaryState =
  /** Reached what the send awaits (`sent`, or `accepted`: queued or sent). */
  | 'reached'
  /** Rejected by the send request, or reported not sent (or bounced): the canary failed. */
  | 'failed'
  /** Not there yet: queued while `sent` is awaited, not known to the status endpoint yet, or the answer was lost. */
  | 'waiting'

export interface CanaryMessage {
  send: string
  messageKey: string
  contactKey: string
  /** Empty for a plan read back from a saved file (never shown then). */
  to: string
  await: CanaryAwait
  timeoutMs: number
  /** Accepted by an earlier run: awaited again, not re-sent. */
  earlier: boolean
}

export interface CanaryRecipient extends Omit<CanaryMessage, 'timeoutMs'> {
  state: CanaryState
  /** What Marketing Cloud said last: queued, sent, notSent, rejected, unknown (never answered), notFound. */
  event: 'queued' | 'sent' | 'notSent' | 'other' | 'rejected' | 'notFound' | 'unanswered'
  /** For failed ones: the reason with its code, e.g. `24 ListDetectiveExclusion` or `rejected (109106): …`. */
  reason?: string
  statusCode?: number
}

export type CanaryVerdict = 'passed' | 'failed' | 'timedOut'

export interface CanaryReport {
  verdict: CanaryVerdict
  recipients: CanaryRecipient[]
  reached: number
  failed: number
  waiting: number
  /** How long the wait took, ms. */
  waitedMs: number
  /** Requests (and messages) that follow when apply goes on. */
  rest: {messages: number; requests: number}
}

/** What happened to the canary step in one apply. */
export type CanaryOutcome =
  /** --skip-canary: every request was sent at once, loudly; `messages` is the canary's size. */
  | {skipped: true; messages: number}
  /** The canary was sent and awaited; `continued` false means nothing after it was sent. */
  | {skipped: false; report: CanaryReport; continued: boolean; stoppedBy?: 'verdict' | 'person'}

export interface CanarySplit {
  /** The canary requests of every send (the leading ones). */
  canary: Plan
  /** Every other request, of every send: sent only after the canary. */
  rest: Plan
  /** Every canary message to await: those sent now and those accepted by an earlier run, per send in order. */
  messages: CanaryMessage[]
}

/** True when the plan has a canary step (some send declares one and has something beyond it to send). */
export function hasCanary(plan: Plan): boolean {
  return plan.sends.some((s) => s.canary !== undefined)
}

/** How many messages the canary steps hold, sent now or before (for the loud --skip-canary warning). */
export function canaryMessageCount(plan: Plan): number {
  return plan.sends.reduce((n, s) => n + (s.canary?.size ?? 0), 0)
}

/** Splits a plan into its canary step and the rest; every request lands in exactly one of them. */
export function splitCanary(plan: Plan): CanarySplit {
  const canarySends: PlannedSend[] = []
  const restSends: PlannedSend[] = []
  const messages: CanaryMessage[] = []
  for (const send of plan.sends) {
    const lead = send.batches.filter((b) => b.canary === true)
    const follow = send.batches.filter((b) => b.canary !== true)
    canarySends.push({...send, batches: lead})
    restSends.push({...send, batches: follow})
    const canary = send.canary
    if (canary === undefined) continue
    const base = {send: send.name, await: canary.await, timeoutMs: canary.timeoutMs}
    const add = (m: PlannedMessage, earlier: boolean) => messages.push({...base, messageKey: m.messageKey, contactKey: m.contactKey, to: m.to, earlier})
    for (const b of lead) for (const m of b.messages) add(m, false)
    // Accepted before: the canary's are the first entries of `unchanged` (see PlannedCanary).
    for (const m of send.unchanged.slice(0, canary.size - canary.toSend)) add(m, true)
  }
  return {canary: {...plan, sends: canarySends}, rest: {...plan, sends: restSends}, messages}
}

/** Messages and requests of a plan part. */
export function countOf(plan: Plan): {messages: number; requests: number} {
  let messages = 0
  let requests = 0
  for (const s of plan.sends) for (const b of s.batches) {
    requests++
    messages += b.messages.length
  }
  return {messages, requests}
}

/**
 * What one status answer means for a canary message: `sent` reaches either await; `queued` (or any answer: the
 * message exists) reaches `accepted`; notSent and unknown categories (a bounce) fail, naming the reason; no answer
 * (404) keeps waiting, since a message just accepted may not be visible yet.
 */
export function judgeAnswer(
  awaited: CanaryAwait,
  answer: {event: 'queued' | 'sent' | 'notSent' | 'other'; statusCode?: number; reason?: string} | undefined,
): Pick<CanaryRecipient, 'state' | 'event' | 'reason' | 'statusCode'> {
  if (answer === undefined) return {state: 'waiting', event: 'notFound'}
  const {event} = answer
  if (event === 'sent') return {state: 'reached', event}
  if (event === 'queued') return {state: awaited === 'accepted' ? 'reached' : 'waiting', event}
  const out: Pick<CanaryRecipient, 'state' | 'event' | 'reason' | 'statusCode'> = {state: 'failed', event}
  if (answer.reason !== undefined) out.reason = answer.reason
  if (answer.statusCode !== undefined) out.statusCode = answer.statusCode
  return out
}

/** Why a canary message accepted by an earlier run cannot be judged any more (see judgeBeyondReach). */
export const BEYOND_REACH_REASON = 'accepted more than 3 days ago, and Marketing Cloud no longer reports it: --skip-canary sends the rest without waiting'

/**
 * A canary message accepted by an earlier run longer ago than the status endpoint answers for (3 days, see
 * docs/marketing-cloud-api.md): a 404 now never turns into an answer, so it is judged at once, never awaited. The
 * delivery event `mcsend status` recorded decides when there is one that settles it; otherwise (none, or still
 * queued while `sent` is awaited) the canary fails with BEYOND_REACH_REASON.
 */
export function judgeBeyondReach(
  awaited: CanaryAwait,
  recorded: {event: 'queued' | 'sent' | 'notSent' | 'other'; statusCode?: number; reason?: string} | undefined,
): Pick<CanaryRecipient, 'state' | 'event' | 'reason' | 'statusCode'> {
  const judged = recorded === undefined ? undefined : judgeAnswer(awaited, recorded)
  if (judged !== undefined && judged.state !== 'waiting') return judged
  return {state: 'failed', event: 'notFound', reason: BEYOND_REACH_REASON}
}

/** The verdict once the wait ended: any failure fails; otherwise anything still waiting is a timeout. */
export function canaryVerdict(recipients: readonly CanaryRecipient[]): CanaryVerdict {
  if (recipients.some((r) => r.state === 'failed')) return 'failed'
  if (recipients.some((r) => r.state === 'waiting')) return 'timedOut'
  return 'passed'
}

/** The two executor results of one apply, as one. */
export function mergeResults(a: ApplyResult, b: ApplyResult): ApplyResult {
  const merged: ApplyResult = {
    accepted: a.accepted + b.accepted,
    alreadyAccepted: a.alreadyAccepted + b.alreadyAccepted,
    rejected: a.rejected + b.rejected,
    unknown: a.unknown + b.unknown,
    notAttempted: a.notAttempted + b.notAttempted,
    rejections: [...a.rejections, ...b.rejections],
    interrupted: a.interrupted || b.interrupted,
    batches: {total: a.batches.total + b.batches.total, done: a.batches.done + b.batches.done},
  }
  const fatal = a.fatal ?? b.fatal
  if (fatal !== undefined) merged.fatal = fatal
  return merged
}

/** The requests after a canary that stopped apply: counted as not attempted. */
export function notSentAfterCanary(result: ApplyResult, rest: {messages: number; requests: number}): ApplyResult {
  return {...result, notAttempted: result.notAttempted + rest.messages, batches: {total: result.batches.total + rest.requests, done: result.batches.done}}
}
