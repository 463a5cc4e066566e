import type {CliError} from '../errors.js'
import {subscriberStatusName} from '../sfmc/codes.js'
import type {MessageStatusResult} from '../sfmc/types.js'
import type {DeliveryRecord, MessageRecord} from '../state/types.js'

/**
 * Pure parts of `mcsend status` and `--refresh`: which keys to ask about, what an answer means, and the counts.
 * The status endpoint answers for messages up to 3 days old only (docs/marketing-cloud-api.md); past that, "not
 * found" says nothing.
 */
export const STATUS_REACH_MS = 3 * 24 * 3600 * 1000

const EVENT_SUFFIX: Record<string, DeliveryRecord['event']> = {
  EmailQueued: 'queued',
  EmailSent: 'sent',
  EmailNotSent: 'notSent',
}

/**
 * The delivery event of a status answer (`TransactionalSendEvents.EmailSent` → sent). Any 200 answer proves the
 * message exists: a category mcsend does not know (event notifications also name EmailBounced, for instance) is
 * `other`, with the raw name in statusMessage.
 */
export function deliveryFromStatus(result: MessageStatusResult, checkedAt: string): DeliveryRecord {
  const suffix = result.eventCategoryType.split('.').pop() ?? ''
  const event = Object.hasOwn(EVENT_SUFFIX, suffix) ? EVENT_SUFFIX[suffix] : undefined
  if (event === undefined) {
    const other: DeliveryRecord = {event: 'other', checkedAt, statusMessage: result.eventCategoryType}
    if (result.timestamp !== undefined) other.at = result.timestamp
    return other
  }
  const delivery: DeliveryRecord = {event, checkedAt}
  if (event === 'notSent' && result.statusCode !== undefined) delivery.statusCode = result.statusCode
  if (event === 'notSent' && result.statusMessage !== undefined) delivery.statusMessage = result.statusMessage
  if (result.timestamp !== undefined) delivery.at = result.timestamp
  return delivery
}

/** sent, notSent and the categories mcsend does not know never change again; queued does. */
function isFinalDelivery(delivery: DeliveryRecord | undefined): boolean {
  return delivery?.event === 'sent' || delivery?.event === 'notSent' || delivery?.event === 'other'
}

/** When Marketing Cloud accepted the message, as far as the state knows (the queued event, or the record's time). */
function acceptedAtMs(record: MessageRecord): number {
  const recorded = Date.parse(record.at)
  const queued = record.delivery?.at === undefined ? Number.NaN : Date.parse(record.delivery.at)
  return Number.isNaN(queued) ? recorded : Math.min(recorded, queued)
}

/** True when a message (or a pending attempt) is older than the status endpoint can see. */
export function beyondReach(record: MessageRecord, now: Date, reachMs = STATUS_REACH_MS): boolean {
  return now.getTime() - acceptedAtMs(record) > reachMs
}

export interface StatusSelection {
  /** Accepted, not final yet, young enough: ask the status endpoint. */
  ask: MessageRecord[]
  /** Accepted, not final, older than the reach: reported as unknown (too old to query). */
  tooOld: MessageRecord[]
  /** Accepted with a final delivery event already recorded: not asked again. */
  known: MessageRecord[]
  /** pending or failed: status is only asked for accepted messages. */
  notAccepted: MessageRecord[]
}

/** Splits the state's records (optionally only some sends) by what `mcsend status` does with them. */
export function selectForStatus(records: Iterable<MessageRecord>, options: {now: Date; sends?: ReadonlySet<string>; reachMs?: number}): StatusSelection {
  const selection: StatusSelection = {ask: [], tooOld: [], known: [], notAccepted: []}
  for (const record of records) {
    if (options.sends && !options.sends.has(record.send)) continue
    if (record.status !== 'accepted') selection.notAccepted.push(record)
    else if (isFinalDelivery(record.delivery)) selection.known.push(record)
    else if (beyondReach(record, options.now, options.reachMs)) selection.tooOld.push(record)
    else selection.ask.push(record)
  }
  const byKey = (a: MessageRecord, b: MessageRecord) => (a.messageKey < b.messageKey ? -1 : a.messageKey > b.messageKey ? 1 : 0)
  selection.ask.sort(byKey)
  return selection
}

/** What a pending key turns into once the status endpoint answered (`--refresh`). */
export const NEVER_ACCEPTED_MESSAGE = 'Marketing Cloud does not know this messageKey (never accepted, or older than its 3-day reach): it is sent again with the same key'

/**
 * Settles a `pending` record with the status endpoint's answer: found (queued, sent or notSent) means Marketing
 * Cloud accepted it, so it becomes `accepted` with the delivery event; not found (404, within the reach) means it
 * was never accepted, so it becomes `failed` and the plan retries it. undefined leaves it pending.
 */
