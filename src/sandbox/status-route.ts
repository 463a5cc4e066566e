/**
 * The status routes: `GET /messaging/v1/email/messages/{messageKey}` (one message's latest event) and
 * `GET /messaging/v1/email/messages?type=notSent` (the notSent events, paged by event id), as
 * docs/marketing-cloud-api.md describes them, with the rate limit that makes clients pace themselves.
 */
import {randomUUID} from 'node:crypto'

import {positiveInt} from './definitions.js'
import {rateLimited} from './faults.js'
import {NOT_SENT, QUEUED, type MessageRecord, type MessageStore} from './messages.js'
import {Code, apiError, cstTimestamp, json, type WireResponse} from './wire.js'

const DEFAULT_NOT_SENT_PAGE = 100
const MAX_NOT_SENT_PAGE = 2500

/** A fixed window in real time (Retry-After is a real-time instruction to the client), whatever the sandbox's clock. */
export class StatusRateLimit {
  private windowStart = 0
  private windowCount = 0

  constructor(
    private readonly rate: {requests: number; perMs: number},
    private readonly lenient: boolean,
  ) {
    if (!(Number.isInteger(rate.requests) && rate.requests >= 1 && rate.perMs > 0)) throw new RangeError('statusRateLimit needs requests >= 1 and perMs > 0')
  }

  /** undefined when the request may go ahead; else the 429 to answer. */
  take(): WireResponse | undefined {
    const t = Date.now()
    if (t - this.windowStart >= this.rate.perMs) {
      this.windowStart = t
      this.windowCount = 0
    }
    if (this.windowCount < this.rate.requests) {
      this.windowCount++
      return undefined
    }
    const retryAfter = Math.max(1, Math.ceil((this.windowStart + this.rate.perMs - t) / 1000))
    return rateLimited(retryAfter, Code.rateLimited, this.lenient)
  }
}

export function answerStatus(store: MessageStore, mid: string, messageKey: string, now: number, lenient: boolean): WireResponse {
  const rec = store.status(mid, messageKey, now)
  // The status route documents 200, 400, 401 and 500 only: an unknown key is a 400.
  if (!rec) return apiError(400, Code.objectNotFound, 'MCMS_UTM_Runtime_ObjectNotFound: no message with this messageKey in the last 3 days', lenient)
  const requestId = randomUUID()
  if (rec.state === QUEUED) {
    return json(200, {requestId, eventCategoryType: 'TransactionalSendEvents.EmailQueued', timestamp: cstTimestamp(rec.acceptedMs, rec.seq)})
  }
  const info: Record<string, unknown> = {messageKey: rec.entry.messageKey, contactKey: rec.entry.contactKey, to: rec.entry.to}
  if (rec.state === NOT_SENT) {
    info.statusCode = lenient ? String(rec.statusCode) : rec.statusCode
    info.statusMessage = rec.statusMessage
  }
  return json(200, {
    requestId,
    eventCategoryType: rec.state === NOT_SENT ? 'TransactionalSendEvents.EmailNotSent' : 'TransactionalSendEvents.EmailSent',
    timestamp: cstTimestamp(rec.eventMs, rec.seq),
    compositeId: `${rec.entry.mid}.${Math.floor(rec.acceptedMs / 1000)}.${rec.seq}`,
    info,
  })
}

export function answerNotSent(store: MessageStore, mid: string, query: URLSearchParams, now: number, lenient: boolean): WireResponse {
  const type = query.get('type')
  if (type === null) return apiError(400, Code.missingRequiredField, 'MCMS_UTM_Validation_MissingRequiredField: type is required (type=notSent)', lenient)
  if (type !== 'notSent') return apiError(400, Code.invalidValue, `MCMS_UTM_Validation_InvalidValue: type must be notSent, got "${type}"`, lenient)
  const pageSize = positiveInt(query.get('$pageSize'), DEFAULT_NOT_SENT_PAGE)
  if (pageSize === undefined || pageSize > MAX_NOT_SENT_PAGE) {
    return apiError(400, Code.invalidValue, `MCMS_UTM_Validation_InvalidValue: $pageSize must be an integer from 1 to ${MAX_NOT_SENT_PAGE}`, lenient)
  }
  const rawLast = query.get('lastEventId') ?? query.get('lastEventID')
  let last = 0
  if (rawLast !== null && rawLast !== '') {
    if (!/^\d+$/.test(rawLast)) return apiError(400, Code.invalidValue, 'MCMS_UTM_Validation_InvalidValue: lastEventId must be a non-negative integer', lenient)
    last = Number(rawLast)
  }
  const page = store.notSentAfter(mid, last, pageSize, now)
  const messages = page.map((rec) => ({
    statusCode: lenient ? String(rec.statusCode) : rec.statusCode,
    statusMessage: rec.statusMessage,
    eventCategoryType: 'TransactionalSendEvents.EmailNotSent',
    timestamp: cstTimestamp(rec.eventMs, rec.seq),
    definitionKey: rec.entry.definitionKey,
    eventID: rec.eventId,
    info: {messageKey: rec.entry.messageKey},
  }))
  const lastEventID = page.length > 0 ? (page[page.length - 1] as MessageRecord).eventId : last
  return json(200, {lastEventID, messages, count: messages.length})
}
