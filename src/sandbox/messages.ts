import type {DefinitionState} from './definitions.js'
import {Code, STATUS_RETENTION_MS} from './wire.js'

export interface OutboxEntry {
  messageKey: string
  mid: string
  definitionKey: string
  contactKey: string
  to: string
  attributes: Record<string, unknown>
  requestId: string
  acceptedAt: string
}

/** `queued`: the message never leaves the queue (a test's canary that times out). */
export type Outcome = {event: 'sent'} | {event: 'queued'} | {event: 'notSent'; statusCode: number; statusMessage: string}

/** Shared by every entry without attributes (frozen: one object instead of one per message). */
const NO_ATTRIBUTES: Record<string, unknown> = Object.freeze({})

export const QUEUED = 0
export const SENT = 1
export const NOT_SENT = 2
type MessageState = typeof QUEUED | typeof SENT | typeof NOT_SENT

/** One accepted message and where it is in the asynchronous status model (queued, then sent or notSent). */
export interface MessageRecord {
  entry: OutboxEntry
  seq: number
  acceptedMs: number
  /** When the message became eligible for processing; NaN while an Inactive definition holds it. */
  releasedMs: number
  state: MessageState
  eventMs: number
  eventId: number
  statusCode: number
  statusMessage: string
  /** How many earlier acceptances of the same key (in this MID, past the dedupe window) preceded this one. */
  priorDeliveries: number
}

/** A recipient that passed validation: the fields are the right types. */
export interface CheckedRecipient {
  contactKey: string
  to: string
  attributes?: Record<string, unknown>
}

/** A send request that passed request-level validation (send.ts); per-recipient problems are in `codes`. */
export interface CheckedSend {
  definitionKey: string
  attributes: Record<string, unknown> | undefined
  recipients: CheckedRecipient[]
  /** Echoed messageKey per recipient (given, or generated when absent). */
  keys: string[]
  /** 0 for a recipient that passed validation; commit() sets 109110 for a reused key or a scripted rejection's code. */
  codes: number[]
  /** Per-recipient message overrides (set by a scripted rejection); sparse. */
  messages: (string | undefined)[]
}

export interface BatchToCommit extends CheckedSend {
  mid: string
  requestId: string
}

/** What a scripted rejection sees: the recipient as the fake is about to queue it. */
export interface RecipientToQueue {
  messageKey: string
  contactKey: string
  to: string
  definitionKey: string
  mid: string
  attributes: Record<string, unknown>
}
/** `remember`: the refused key still counts as used for the dedupe window (a retry is answered 109110, not sent). */
export type RejectRecipient = (recipient: RecipientToQueue) => {errorcode: number; message?: string; remember?: boolean} | undefined

export interface StoreOptions {
  dedupeWindowMs: number
  queuedMs: number
  outcome: (messageKey: string) => Outcome
  definitionState: (definitionKey: string) => DefinitionState | 'missing'
  rejectRecipient?: RejectRecipient
}

/**
 * Everything the fake remembers about messages: per-MID messageKey dedupe, the outbox, and the status model.
 * Status moves are settled lazily (on the routes that read them), so the send path does O(1) work per recipient.
 */
export class MessageStore {
  private readonly byMid = new Map<string, Map<string, MessageRecord>>()
  /** Keys refused with `remember`, per MID: when they were refused. */
  private readonly refused = new Map<string, Map<string, number>>()
  private readonly outboxEntries: OutboxEntry[] = []
  /** Released messages awaiting their outcome, in release order (so due times are ascending). */
  private pending: MessageRecord[] = []
  private head = 0
  /** Messages held by an Inactive definition. */
  private readonly held = new Map<string, MessageRecord[]>()
  /** notSent events per MID, ascending eventId. */
  private readonly notSent = new Map<string, MessageRecord[]>()
  private seq = 0
  private eventSeq = 0

  constructor(private readonly options: StoreOptions) {}

