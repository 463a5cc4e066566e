import {CliError} from '../errors.js'
import {abortableSleep} from '../text/duration.js'
import {CONCURRENCY_BLOCKED, codeName, parseCode} from './codes.js'
import {backoffDelayMs, classifyConnectionError, OUTCOME_UNKNOWN_STATUSES, RETRY_STATUSES, retryAfterMs, type RetryPolicy} from './retry.js'
import type {ClientEvent} from './types.js'

/** How every Marketing Cloud request is made: retry policy, per-attempt timeout, jitter source, event sink. */
export interface HttpSettings {
  retry: RetryPolicy
  /** Per attempt, until the response headers arrive. */
  timeoutMs: number
  random: () => number
  onEvent?: (event: ClientEvent) => void
}

export type Route = 'token' | 'send' | 'status' | 'definition'

export interface HttpRequest {
  route: Route
  method: 'get' | 'post'
  url: string
  json?: unknown
  signal?: AbortSignal
  /** Called before every attempt (retries included) for the bearer token to send, so a refreshed token is picked up. */
  authorize?: () => Promise<string>
}

export interface HttpResponse {
  status: number
  /** Parsed JSON, or undefined for an empty body. */
  body: unknown
}

/** The error fields Marketing Cloud uses: REST `{message, errorcode}` and OAuth `{error, error_description}`. */
export interface ApiErrorBody {
  message?: string
  errorCode?: number
  error?: string
  errorDescription?: string
  /** Seconds, from a 429 body. */
  retryAfter?: number
  /** Per-recipient results (`responses[]`) when the answer carries them, whatever its HTTP status. */
  responses?: unknown[]
  requestId?: string
}

export type FailureKind = 'http' | 'timeout' | 'connection' | 'aborted' | 'invalid-response'

/**
 * Why a request finally failed, after retries. It deliberately keeps no request, headers or options (they hold
 * the bearer token or the client secret).
 */
export class RequestFailure extends Error {
  readonly kind: FailureKind
  readonly status?: number
  readonly body: ApiErrorBody
  readonly attempts: number
  /** The server may have processed the request (5xx, timeout, broken connection, abort mid-flight). */
  readonly mayHaveBeenProcessed: boolean

  constructor(
    message: string,
    fields: {kind: FailureKind; status?: number; body?: ApiErrorBody; attempts: number; mayHaveBeenProcessed: boolean; cause?: unknown},
  ) {
    super(message, fields.cause === undefined ? undefined : {cause: fields.cause})
    this.name = 'RequestFailure'
    this.kind = fields.kind
    this.status = fields.status
    this.body = fields.body ?? {}
    this.attempts = fields.attempts
    this.mayHaveBeenProcessed = fields.mayHaveBeenProcessed
  }
}

/** An attempt that got no response headers within the per-attempt timeout. */
class AttemptTimeout extends Error {}

/** A non-2xx answer of one attempt, with its error body read (once). */
interface HttpAnswer {
  status: number
  headers: Headers
  body: ApiErrorBody
}

/**
 * One JSON request through the global fetch, retried per the policy: 429 (after Retry-After when given),
 * 500/502/503/504, timeouts and broken connections. Resolves with any 2xx; rejects with a RequestFailure, or with
 * whatever `authorize` threw (an ApiError from the token provider) untouched.
 *
 * A plain loop over fetch, not a request library: one request per batch of up to 2,000 recipients, and a Request
 * object cloned for retries copies that body through a web stream on every call. The body is serialised once and
 * handed to fetch as a string on each attempt.
 */
export async function requestJson(request: HttpRequest, settings: HttpSettings): Promise<HttpResponse> {
  const body = request.json === undefined ? undefined : JSON.stringify(request.json)
  let attempts = 0
  for (let retry = 1; ; retry++) {
    let outcome: Response | HttpAnswer | Error
    try {
      attempts++
      const response = await fetchOnce(request, body, settings)
      outcome = response.ok ? response : {status: response.status, headers: response.headers, body: await readErrorBodyOf(response)}
    } catch (error) {
      if (error instanceof CliError) throw error
      outcome = error instanceof Error ? error : new Error(String(error))
    }
    if (outcome instanceof Response) {
      // A 2xx is final: a body cut short is reported (outcome unknown), not sent again.
      try {
        return await readAnswer(outcome, attempts)
      } catch (error) {
        if (error instanceof RequestFailure) throw error
        throw finalFailure(error instanceof Error ? error : new Error(String(error)), attempts, request, settings)
      }
    }
    const failure = outcome
    const decision = retry <= settings.retry.limit ? decide(failure, retry, request, settings) : undefined
    if (decision === undefined) throw finalFailure(failure, attempts, request, settings)
    settings.onEvent?.({type: 'retry', route: request.route, attempt: retry, delayMs: decision.delayMs, reason: decision.reason})
    await abortableSleep(decision.delayMs, request.signal)
    if (request.signal?.aborted) throw new RequestFailure('the request was cancelled', {kind: 'aborted', attempts, mayHaveBeenProcessed: true})
  }
}

/** One attempt: a fresh bearer token (a refreshed one is picked up), and a timeout until the response headers. */
async function fetchOnce(request: HttpRequest, body: string | undefined, settings: HttpSettings): Promise<Response> {
  const headers: Record<string, string> = {accept: 'application/json'}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (request.authorize) headers.authorization = `Bearer ${await request.authorize()}`
  const controller = new AbortController()
  const signal = request.signal ? AbortSignal.any([request.signal, controller.signal]) : controller.signal
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort()
  }, settings.timeoutMs)
  try {
    return await fetch(request.url, {method: request.method.toUpperCase(), headers, body, signal})
  } catch (error) {
    if (timedOut && !request.signal?.aborted) throw new AttemptTimeout(`no response within ${settings.timeoutMs} ms`)
    throw error
  } finally {
    clearTimeout(timer)
  }
}

