import {ApiError, type ErrorCode} from '../errors.js'
import {CONCURRENCY_BLOCKED, codeName, NO_VALID_SUBSCRIBERS, parseCode, RESPONSES_HAVE_ERRORS} from './codes.js'
import {CREDENTIAL_VARIABLES} from './credentials.js'
import {hostNotFound, isRecord, RequestFailure, requestJson, type HttpRequest, type HttpResponse, type HttpSettings, type Route} from './http.js'
import {maskEmails} from './redact.js'
import {DEFAULT_RETRY_POLICY, type RetryPolicy} from './retry.js'
import {cstToUtcIso} from './timestamps.js'
import {createTokenProvider, type TokenProvider} from './token.js'
import type {
  ClientEvent,
  Credentials,
  Definition,
  MessageStatusResult,
  RecipientOutcome,
  SendBatchRequest,
  SendBatchResult,
  SendRecipient,
  SfmcClient,
} from './types.js'

export interface ClientOptions {
  retry?: Partial<RetryPolicy>
  /** Per attempt, until the response headers arrive; default 30 s. */
  timeoutMs?: number
  /** Retries and token refreshes, for --verbose and progress. Events never carry secrets. */
  onEvent?: (event: ClientEvent) => void
  /** Jitter source in [0, 1); default Math.random. */
  random?: () => number
  /** ms since epoch, for token expiry; default Date.now. */
  clock?: () => number
  /** Share one token provider between clients (or supply one in tests); by default the client makes its own. */
  tokenProvider?: TokenProvider
}

const DEFAULT_TIMEOUT_MS = 30_000

const SEND_PATH = 'messaging/v1/email/messages/'
const DOCS_RESPONSE_CODES = 'https://developer.salesforce.com/docs/marketing/marketing-cloud/guide/transactional-send-response'
const PACKAGE_SCOPES_HINT =
  'check that the installed package grants Email read, write and send (email_read email_write email_send) and has access to the business unit' +
  ` (${CREDENTIAL_VARIABLES.accountId} selects it; unset, the package's own business unit is used)`

/**
 * The Marketing Cloud client: one token provider, every call through requestJson (http.ts) with the retry policy of retry.ts.
 *
 * Keep-alive: Marketing Cloud closes connections idle for 5 s and a request written to such a socket fails
 * (transactional messaging best practices). Node's global fetch (undici) drops idle sockets after 4 s by default,
 * below that limit, so the race is rare; a reset that still happens is retried like any broken connection.
 */