  /** Accepts every recipient whose code is 0 unless its key was used in this MID within the window. */
  commit(batch: BatchToCommit, now: number, acceptedAt: string): OutboxEntry[] {
    const keys = this.keysOf(batch.mid)
    const window = this.options.dedupeWindowMs
    const hold = this.options.definitionState(batch.definitionKey) === 'Inactive'
    const shared = batch.attributes !== undefined && Object.keys(batch.attributes).length > 0 ? batch.attributes : undefined
    const reject = this.options.rejectRecipient
    const accepted: OutboxEntry[] = []
    for (let i = 0; i < batch.recipients.length; i++) {
      if (batch.codes[i] !== 0) continue
      const key = batch.keys[i] as string
      const previous = keys.get(key)
      const refusedAt = this.refused.get(batch.mid)?.get(key)
      if ((previous !== undefined && now - previous.acceptedMs < window) || (refusedAt !== undefined && now - refusedAt < window)) {
        batch.codes[i] = Code.duplicateMessageKey
        continue
      }
      const r = batch.recipients[i] as CheckedRecipient
      const own = r.attributes
      const attributes = shared === undefined ? (own ?? NO_ATTRIBUTES) : own === undefined ? shared : {...shared, ...own}
      if (reject) {
        const verdict = reject({messageKey: key, contactKey: r.contactKey, to: r.to, definitionKey: batch.definitionKey, mid: batch.mid, attributes})
        if (verdict) {
          batch.codes[i] = verdict.errorcode
          batch.messages[i] = verdict.message
          if (verdict.remember) {
            let refused = this.refused.get(batch.mid)
            if (!refused) this.refused.set(batch.mid, (refused = new Map()))
            refused.set(key, now)
          }
          continue
        }
      }
      const entry: OutboxEntry = {
        messageKey: key,
        mid: batch.mid,
        definitionKey: batch.definitionKey,
        contactKey: r.contactKey,
        to: r.to,
        attributes,
        requestId: batch.requestId,
        acceptedAt,
      }
      this.record(keys, entry, now, previous, hold)
      accepted.push(entry)
    }
    return accepted
  }

  /** Rebuilds memory from a persisted outbox entry (on start with dataDir). */
  replay(entry: OutboxEntry): void {
    const keys = this.keysOf(entry.mid)
    const acceptedMs = Date.parse(entry.acceptedAt)
    this.record(keys, entry, acceptedMs, keys.get(entry.messageKey), this.options.definitionState(entry.definitionKey) === 'Inactive')
  }

  private record(keys: Map<string, MessageRecord>, entry: OutboxEntry, now: number, previous: MessageRecord | undefined, hold: boolean): void {
    const rec: MessageRecord = {
      entry,
      seq: ++this.seq,
      acceptedMs: now,
      releasedMs: hold ? Number.NaN : now,
      state: QUEUED,
      eventMs: Number.NaN,
      eventId: 0,
      statusCode: 0,
      statusMessage: '',
      priorDeliveries: previous === undefined ? 0 : previous.priorDeliveries + 1,
    }
    keys.set(entry.messageKey, rec)
    this.outboxEntries.push(entry)
    if (hold) this.heldOf(entry.definitionKey).push(rec)
    else this.pending.push(rec)
  }

  outbox(): OutboxEntry[] {
    return this.outboxEntries.slice()
  }

  deliveries(messageKey: string): number {
    let n = 0
    for (const keys of this.byMid.values()) {
      const rec = keys.get(messageKey)
      if (rec) n += rec.priorDeliveries + 1
    }
    return n
  }

  /** The most recent message for a key in this MID, if it is at most 3 days old. */
  status(mid: string, messageKey: string, now: number): MessageRecord | undefined {
    this.settle(now)
    const rec = this.byMid.get(mid)?.get(messageKey)
    if (!rec || now - rec.acceptedMs > STATUS_RETENTION_MS) return undefined
    // A message scripted to stay queued moves on once its outcome is changed (a test lets its canary through).
    if (rec.state === QUEUED && rec.releasedMs + this.options.queuedMs <= now) {
      const outcome = this.options.outcome(messageKey)
      if (outcome.event !== 'queued') this.finish(rec, outcome, now)
    }
    return rec
  }

