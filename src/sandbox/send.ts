import {randomUUID} from 'node:crypto'

import type {DefinitionRegistry} from './definitions.js'
import {parseJsonBody} from './http-io.js'
import type {CheckedRecipient, CheckedSend, MessageStore} from './messages.js'
import type {OutboxFile} from './outbox-file.js'
import {Code, MAX_CONTACT_KEY_LENGTH, MAX_MESSAGE_KEY_LENGTH, MAX_RECIPIENTS, RECIPIENT_MESSAGES, apiError, json, type WireResponse} from './wire.js'

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
const MAX_EMAIL_LENGTH = 254

export interface SendContext {
  definitions: DefinitionRegistry
  store: MessageStore
  /** Where accepted messages are appended, when the sandbox has a data directory. */
  outbox: OutboxFile | undefined
  lenient: boolean
  /** HTTP status for a batch whose every recipient failed (undefined: 202). */
  failedBatchStatus: number | undefined
}

/**
 * The send routes: `POST /messaging/v1/email/messages` (a batch) and `POST …/messages/{messageKey}` (one
 * recipient). Checks the body, refuses an unknown or deleted definition, then dedupes, records and answers.
 */
export async function answerSend(ctx: SendContext, pathKey: string | undefined, contentType: string | undefined, body: Buffer | undefined, mid: string, now: number): Promise<WireResponse> {
  const parsed = parseJsonBody(contentType, body)
  if (parsed instanceof Error) {
    return parsed.message === 'media'
      ? apiError(415, 0, 'Unsupported Media Type: send the body as JSON with Content-Type: application/json', ctx.lenient)
      : apiError(400, Code.serialization, 'Serialization error: the request body is not valid JSON (unbalanced or malformed)', ctx.lenient)
  }
  const checked = pathKey === undefined ? checkBatch(parsed.value, ctx.lenient) : checkSingle(parsed.value, pathKey, ctx.lenient)
  if ('status' in checked) return checked
  const state = ctx.definitions.state(checked.definitionKey)
  if (state === 'missing' || state === 'Deleted') {
    const res = apiError(400, Code.invalidDefinitionKey, "MCMS_UTM_Validation_InvalidValue_definitionKey: Definition key doesn't exist for this MID", ctx.lenient)
    res.recipients = checked.keys.length
    return res
  }
  const requestId = randomUUID()
  // Dedupe and recording happen synchronously here, so concurrent duplicates are decided one request at a time.
  // commit() writes each recipient's verdict into the shared `codes`/`messages` arrays that sendResponse reads.
  const accepted = ctx.store.commit({...checked, mid, requestId}, now, new Date(now).toISOString())
  const response = sendResponse(requestId, checked, ctx.lenient, pathKey === undefined ? ctx.failedBatchStatus : undefined)
  if (ctx.outbox && accepted.length > 0) {
    let chunk = ''
    for (const entry of accepted) chunk += `${JSON.stringify(entry)}\n`
    try {
      await ctx.outbox.append(chunk)
    } catch {
      return apiError(500, 0, 'Internal Server Error: the sandbox could not write its outbox', ctx.lenient)
    }
  }
  return response
}

/** Validates `{definitionKey, recipients[], attributes?}` for the batch route (docs/marketing-cloud-api.md). */
export function checkBatch(body: unknown, lenient: boolean): CheckedSend | WireResponse {
  if (!isObject(body)) return apiError(400, Code.invalidDataType, 'MCMS_UTM_Validation_InvalidDataType: the request body must be a JSON object', lenient)
  for (const field in body) {
    if (field !== 'definitionKey' && field !== 'recipients' && field !== 'attributes') return unknownField(field, lenient)
  }
  const head = checkHead(body, lenient)
  if (!('definitionKey' in head)) return head
  const list = body.recipients
  if (list === undefined || (Array.isArray(list) && list.length === 0)) {
    return apiError(400, Code.noSubscribers, 'MCMS_UTM_Validation_NoSubscribers: recipients must hold at least one recipient', lenient)
  }
  if (!Array.isArray(list)) return apiError(400, Code.invalidDataType, 'MCMS_UTM_Validation_InvalidDataType: recipients must be an array', lenient)
  if (list.length > MAX_RECIPIENTS) {
    return apiError(400, Code.tooManySubscribers, `MCMS_UTM_Validation_TooManySubscribers: at most ${MAX_RECIPIENTS} recipients per request, got ${list.length}`, lenient)
  }
  const n = list.length
  const keys = new Array<string>(n)
  const codes = new Array<number>(n)
  for (let i = 0; i < n; i++) {
    const r: unknown = list[i]
    if (!isObject(r)) return apiError(400, Code.invalidDataType, `MCMS_UTM_Validation_InvalidDataType: recipients[${i}] must be an object`, lenient)
    for (const field in r) {
      if (field !== 'contactKey' && field !== 'to' && field !== 'messageKey' && field !== 'attributes') return unknownField(field, lenient)
    }
    if (r.attributes !== undefined && !isObject(r.attributes)) {
      return apiError(400, Code.invalidDataType, `MCMS_UTM_Validation_InvalidDataType: recipients[${i}].attributes must be an object`, lenient)
    }
    const key = r.messageKey
    if (key === undefined) {
      keys[i] = randomUUID()
      codes[i] = checkRecipient(r)
    } else if (typeof key !== 'string') {
      keys[i] = String(key)
      codes[i] = Code.invalidMessageKey
    } else {
      keys[i] = key
      codes[i] = validKey(key) ? checkRecipient(r) : Code.invalidMessageKey
    }
  }
  return {definitionKey: head.definitionKey, attributes: head.attributes, recipients: list as CheckedRecipient[], keys, codes, messages: []}
}