export function createSfmcClient(credentials: Credentials, options: ClientOptions = {}): SfmcClient {
  const settings: HttpSettings = {
    retry: {...DEFAULT_RETRY_POLICY, ...definedOnly(options.retry ?? {})},
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    random: options.random ?? Math.random,
    onEvent: options.onEvent,
  }
  const tokens = options.tokenProvider ?? createTokenProvider(credentials, {http: settings, clock: options.clock})
  let closed = false

  const rest = (route: Route, method: HttpRequest['method'], path: string, json?: unknown, signal?: AbortSignal): Promise<HttpResponse> => {
    if (closed) throw new Error('the Marketing Cloud client is closed')
    return restCall(tokens, settings, {route, method, path, json, signal})
  }

  return {
    async sendBatch(request: SendBatchRequest, signal?: AbortSignal): Promise<SendBatchResult> {
      // Only the wire fields: callers pass richer objects (planned messages), and unknown fields are refused (109122).
      const wire = request.recipients.map((r) => {
        if (!r.messageKey) throw new Error('sendBatch: every recipient needs a messageKey (retries are safe only with client keys)')
        const out: SendRecipient = {contactKey: r.contactKey, to: r.to, messageKey: r.messageKey}
        if (hasEntries(r.attributes)) out.attributes = r.attributes
        return out
      })
      const body: Record<string, unknown> = {definitionKey: request.definitionKey, recipients: wire}
      if (hasEntries(request.attributes)) body.attributes = request.attributes
      // Retrying this POST (timeouts, resets, 5xx) is safe ONLY because every recipient carries its own messageKey:
      // Marketing Cloud queues a key at most once per business unit within its dedupe window and answers 109110
      // (DuplicateMessageKey) for a key it already accepted, which the caller counts as accepted. Without client
      // keys a retry could send the same email twice.
      let response: HttpResponse
      try {
        response = await rest('send', 'post', SEND_PATH, body, signal)
      } catch (error) {
        // Per-recipient results are read whatever the status: a batch whose every recipient failed (say, all 109110
        // after a crash) may come back as a 4xx that still lists each recipient's code.
        // 109103 (no valid subscribers) is about the recipients, not the request: each one is rejected with it.
        const perRecipient = error instanceof RequestFailure && (error.body.responses !== undefined || error.body.errorCode === NO_VALID_SUBSCRIBERS)
        if (error instanceof RequestFailure && error.kind === 'http' && perRecipient && isClientError(error.status)) {
          const answer = {requestId: error.body.requestId, errorcode: error.body.errorCode, message: error.body.message, responses: error.body.responses}
          return mapSendResponse(request.recipients, answer, error.status)
        }
        throw apiErrorFromFailure(error, (text) => tokens.redact(text), {what: `the send to definition "${request.definitionKey}"`, send: true})
      }
      return mapSendResponse(request.recipients, response.body, response.status)
    },

    async getDefinition(definitionKey: string): Promise<Definition | undefined> {
      let response: HttpResponse
      try {
        response = await rest('definition', 'get', `messaging/v1/email/definitions/${encodeURIComponent(definitionKey)}`)
      } catch (error) {
        if (isNotFound(error, false)) return undefined
        throw apiErrorFromFailure(error, (text) => tokens.redact(text), {what: `the lookup of send definition "${definitionKey}"`, send: false})
      }
      const answer = isRecord(response.body) ? response.body : {}
      const definition: Definition = {
        definitionKey: typeof answer.definitionKey === 'string' ? answer.definitionKey : definitionKey,
        status: typeof answer.status === 'string' ? answer.status : 'Unknown',
      }
      if (typeof answer.name === 'string') definition.name = answer.name
      return definition
    },

    async getMessageStatus(messageKey: string): Promise<MessageStatusResult | undefined> {
      let response: HttpResponse
      try {
        response = await rest('status', 'get', `${SEND_PATH}${encodeURIComponent(messageKey)}`)
      } catch (error) {
        // The route documents 200/400/401/500: a 400 (or a 404, to be safe) means Marketing Cloud does not know the key.
        if (isNotFound(error, true)) return undefined
        throw apiErrorFromFailure(error, (text) => tokens.redact(text), {what: 'the message status lookup', send: false})
      }
      return mapStatusResponse(response.body)
    },

    authUrl: credentials.authUrl,

    async accountId(): Promise<string | undefined> {
      if (credentials.accountId !== undefined) return credentials.accountId
      if (closed) throw new Error('the Marketing Cloud client is closed')
      try {
        const token = await tokens.get()
        const response = await requestJson(
          {route: 'token', method: 'get', url: new URL('v2/userinfo', credentials.authUrl).toString(), authorize: async () => token.value},
          settings,
        )
        // The answer also describes the user (with an email address): only the MID is read, nothing is logged.
        const organization = isRecord(response.body) && isRecord(response.body.organization) ? response.body.organization : {}
        const mid = organization.member_id
        if (typeof mid === 'number' && Number.isSafeInteger(mid) && mid > 0) return String(mid)
        if (typeof mid === 'string' && /^\d{1,18}$/.test(mid)) return mid
        return undefined
      } catch (error) {
        // Token problems surface on the next call with their own error; userinfo itself is optional.
        if (error instanceof ApiError) throw error
        return undefined
      }
    },

    async close(): Promise<void> {
      closed = true
    },
  }
}

/** A REST call with the token: a 401 invalidates the token and retries once with a fresh one (not counted as a retry). */
async function restCall(
  tokens: TokenProvider,
  settings: HttpSettings,
  call: {route: Route; method: HttpRequest['method']; path: string; json?: unknown; signal?: AbortSignal},
): Promise<HttpResponse> {
  const first = await tokens.get()
  const url = new URL(call.path, first.restUrl).toString()
  for (let refreshed = false; ; refreshed = true) {
    let used: string | undefined
    const authorize = async (): Promise<string> => {
      used = (await tokens.get()).value
      return used
    }
    try {
      return await requestJson({route: call.route, method: call.method, url, json: call.json, signal: call.signal, authorize}, settings)
    } catch (error) {
      if (!(error instanceof RequestFailure && error.kind === 'http' && error.status === 401 && used !== undefined)) throw error
      if (refreshed) {
        throw new ApiError(tokens.redact('Marketing Cloud refused a freshly issued access token (HTTP 401 Not Authorized)'), {
          code: 'not_authorized',
          status: 401,
          apiErrorCode: error.body.errorCode,
          hint: `${PACKAGE_SCOPES_HINT}; the token and the REST host must belong to the same tenant (${CREDENTIAL_VARIABLES.subdomain})`,
        })
      }
      tokens.invalidate(used)
      settings.onEvent?.({type: 'retry', route: call.route, attempt: 0, delayMs: 0, reason: 'HTTP 401 Not Authorized: access token expired or revoked, getting a new one'})
    }
  }
}

