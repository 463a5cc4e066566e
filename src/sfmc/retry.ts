/** Retry policy for Marketing Cloud calls: which failures are retried, and how long to wait. Pure functions. */

export interface RetryPolicy {
  /** Retries after the first attempt. */
  limit: number
  /** The first backoff ceiling; it doubles per attempt. */
  baseDelayMs: number
  /** The backoff ceiling never exceeds this. */
  maxDelayMs: number
  /** A Retry-After longer than this is cut down to it, so one answer cannot stall a run for hours. */
  maxRetryAfterMs: number
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {limit: 5, baseDelayMs: 500, maxDelayMs: 20_000, maxRetryAfterMs: 60_000}

/**
 * Exponential backoff with full jitter: uniform in [0, min(maxDelayMs, baseDelayMs * 2^(attempt-1))].
 * `attempt` is the retry number, starting at 1. Salesforce asks for exponential backoff rather than
 * continuous retries (rate-limiting best practices); jitter keeps parallel batches from retrying in step.
 */
export function backoffDelayMs(attempt: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, random: () => number): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30)
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent)
  return Math.floor(clamp01(random()) * ceiling)
}

/**
 * The wait a Retry-After value asks for, in ms, capped at `maxMs`; undefined when absent or unreadable.
 * Marketing Cloud sends whole seconds; an HTTP date is accepted too.
 */
export function retryAfterMs(value: string | number | null | undefined, maxMs: number, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined
  let ms: number
  if (typeof value === 'number') ms = value * 1000
  else if (/^\s*\d+(\.\d+)?\s*$/.test(value)) ms = Number(value) * 1000
  else {
    const date = Date.parse(value)
    if (Number.isNaN(date)) return undefined
    ms = date - now
  }
  if (!Number.isFinite(ms)) return undefined
  return Math.min(Math.max(ms, 0), maxMs)
}

/** Statuses worth another attempt: rate limiting and transient server trouble. 400/401/403/404 are not. */
export const RETRY_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504])

/**
 * After one of these the request may have been processed: the server got it and did not say what it did.
 * 429 is not here: a throttled request was refused before processing.
 */
export const OUTCOME_UNKNOWN_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504])

/** Socket-level error codes (undici and Node) that mean "the connection broke"; the request may or may not have arrived. */
const BROKEN_CONNECTION_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
])

/** Codes that mean the request never left this machine: safe to retry, and nothing can have been processed. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT'])

/** A failure below HTTP: what it was, whether to retry, whether the server may have processed the request. */
export interface ConnectionFailure {
  reason: string
  retriable: boolean
  outcomeUnknown: boolean
}

/**
 * Classifies an error thrown by fetch (a TypeError "fetch failed" whose `cause` carries the socket error code).
 * undefined when it is not a connection failure at all (a bug, an abort, an error of ours).
 */
export function classifyConnectionError(error: unknown): ConnectionFailure | undefined {
  const chain = causeChain(error)
  for (const item of chain) {
    const code = typeof item.code === 'string' ? item.code : undefined
    if (code !== undefined && NOT_SENT_CODES.has(code)) return {reason: code, retriable: true, outcomeUnknown: false}
    if (code === 'ENOTFOUND') return {reason: code, retriable: false, outcomeUnknown: false}
    if (code !== undefined && BROKEN_CONNECTION_CODES.has(code)) return {reason: code, retriable: true, outcomeUnknown: true}
    if (typeof item.message === 'string' && /other side closed|socket hang up/i.test(item.message)) {
      return {reason: 'connection closed by the server', retriable: true, outcomeUnknown: true}
    }
  }
  const first = chain[0]
  // undici reports every network failure as `TypeError: fetch failed`; without a known code, assume the worst.
  if (first instanceof TypeError && /fetch failed|terminated|network/i.test(first.message)) {
    return {reason: first.message, retriable: true, outcomeUnknown: true}
  }
  return undefined
}

interface ErrorLike {
  code?: unknown
  message?: unknown
  cause?: unknown
}

function causeChain(error: unknown): ErrorLike[] {
  const chain: ErrorLike[] = []
  let current: unknown = error
  while (current !== null && typeof current === 'object' && chain.length < 8) {
    const item = current as ErrorLike
    chain.push(item)
    current = item.cause
  }
  return chain
}

function clamp01(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0
  return value >= 1 ? 0.999_999 : value
}