/** Validates `{definitionKey, recipient}` for the singleton route; the key comes from the path (docs/marketing-cloud-api.md). */
export function checkSingle(body: unknown, pathKey: string, lenient: boolean): CheckedSend | WireResponse {
  if (!isObject(body)) return apiError(400, Code.invalidDataType, 'MCMS_UTM_Validation_InvalidDataType: the request body must be a JSON object', lenient)
  for (const field in body) {
    if (field !== 'definitionKey' && field !== 'recipient') return unknownField(field, lenient)
  }
  const head = checkHead(body, lenient)
  if (!('definitionKey' in head)) return head
  const r = body.recipient
  if (r === undefined) return apiError(400, Code.missingRequiredField, 'MCMS_UTM_Validation_MissingRequiredField: recipient is required', lenient)
  if (!isObject(r)) return apiError(400, Code.invalidDataType, 'MCMS_UTM_Validation_InvalidDataType: recipient must be an object', lenient)
  for (const field in r) {
    if (field !== 'contactKey' && field !== 'to' && field !== 'attributes') return unknownField(field, lenient)
  }
  if (r.attributes !== undefined && !isObject(r.attributes)) {
    return apiError(400, Code.invalidDataType, 'MCMS_UTM_Validation_InvalidDataType: recipient.attributes must be an object', lenient)
  }
  const code = validKey(pathKey) ? checkRecipient(r) : Code.invalidMessageKey
  return {definitionKey: head.definitionKey, attributes: undefined, recipients: [r as unknown as CheckedRecipient], keys: [pathKey], codes: [code], messages: []}
}

/** The 202 body: success entries carry only messageKey; failures add errorcode and message (docs/marketing-cloud-api.md). */
export function sendResponse(requestId: string, send: CheckedSend, lenient: boolean, allFailedStatus?: number): WireResponse {
  const n = send.keys.length
  const responses = new Array<Record<string, unknown>>(n)
  let failed = 0
  for (let i = 0; i < n; i++) {
    const code = send.codes[i] as number
    if (code === 0) {
      responses[i] = {messageKey: send.keys[i]}
    } else {
      failed++
      responses[i] = {messageKey: send.keys[i], errorcode: lenient ? String(code) : code, message: send.messages[i] ?? RECIPIENT_MESSAGES[code] ?? 'Invalid subscriber'}
    }
  }
  // Every recipient failed: optionally a non-2xx answer that still lists each recipient's result (the docs do not
  // say which status Marketing Cloud uses then; clients must read responses[] whatever the status).
  const allFailed = failed === n && allFailedStatus !== undefined
  const topCode = allFailed ? Code.noValidSubscribers : Code.responsesHaveErrors
  const topMessage = allFailed ? `MCMS_UTM_Validation_NoValidSubscribers: none of the ${n} subscribers could be queued` : `MCMS_UTM_ResponsesHasErrors: ${failed} subscribers failed to queue out of ${n}`
  const res =
    failed === 0
      ? json(202, {requestId, errorcode: lenient ? '0' : 0, responses})
      : json(allFailed ? allFailedStatus : 202, {requestId, errorcode: lenient ? String(topCode) : topCode, message: topMessage, responses})
  res.recipients = n
  return res
}

function checkHead(body: Record<string, unknown>, lenient: boolean): {definitionKey: string; attributes: Record<string, unknown> | undefined} | WireResponse {
  const {definitionKey, attributes} = body
  if (definitionKey === undefined || definitionKey === null || definitionKey === '') {
    return apiError(400, Code.missingDefinitionKey, 'MCMS_UTM_Validation_MissingRequiredField_definitionKey: definitionKey is required', lenient)
  }
  if (typeof definitionKey !== 'string') {
    return apiError(400, Code.invalidDefinitionKey, 'MCMS_UTM_Validation_InvalidValue_definitionKey: definitionKey must be a string', lenient)
  }
  if (attributes !== undefined && !isObject(attributes)) {
    return apiError(400, Code.invalidDataType, 'MCMS_UTM_Validation_InvalidDataType: attributes must be an object', lenient)
  }
  return {definitionKey, attributes}
}

function checkRecipient(r: Record<string, unknown>): number {
  const {contactKey, to} = r
  if (contactKey === undefined || contactKey === null || contactKey === '') return Code.missingSubscriberKey
  if (typeof contactKey !== 'string' || contactKey.length > MAX_CONTACT_KEY_LENGTH) return Code.invalidSubscriberKey
  if (to === undefined || to === null || to === '') return Code.missingTo
  if (typeof to !== 'string' || to.length > MAX_EMAIL_LENGTH || !EMAIL.test(to)) return Code.invalidTo
  return 0
}

/** 1 to 100 characters (code points; UTF-16 length can only overcount them). */
function validKey(key: string): boolean {
  if (key.length === 0) return false
  if (key.length <= MAX_MESSAGE_KEY_LENGTH) return true
  let count = 0
  for (const _ of key) if (++count > MAX_MESSAGE_KEY_LENGTH) return false
  return true
}

function unknownField(field: string, lenient: boolean): WireResponse {
  return apiError(400, Code.unknownFieldName, `MCMS_UTM_Validation_UnknownFieldName: Unrecognized email field name '${field}'`, lenient)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