/**
 * Maps a send answer to one outcome per recipient sent, matched by messageKey: an entry with `errorcode`/`errorCode`
 * (number or numeric string, not 0) was not queued; an entry without one was queued in a 2xx answer and is unknown
 * in any other (left pending, re-sent with the same key). A recipient the answer does not mention is not accepted.
 */
export function mapSendResponse(recipients: readonly SendRecipient[], body: unknown, httpStatus = 202): SendBatchResult {
  const answer = isRecord(body) ? body : {}
  const success = httpStatus >= 200 && httpStatus < 300
  const result: SendBatchResult = {outcomes: [], httpStatus}
  if (typeof answer.requestId === 'string') result.requestId = answer.requestId
  const responses = Array.isArray(answer.responses) ? answer.responses : undefined
  // The answer usually lists the recipients in request order: then entry i is recipient i's, and no index is built.
  const inOrder = responses !== undefined && responses.length === recipients.length && recipients.every((r, i) => {
    const entry: unknown = responses[i]
    return isRecord(entry) && entry.messageKey === r.messageKey
  })
  const byKey = new Map<string, Record<string, unknown>[]>()
  for (const entry of inOrder ? [] : (responses ?? [])) {
    if (!isRecord(entry) || typeof entry.messageKey !== 'string') continue
    const list = byKey.get(entry.messageKey)
    if (list) list.push(entry)
    else byKey.set(entry.messageKey, [entry])
  }
  const topCode = parseCode(answer.errorcode ?? answer.errorCode)
  const topMessage = typeof answer.message === 'string' && answer.message.trim() !== '' ? answer.message : undefined

  for (let i = 0; i < recipients.length; i++) {
    const recipient = recipients[i]!
    const entry = inOrder ? (responses[i] as Record<string, unknown>) : byKey.get(recipient.messageKey)?.shift()
    if (entry !== undefined) {
      const code = parseCode(entry.errorcode ?? entry.errorCode)
      if ((code === undefined || code === 0) && !success) {
        result.outcomes.push({messageKey: recipient.messageKey, accepted: false, unknown: true, errorMessage: `Marketing Cloud answered HTTP ${httpStatus} without a code for this messageKey; it stays pending`})
      } else if (code === undefined || code === 0) {
        result.outcomes.push({messageKey: recipient.messageKey, accepted: true})
      } else {
        const message = typeof entry.message === 'string' && entry.message.trim() !== '' ? maskEmails(entry.message) : codeName(code)
        result.outcomes.push({messageKey: recipient.messageKey, accepted: false, errorCode: code, errorMessage: message})
      }
      continue
    }
    const outcome: RecipientOutcome = {messageKey: recipient.messageKey, accepted: false}
    if ((responses === undefined || !success) && topCode !== undefined && topCode !== 0 && topCode !== RESPONSES_HAVE_ERRORS) {
      // The whole request was refused (a 202 without a per-recipient list, or a 4xx): every recipient not listed
      // shares that reason.
      outcome.errorCode = topCode
      outcome.errorMessage = topMessage === undefined ? codeName(topCode) : maskEmails(topMessage)
    } else {
      outcome.errorMessage = 'Marketing Cloud accepted the request but its answer does not mention this messageKey; treat it as not sent'
    }
    result.outcomes.push(outcome)
  }
  return result
}

/**
 * Maps a GET status answer; the CST timestamp becomes UTC ISO. `statusCode`/`statusMessage` are read inside `info`
 * (the documented example) or at the top level (other published payloads of the same route, and the not-sent list).
 */
export function mapStatusResponse(body: unknown): MessageStatusResult {
  const answer = isRecord(body) ? body : {}
  const info = isRecord(answer.info) ? answer.info : {}
  const result: MessageStatusResult = {eventCategoryType: typeof answer.eventCategoryType === 'string' && answer.eventCategoryType.trim() !== '' ? answer.eventCategoryType : 'Unknown'}
  const timestamp = cstToUtcIso(typeof answer.timestamp === 'string' ? answer.timestamp : undefined)
  if (timestamp !== undefined) result.timestamp = timestamp
  const statusCode = parseCode(info.statusCode ?? answer.statusCode)
  if (statusCode !== undefined) result.statusCode = statusCode
  const statusMessage = typeof info.statusMessage === 'string' ? info.statusMessage : answer.statusMessage
  if (typeof statusMessage === 'string') result.statusMessage = maskEmails(statusMessage)
  return result
}

function isClientError(status: number | undefined): boolean {
  return status !== undefined && status >= 400 && status < 500 && status !== 401 && status !== 429
}