async function readAnswer(response: Response, attempts: number): Promise<HttpResponse> {
  const text = await response.text()
  try {
    return {status: response.status, body: parseJson(text)}
  } catch (error) {
    throw new RequestFailure(`Marketing Cloud answered HTTP ${response.status} with a body that is not JSON`, {
      kind: 'invalid-response',
      status: response.status,
      attempts,
      mayHaveBeenProcessed: true,
      cause: error,
    })
  }
}

async function readErrorBodyOf(response: Response): Promise<ApiErrorBody> {
  try {
    return readErrorBody(parseJson(await response.text()))
  } catch {
    // An unreadable error body leaves only the status to go on.
    return {}
  }
}

function isAnswer(failure: HttpAnswer | Error): failure is HttpAnswer {
  return !(failure instanceof Error)
}

/** Whether to try again after this failure, how long to wait first, and why (for --verbose); undefined: give up. */
function decide(failure: HttpAnswer | Error, retry: number, request: HttpRequest, settings: HttpSettings): {delayMs: number; reason: string} | undefined {
  if (request.signal?.aborted) return undefined
  if (isAnswer(failure)) {
    const {status, body} = failure
    if (!RETRY_STATUSES.has(status)) return undefined
    // 50200 means too many concurrent requests, not a rate: retrying at the same concurrency makes it worse.
    // The caller lowers its concurrency instead (src/apply/execute.ts).
    if (status === 429 && body.errorCode === CONCURRENCY_BLOCKED) return undefined
    const code = body.errorCode === undefined ? '' : ` (${codeName(body.errorCode)})`
    const after = status === 429 || status === 503 ? retryAfterMs(failure.headers.get('retry-after') ?? body.retryAfter, settings.retry.maxRetryAfterMs) : undefined
    if (after !== undefined) {
      // Honour the server's wait; a little spread keeps parallel batches from returning in the same millisecond.
      const spread = Math.floor(settings.random() * Math.min(settings.retry.baseDelayMs, 1000))
      return {delayMs: after + spread, reason: `HTTP ${status}${code}, Retry-After ${Math.round(after / 1000)} s`}
    }
    return {delayMs: backoffDelayMs(retry, settings.retry, settings.random), reason: `HTTP ${status}${code}`}
  }
  if (failure instanceof AttemptTimeout) {
    return {delayMs: backoffDelayMs(retry, settings.retry, settings.random), reason: `no response within ${settings.timeoutMs} ms`}
  }
  const connection = classifyConnectionError(failure)
  if (connection?.retriable) return {delayMs: backoffDelayMs(retry, settings.retry, settings.random), reason: connection.reason}
  return undefined
}

/** The RequestFailure for the last attempt's failure (or the error itself when it is none of ours to describe). */
function finalFailure(failure: HttpAnswer | Error, attempts: number, request: HttpRequest, settings: HttpSettings): Error {
  if (request.signal?.aborted) return new RequestFailure('the request was cancelled', {kind: 'aborted', attempts, mayHaveBeenProcessed: attempts > 0})
  if (isAnswer(failure)) {
    const {status, body} = failure
    return new RequestFailure(`HTTP ${status}`, {kind: 'http', status, body, attempts, mayHaveBeenProcessed: OUTCOME_UNKNOWN_STATUSES.has(status)})
  }
  if (failure instanceof AttemptTimeout) {
    return new RequestFailure(`no response within ${settings.timeoutMs} ms`, {kind: 'timeout', attempts, mayHaveBeenProcessed: true})
  }
  const connection = classifyConnectionError(failure)
  if (connection) {
    // The cause is the socket error (code and message only); it holds no request data.
    return new RequestFailure(connection.reason, {kind: 'connection', attempts, mayHaveBeenProcessed: connection.outcomeUnknown, cause: socketCause(failure)})
  }
  return failure
}

/** Reads `message`, `errorcode`/`errorCode` (number or numeric string), OAuth `error`/`error_description` and `retryAfter`. */
function readErrorBody(value: unknown): ApiErrorBody {
  if (!isRecord(value)) return {}
  const out: ApiErrorBody = {}
  if (typeof value.message === 'string' && value.message.trim() !== '') out.message = value.message
  const code = parseCode(value.errorcode ?? value.errorCode)
  if (code !== undefined) out.errorCode = code
  if (typeof value.error === 'string') out.error = value.error
  if (typeof value.error_description === 'string') out.errorDescription = value.error_description
  const retryAfter = typeof value.retryAfter === 'string' ? Number(value.retryAfter) : value.retryAfter
  if (typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter >= 0) out.retryAfter = retryAfter
  if (Array.isArray(value.responses)) out.responses = value.responses
  if (typeof value.requestId === 'string') out.requestId = value.requestId
  return out
}

/** The final failure was a host name that does not resolve (not retried: a wrong subdomain or URL, or no DNS). */
export function hostNotFound(failure: RequestFailure): boolean {
  return failure.kind === 'connection' && isRecord(failure.cause) && failure.cause.code === 'ENOTFOUND'
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function parseJson(text: string): unknown {
  return text.trim() === '' ? undefined : JSON.parse(text)
}

function socketCause(error: unknown): Error | undefined {
  const cause = isRecord(error) ? error.cause : undefined
  if (!isRecord(cause)) return undefined
  const socketError = new Error(typeof cause.message === 'string' ? cause.message : 'socket error')
  if (typeof cause.code === 'string') Object.assign(socketError, {code: cause.code})
  return socketError
}