export function settlePending(record: MessageRecord, answer: MessageStatusResult | undefined, now: Date): MessageRecord | undefined {
  if (record.status !== 'pending') return undefined
  const at = now.toISOString()
  const {errorCode: _code, errorMessage: _message, delivery: _delivery, ...base} = record
  if (answer === undefined) return {...base, status: 'failed', at, errorMessage: NEVER_ACCEPTED_MESSAGE}
  return {...base, status: 'accepted', at, delivery: deliveryFromStatus(answer, at)}
}

export interface SendStatusCounts {
  send: string
  /** Records of this send in the state. */
  total: number
  accepted: number
  pending: number
  failed: number
  queued: number
  sent: number
  notSent: number
  /** Accepted more than 3 days ago without a final event: unknown (too old to query). */
  tooOld: number
  /** Accepted, but the status endpoint does not know the key (another business unit, or a lost record). */
  notFound: number
  /** Accepted and young enough, but not asked in this run (interrupted, or stopped on an error). */
  unchecked: number
}

export interface NotSentReason {
  send: string
  statusCode: number | undefined
  /** `24 ListDetectiveExclusion`, or the API's message for a code we do not know. */
  reason: string
  count: number
}

export interface StatusSummary {
  sends: SendStatusCounts[]
  notSentReasons: NotSentReason[]
  totals: Omit<SendStatusCounts, 'send'>
}

/**
 * Counts per send after a status run. `records` are the state's records (with this run's delivery events applied);
 * `tooOld` and `notFound` are the messageKeys this run classified that way.
 */
export function summariseStatus(
  records: Iterable<MessageRecord>,
  classified: {tooOld: ReadonlySet<string>; notFound: ReadonlySet<string>},
  sends?: ReadonlySet<string>,
): StatusSummary {
  const bySend = new Map<string, SendStatusCounts>()
  const reasons = new Map<string, NotSentReason>()
  const empty = (send: string): SendStatusCounts => ({send, total: 0, accepted: 0, pending: 0, failed: 0, queued: 0, sent: 0, notSent: 0, tooOld: 0, notFound: 0, unchecked: 0})
  for (const name of sends ?? []) bySend.set(name, empty(name))
  for (const record of records) {
    if (sends && !sends.has(record.send)) continue
    let counts = bySend.get(record.send)
    if (!counts) bySend.set(record.send, (counts = empty(record.send)))
    counts.total++
    if (record.status === 'pending') counts.pending++
    else if (record.status === 'failed') counts.failed++
    if (record.status !== 'accepted') continue
    counts.accepted++
    const delivery = record.delivery
    if (delivery?.event === 'sent') counts.sent++
    else if (delivery?.event === 'notSent') {
      counts.notSent++
      const reason = delivery.statusCode === undefined ? (delivery.statusMessage ?? 'no reason given') : subscriberStatusName(delivery.statusCode)
      const key = `${record.send}\n${reason}`
      const entry = reasons.get(key)
      if (entry) entry.count++
      else reasons.set(key, {send: record.send, statusCode: delivery.statusCode, reason, count: 1})
    } else if (classified.tooOld.has(record.messageKey)) counts.tooOld++
    else if (classified.notFound.has(record.messageKey)) counts.notFound++
    else if (delivery?.event === 'queued') counts.queued++
    else counts.unchecked++
  }
  const list = [...bySend.values()].sort((a, b) => (a.send < b.send ? -1 : a.send > b.send ? 1 : 0))
  const totals = empty('')
  for (const c of list) for (const k of Object.keys(totals) as (keyof SendStatusCounts)[]) if (k !== 'send') (totals[k] as number) += c[k] as number
  const {send: _send, ...rest} = totals
  const notSentReasons = [...reasons.values()].sort((a, b) => b.count - a.count || (a.send < b.send ? -1 : a.send > b.send ? 1 : 0) || (a.statusCode ?? 0) - (b.statusCode ?? 0))
  return {sends: list, notSentReasons, totals: rest}
}

/** What one `mcsend status` run found and recorded: the summary plus how the run went. */
export interface StatusReport extends StatusSummary {
  state: string
  checkedAt: string
  /** Status requests answered in this run. */
  asked: number
  /** Already sent or not sent in the state: not asked again. */
  alreadyKnown: number
  interrupted: boolean
  /** The error that stopped the run early; the answers received before it are saved. */
  error?: CliError
  /** Answers not written because another run held the state lock at the end (the next status run asks again). */
  unsaved: number
  /** Why they were not written: the lock error naming the holder. */
  saveError?: CliError
  /** Times a 429 made the run slow down. */
  backoffs: number
}