function isNotFound(error: unknown, badRequestToo: boolean): boolean {
  if (!(error instanceof RequestFailure) || error.kind !== 'http') return false
  if (error.status === 404) return true
  return error.status === 400 && (badRequestToo || error.body.errorCode === 30003)
}

/**
 * Turns a final RequestFailure into an ApiError with the API's code and message and a hint; `redact` removes secrets
 * and email addresses. Anything else is returned unchanged (ApiErrors from the token provider, bugs).
 */
export function apiErrorFromFailure(error: unknown, redact: (text: string) => string, context: {what: string; send: boolean}): unknown {
  if (!(error instanceof RequestFailure)) return error
  const outcomeUnknown = context.send && error.mayHaveBeenProcessed
  const unknownHint = outcomeUnknown
    ? 'some of these recipients may have been accepted; running apply again is safe: the same messageKeys are re-sent and Marketing Cloud answers 109110 for keys it already queued'
    : undefined
  const make = (message: string, code: ErrorCode, hint: string | undefined): ApiError =>
    new ApiError(maskEmails(redact(message)), {
      code,
      status: error.status,
      apiErrorCode: error.body.errorCode,
      outcomeUnknown,
      hint: hint === undefined ? undefined : redact(hint),
      cause: error.kind === 'connection' ? error.cause : undefined,
    })
  const attempts = error.attempts > 1 ? ` after ${error.attempts} attempts` : ''

  if (error.kind === 'http') {
    const status = error.status ?? 0
    const apiCode = error.body.errorCode
    const codeText = apiCode === undefined || apiCode === 0 ? '' : `, ${codeName(apiCode)}`
    const apiMessage = error.body.message ?? error.body.errorDescription
    const detail = apiMessage === undefined ? '' : `: ${apiMessage}`
    const message = `Marketing Cloud refused ${context.what} (HTTP ${status}${codeText})${detail}${status >= 429 ? attempts : ''}`
    if (status === 400) return make(message, 'bad_request', badRequestHint(apiCode))
    if (status === 403) return make(message, 'forbidden', PACKAGE_SCOPES_HINT)
    if (status === 404) {
      return make(message, 'not_found', `check the definitionKey: the send definition must exist and be active in this business unit (${CREDENTIAL_VARIABLES.accountId})`)
    }
    if (status === 429 && apiCode === CONCURRENCY_BLOCKED) {
      return make(
        message,
        'concurrency_blocked',
        'Marketing Cloud blocks this business unit for too many concurrent requests: run again with --parallelism 1, and make sure no other integration sends at the same time; if it persists, contact Salesforce support',
      )
    }
    if (status === 429) return make(message, 'rate_limited', 'Marketing Cloud is rate-limiting this business unit; wait a few minutes and run again')
    if (status >= 500) return make(message, 'server_error', unknownHint ?? 'Marketing Cloud is having trouble; wait a few minutes and run again')
    return make(message, 'api_error', `see ${DOCS_RESPONSE_CODES}`)
  }
  if (error.kind === 'timeout') {
    return make(`Marketing Cloud did not answer ${context.what}: ${error.message}${attempts}`, 'timeout', unknownHint ?? 'check the network and run again')
  }
  if (error.kind === 'aborted') return make(`${context.what} was cancelled`, 'aborted', unknownHint)
  if (error.kind === 'invalid-response') return make(`${error.message} (${context.what})`, 'bad_response', unknownHint)
  return make(
    `could not reach Marketing Cloud for ${context.what}: ${error.message}${attempts}`,
    'unreachable',
    unknownHint ?? (hostNotFound(error) ? `the REST host does not resolve: check ${CREDENTIAL_VARIABLES.subdomain}` : 'check the network connection, proxy and firewall, then run again'),
  )
}

function badRequestHint(code: number | undefined): string {
  switch (code) {
    case 109101:
      return 'a request holds at most 2000 recipients (500 recommended when recipients carry attributes); lower batchSize in the manifest'
    case 109102:
    case 109103:
      return 'the batch had no valid recipient: check contactKey and to in the recipient sources'
    case 109107:
    case 109111:
      return `check definitionKey in the manifest: the send definition must exist in this business unit (${CREDENTIAL_VARIABLES.accountId})`
    case 109122:
    case 10004:
      return 'Marketing Cloud did not understand the request; this is a bug in mcsend, please report it'
    default:
      return code === undefined ? 'Marketing Cloud did not say why; check the manifest and run `mcsend validate`' : `see ${DOCS_RESPONSE_CODES} for code ${code}`
  }
}

function hasEntries(value: object | undefined): boolean {
  for (const key in value) if (Object.hasOwn(value, key)) return true
  return false
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
