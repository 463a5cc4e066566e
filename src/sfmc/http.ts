import ky, {isHTTPError, isTimeoutError, type HTTPError} from 'ky'

import {CliError} from '../errors.js'
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
 * Why a request finally failed, after retries. It deliberately keeps no request, headers or options
 * (ky's HTTPError holds them, and with them the bearer token or the client secret).
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

/**
 * One JSON request through ky, retried per the policy: 429 (after Retry-After when given), 500/502/503/504,
 * timeouts and broken connections. Resolves with any 2xx; rejects with a RequestFailure, or with whatever
 * `authorize` threw (an ApiError from the token provider) untouched.
 */
export async function requestJson(request: HttpRequest, settings: HttpSettings): Promise<HttpResponse> {
  const errorBodies = new WeakMap<HTTPError, ApiErrorBody>()
  const readBody = async (error: HTTPError): Promise<ApiErrorBody> => {
    const cached = errorBodies.get(error)
    if (cached) return cached
    let body: ApiErrorBody = {}
    try {
      body = readErrorBody(parseJson(await error.response.text()))
    } catch {
      // An unreadable error body leaves only the status to go on.
    }
    errorBodies.set(error, body)
    return body
  }
  let attempts = 0
  let nextDelayMs = 0
  const decide = async (error: Error, retry: number): Promise<{delayMs: number; reason: string} | undefined> => {
    // Our own errors (an ApiError from the token provider in `authorize`) were already retried where they arose.
    if (request.signal?.aborted || error instanceof CliError) return undefined
    if (isHTTPError(error)) {
      const status = error.response.status
      if (!RETRY_STATUSES.has(status)) return undefined
      const body = await readBody(error)
      // 50200 means too many concurrent requests, not a rate: retrying at the same concurrency makes it worse.
      // The caller lowers its concurrency instead (src/apply/execute.ts).
      if (status === 429 && body.errorCode === CONCURRENCY_BLOCKED) return undefined
      const code = body.errorCode === undefined ? '' : ` (${codeName(body.errorCode)})`
      const after =
        status === 429 || status === 503
          ? retryAfterMs(error.response.headers.get('retry-after') ?? body.retryAfter, settings.retry.maxRetryAfterMs)
          : undefined
      if (after !== undefined) {
        // Honour the server's wait; a little spread keeps parallel batches from returning in the same millisecond.
        const spread = Math.floor(settings.random() * Math.min(settings.retry.baseDelayMs, 1000))
        return {delayMs: after + spread, reason: `HTTP ${status}${code}, Retry-After ${Math.round(after / 1000)} s`}
      }
      return {delayMs: backoffDelayMs(retry, settings.retry, settings.random), reason: `HTTP ${status}${code}`}
    }
    if (isTimeoutError(error)) {
      return {delayMs: backoffDelayMs(retry, settings.retry, settings.random), reason: `no response within ${settings.timeoutMs} ms`}
    }
    const connection = classifyConnectionError(error)
    if (connection?.retriable) return {delayMs: backoffDelayMs(retry, settings.retry, settings.random), reason: connection.reason}
    return undefined
  }

  try {
    const response = await ky(request.url, {
      method: request.method,
      json: request.json,
      signal: request.signal,
      timeout: settings.timeoutMs,
      headers: {accept: 'application/json'},
      retry: {
        limit: settings.retry.limit,
        // POST is retried too: safe for sends only because every recipient carries its own messageKey (see client.ts).
        methods: ['get', 'post'],
        statusCodes: [...RETRY_STATUSES],
        afterStatusCodes: [],
        retryOnTimeout: true,
        backoffLimit: Number.POSITIVE_INFINITY,
        // `shouldRetry` decides and computes the wait (backoff or Retry-After); ky only sleeps for it.
        delay: () => nextDelayMs,
        shouldRetry: async ({error, retryCount}) => {
          const decision = await decide(error, retryCount)
          if (decision === undefined) return false
          nextDelayMs = decision.delayMs
          settings.onEvent?.({type: 'retry', route: request.route, attempt: retryCount, delayMs: decision.delayMs, reason: decision.reason})
          return true
        },
      },
      hooks: {
        beforeRequest: [
          async (outgoing) => {
            attempts++
            if (request.authorize) outgoing.headers.set('authorization', `Bearer ${await request.authorize()}`)
          },
        ],
      },
    })
    const text = await response.text()
    let body: unknown
    try {
      body = parseJson(text)
    } catch (error) {
      throw new RequestFailure(`Marketing Cloud answered HTTP ${response.status} with a body that is not JSON`, {
        kind: 'invalid-response',
        status: response.status,
        attempts,
        mayHaveBeenProcessed: true,
        cause: error,
      })
    }
    return {status: response.status, body}
  } catch (error) {
    if (error instanceof RequestFailure || error instanceof CliError) throw error
    if (request.signal?.aborted) {
      throw new RequestFailure('the request was cancelled', {kind: 'aborted', attempts, mayHaveBeenProcessed: attempts > 0})
    }
    if (isHTTPError(error)) {
      const status = error.response.status
      const body = await readBody(error)
      throw new RequestFailure(`HTTP ${status}`, {kind: 'http', status, body, attempts, mayHaveBeenProcessed: OUTCOME_UNKNOWN_STATUSES.has(status)})
    }
    if (isTimeoutError(error)) {
      throw new RequestFailure(`no response within ${settings.timeoutMs} ms`, {kind: 'timeout', attempts, mayHaveBeenProcessed: true})
    }
    const connection = classifyConnectionError(error)
    if (connection) {
      // The cause is the socket error (code and message only); it holds no request data.
      throw new RequestFailure(connection.reason, {
        kind: 'connection',
        attempts,
        mayHaveBeenProcessed: connection.outcomeUnknown,
        cause: socketCause(error),
      })
    }
    throw error
  }
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
