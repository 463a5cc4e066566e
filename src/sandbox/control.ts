/**
 * The sandbox's control channel: HTTP routes under /mcsend-sandbox/ that let a test (or a curious user) steer a
 * sandbox running in another process: definitions, faults, per-key status outcomes and rejections, token expiry,
 * and a look at the outbox. Marketing Cloud has no such routes and the mcsend client never calls them.
 *
 * Every control request must carry the sandbox's client secret in the `x-mcsend-sandbox-secret` header, so a
 * page in a browser on the same machine cannot steer it.
 */
import type {DefinitionState} from './definitions.js'
import type {Fault} from './faults.js'
import type {OutboxEntry, Outcome} from './messages.js'
import {json, type WireResponse} from './wire.js'

export const CONTROL_PREFIX = '/mcsend-sandbox/'
export const CONTROL_SECRET_HEADER = 'x-mcsend-sandbox-secret'

/** A scripted per-recipient rejection; `remember` makes the key count as used (a retry then gets 109110). */
export interface ScriptedRejection {
  errorcode: number
  message?: string
  remember?: boolean
}

/** What the control routes can do to a running sandbox. */
export interface ControlApi {
  inject(fault: Fault): void
  clearFaults(): void
  setDefinition(definitionKey: string, state: DefinitionState | 'missing'): void
  setOutcome(messageKey: string, outcome: Outcome): void
  setRejection(messageKey: string, rejection: ScriptedRejection | undefined): void
  setFailedBatchStatus(status: number | undefined): void
  expireTokens(): void
  outbox(): OutboxEntry[]
  stats(): Record<string, number>
}

/** The routes, for the sandbox's help text. */
export const CONTROL_ROUTES: readonly string[] = [
  'POST   /mcsend-sandbox/faults               {"kind":"status","route":"send","status":503} (see Fault in src/sandbox/faults.ts)',
  'DELETE /mcsend-sandbox/faults               remove every fault',
  'PUT    /mcsend-sandbox/definitions/KEY      {"status":"Active"|"Inactive"|"Deleted"|"missing"}',
  'PUT    /mcsend-sandbox/outcomes/MESSAGEKEY  {"event":"sent"}, {"event":"queued"} (never leaves the queue) or {"event":"notSent","statusCode":24,"statusMessage":"ListDetectiveExclusion"}',
  'PUT    /mcsend-sandbox/rejections/MESSAGEKEY {"errorcode":109106,"message":"…","remember":false}; DELETE removes it',
  'PUT    /mcsend-sandbox/settings             {"failedBatchStatus":400} answers a batch whose every recipient failed with that HTTP status (null: 202)',
  'POST   /mcsend-sandbox/expire-tokens        revoke every access token issued so far',
  'GET    /mcsend-sandbox/outbox               {"entries":[…]} every message accepted',
  'GET    /mcsend-sandbox/stats                request counters per route family',
]

const DEFINITION_STATES = new Set(['Active', 'Inactive', 'Deleted', 'missing'])

/**
 * Answers one request under CONTROL_PREFIX: a body that is not JSON is a 400, a missing or wrong secret a 403,
 * anything else goes to control() below.
 */
export function answerControl(method: string, pathname: string, body: Buffer | undefined, secret: string | string[] | undefined, clientSecret: string, api: ControlApi): WireResponse {
  let parsed: unknown
  try {
    parsed = body === undefined ? undefined : JSON.parse(body.toString('utf8'))
  } catch {
    return json(400, {error: 'the control request body is not JSON'})
  }
  if (typeof secret !== 'string' || secret !== clientSecret) {
    return json(403, {error: `control requests need the sandbox's client secret in the ${CONTROL_SECRET_HEADER} header`})
  }
  return control(method, pathname, parsed, api)
}

/** Handles one control request; `body` is the parsed JSON body (undefined when empty). */
export function control(method: string, pathname: string, body: unknown, api: ControlApi): WireResponse {
  const rest = pathname.slice(CONTROL_PREFIX.length)
  const slash = rest.indexOf('/')
  const head = slash === -1 ? rest : rest.slice(0, slash)
  let key: string | undefined
  if (slash !== -1) {
    try {
      key = decodeURIComponent(rest.slice(slash + 1))
    } catch {
      return problem(400, 'the key in the path is not validly URL-encoded')
    }
    if (key === '') return problem(404, `no control route ${pathname}`)
  }
  const ok = (): WireResponse => ({status: 204, body: ''})
  try {
    switch (`${method} ${head}${key === undefined ? '' : '/:key'}`) {
      case 'POST faults':
        api.inject(body as Fault)
        return ok()
      case 'DELETE faults':
        api.clearFaults()
        return ok()
      case 'PUT definitions/:key': {
        const status = record(body).status
        if (typeof status !== 'string' || !DEFINITION_STATES.has(status)) return problem(400, 'status must be Active, Inactive, Deleted or missing')
        api.setDefinition(key!, status as DefinitionState | 'missing')
        return ok()
      }
      case 'PUT outcomes/:key': {
        const b = record(body)
        if (b.event === 'sent' || b.event === 'queued') api.setOutcome(key!, {event: b.event})
        else if (b.event === 'notSent' && Number.isInteger(b.statusCode) && typeof b.statusMessage === 'string') {
          api.setOutcome(key!, {event: 'notSent', statusCode: b.statusCode as number, statusMessage: b.statusMessage})
        } else return problem(400, 'an outcome is {"event":"sent"}, {"event":"queued"} (stays queued) or {"event":"notSent","statusCode":N,"statusMessage":"…"}')
        return ok()
      }
      case 'PUT rejections/:key': {
        const b = record(body)
        if (!Number.isInteger(b.errorcode) || (b.errorcode as number) <= 0) return problem(400, 'a rejection needs a positive integer errorcode')
        if (b.message !== undefined && typeof b.message !== 'string') return problem(400, 'message must be a string')
        api.setRejection(key!, {errorcode: b.errorcode as number, message: b.message as string | undefined, remember: b.remember === true})
        return ok()
      }
      case 'DELETE rejections/:key':
        api.setRejection(key!, undefined)
        return ok()
      case 'PUT settings': {
        const status = record(body).failedBatchStatus
        if (status !== null && status !== undefined && !(Number.isInteger(status) && (status as number) >= 200 && (status as number) <= 599)) {
          return problem(400, 'failedBatchStatus must be an HTTP status code or null')
        }
        api.setFailedBatchStatus(status === null ? undefined : (status as number | undefined))
        return ok()
      }
      case 'POST expire-tokens':
        api.expireTokens()
        return ok()
      case 'GET outbox':
        return json(200, {entries: api.outbox()})
      case 'GET stats':
        return json(200, api.stats())
      default:
        return problem(404, `no control route ${method} ${pathname}; the routes are:\n${CONTROL_ROUTES.join('\n')}`)
    }
  } catch (error) {
    // A fault that does not validate (RangeError) or a body of the wrong shape.
    return problem(400, error instanceof Error ? error.message : String(error))
  }
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
}

function problem(status: number, message: string): WireResponse {
  return json(status, {error: message})
}
