import {Code, DOCUMENTATION_URL, apiError, type WireResponse} from './wire.js'

export type FaultRoute = 'token' | 'send' | 'status' | 'definition' | 'any'
export type Fault =
  | {kind: 'status'; route?: FaultRoute; times?: number; status: 429 | 500 | 502 | 503 | 504; errorcode?: number | string; retryAfter?: number}
  | {kind: 'drop-response'; route?: FaultRoute; times?: number}
  | {kind: 'delay'; route?: FaultRoute; times?: number; ms: number}
  | {kind: 'random'; route?: FaultRoute; rate: number; status: 500 | 503; seed?: number}
  /** Answers with exactly this status and JSON body (the request is not processed): shapes the fake does not make. */
  | {kind: 'answer'; route?: FaultRoute; times?: number; status: number; body: unknown; headers?: Record<string, string>}

/** The route families a fault can target; `other` (unknown paths) is only hit by `any`. */
export type RouteFamily = Exclude<FaultRoute, 'any'> | 'other'

/** What the server must do with one request, decided before it is processed. */
export type FaultAction =
  | {kind: 'respond'; response: WireResponse}
  | {kind: 'drop'}
  | {kind: 'delay'; ms: number}
  | undefined

interface ActiveFault {
  fault: Fault
  remaining: number
  next?: () => number
}

/** Deterministic PRNG (mulberry32), so a seeded `random` fault fails the same requests on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

export class FaultPlan {
  private active: ActiveFault[] = []

  constructor(private readonly lenient: boolean) {}

  inject(fault: Fault): void {
    validateFault(fault)
    const remaining = fault.kind === 'random' ? Number.POSITIVE_INFINITY : (fault.times ?? 1)
    const next = fault.kind === 'random' ? prng(fault.seed ?? 1) : undefined
    this.active.push({fault, remaining, next})
  }

  clear(): void {
    this.active = []
  }

  /** The first matching fault (in injection order) decides; a counted fault is used up one request at a time. */
  take(route: RouteFamily): FaultAction {
    if (this.active.length === 0) return undefined
    for (let i = 0; i < this.active.length; i++) {
      const entry = this.active[i]
      if (!entry) continue
      const target = entry.fault.route ?? 'send'
      if (target !== 'any' && target !== route) continue
      const {fault} = entry
      if (fault.kind === 'random') {
        if ((entry.next?.() ?? 1) >= fault.rate) continue
        return {kind: 'respond', response: statusFault(fault.status, undefined, undefined, this.lenient)}
      }
      entry.remaining -= 1
      if (entry.remaining <= 0) this.active.splice(i, 1)
      if (fault.kind === 'status') return {kind: 'respond', response: statusFault(fault.status, fault.errorcode, fault.retryAfter, this.lenient)}
      if (fault.kind === 'drop-response') return {kind: 'drop'}
      if (fault.kind === 'answer') return {kind: 'respond', response: {status: fault.status, body: JSON.stringify(fault.body ?? null), headers: fault.headers}}
      return {kind: 'delay', ms: fault.ms}
    }
    return undefined
  }
}

function validateFault(fault: Fault): void {
  if (fault === null || typeof fault !== 'object' || !['status', 'drop-response', 'delay', 'random', 'answer'].includes((fault as {kind?: unknown}).kind as string)) {
    throw new RangeError('a fault needs kind status, drop-response, delay, random or answer')
  }
  if (fault.kind === 'answer' && !(Number.isInteger(fault.status) && fault.status >= 200 && fault.status <= 599)) throw new RangeError(`answer fault status must be an HTTP status, got ${fault.status}`)
  if (fault.kind === 'random' && !(fault.rate >= 0 && fault.rate <= 1)) throw new RangeError(`random fault rate must be between 0 and 1, got ${fault.rate}`)
  if (fault.kind === 'delay' && !(fault.ms >= 0)) throw new RangeError(`delay fault ms must be >= 0, got ${fault.ms}`)
  if (fault.kind !== 'random' && fault.times !== undefined && !(Number.isInteger(fault.times) && fault.times >= 1)) {
    throw new RangeError(`fault times must be a positive integer, got ${fault.times}`)
  }
}

/** Platform failure bodies as docs/marketing-cloud-api.md describes them; 502/504 come from a gateway, so they are not JSON. */
export function statusFault(status: number, errorcode: number | string | undefined, retryAfter: number | undefined, lenient: boolean): WireResponse {
  if (status === 502 || status === 504) {
    const title = status === 502 ? 'Bad Gateway' : 'Gateway Timeout'
    return {status, body: `<html><head><title>${status} ${title}</title></head><body><h1>${title}</h1></body></html>`, headers: {'content-type': 'text/html'}}
  }
  if (status === 429) {
    const code = errorcode ?? Code.rateLimited
    if (Number(code) === Code.temporarilyBlocked) return apiError(429, code, 'Your requests are temporarily blocked.', lenient)
    return rateLimited(retryAfter ?? 5, code, lenient)
  }
  if (status === 503) {
    const res = apiError(503, errorcode ?? Code.serviceUnavailable, 'Service Unavailable', lenient)
    res.headers = {'retry-after': String(retryAfter ?? 5)}
    return res
  }
  const res = apiError(status, errorcode ?? 0, 'Internal Server Error', lenient)
  if (retryAfter !== undefined) res.headers = {'retry-after': String(retryAfter)}
  return res
}

export function rateLimited(retryAfter: number, errorcode: number | string, lenient: boolean): WireResponse {
  const body = {message: 'Rate limit exceeded', errorcode: lenient ? String(errorcode) : errorcode, retryAfter, documentation: DOCUMENTATION_URL}
  return {status: 429, body: JSON.stringify(body), headers: {'retry-after': String(retryAfter)}}
}