  /** notSent events after `afterEventId`, oldest first. */
  notSentAfter(mid: string, afterEventId: number, pageSize: number, now: number): MessageRecord[] {
    this.settle(now)
    const events = this.notSent.get(mid) ?? []
    let lo = 0
    let hi = events.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((events[mid] as MessageRecord).eventId <= afterEventId) lo = mid + 1
      else hi = mid
    }
    const page: MessageRecord[] = []
    for (let i = lo; i < events.length && page.length < pageSize; i++) {
      const rec = events[i] as MessageRecord
      if (now - rec.eventMs <= STATUS_RETENTION_MS) page.push(rec)
    }
    return page
  }

  /** Queue depth and oldest queued message of a definition (queue metrics, docs/marketing-cloud-api.md). */
  queue(definitionKey: string, now: number): {count: number; oldestMs: number | undefined} {
    this.settle(now)
    let count = 0
    let oldestMs: number | undefined
    const visit = (rec: MessageRecord) => {
      if (rec.state !== QUEUED || rec.entry.definitionKey !== definitionKey || now - rec.acceptedMs > STATUS_RETENTION_MS) return
      count++
      if (oldestMs === undefined || rec.acceptedMs < oldestMs) oldestMs = rec.acceptedMs
    }
    for (const rec of this.held.get(definitionKey) ?? []) visit(rec)
    for (let i = this.head; i < this.pending.length; i++) visit(this.pending[i] as MessageRecord)
    return {count, oldestMs}
  }

  /** Deletes the queued messages of a definition: they become notSent (37 QueuedTransactionDeleted). */
  clearQueue(definitionKey: string, now: number): number {
    this.settle(now)
    let cleared = 0
    const drop = (rec: MessageRecord) => {
      if (rec.state !== QUEUED || rec.entry.definitionKey !== definitionKey) return
      this.finish(rec, {event: 'notSent', statusCode: 37, statusMessage: 'QueuedTransactionDeleted'}, now)
      cleared++
    }
    for (const rec of this.held.get(definitionKey) ?? []) drop(rec)
    this.held.delete(definitionKey)
    for (let i = this.head; i < this.pending.length; i++) drop(this.pending[i] as MessageRecord)
    return cleared
  }

  /** Called after a definition's state changed: an active definition releases what it held. */
  definitionChanged(definitionKey: string, now: number): void {
    if (this.options.definitionState(definitionKey) === 'Inactive') return
    const held = this.held.get(definitionKey)
    if (!held) return
    this.held.delete(definitionKey)
    for (const rec of held) {
      if (rec.state !== QUEUED) continue
      rec.releasedMs = now
      this.pending.push(rec)
    }
  }

  /** Moves every message whose queued time has passed to its outcome, in order. */
  settle(now: number): void {
    const queuedMs = this.options.queuedMs
    while (this.head < this.pending.length) {
      const rec = this.pending[this.head] as MessageRecord
      const due = rec.releasedMs + queuedMs
      if (due > now) break
      this.head++
      if (rec.state !== QUEUED) continue
      if (this.options.definitionState(rec.entry.definitionKey) === 'Inactive') {
        rec.releasedMs = Number.NaN
        this.heldOf(rec.entry.definitionKey).push(rec)
        continue
      }
      this.finish(rec, this.options.outcome(rec.entry.messageKey), due)
    }
    if (this.head > 4096 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head)
      this.head = 0
    }
  }

  private finish(rec: MessageRecord, outcome: Outcome, at: number): void {
    if (outcome.event === 'queued') return
    rec.eventMs = at
    if (outcome.event === 'sent') {
      rec.state = SENT
      return
    }
    rec.state = NOT_SENT
    rec.statusCode = outcome.statusCode
    rec.statusMessage = outcome.statusMessage
    rec.eventId = ++this.eventSeq
    let events = this.notSent.get(rec.entry.mid)
    if (!events) this.notSent.set(rec.entry.mid, (events = []))
    events.push(rec)
  }

  private keysOf(mid: string): Map<string, MessageRecord> {
    let keys = this.byMid.get(mid)
    if (!keys) this.byMid.set(mid, (keys = new Map()))
    return keys
  }

  private heldOf(definitionKey: string): MessageRecord[] {
    let held = this.held.get(definitionKey)
    if (!held) this.held.set(definitionKey, (held = []))
    return held
  }
}
