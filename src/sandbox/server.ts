/**
 * A local fake of Marketing Cloud's transactional email API (docs/marketing-cloud-api.md describes what it
 * imitates). Real HTTP over node:http; it shares no code with src/sfmc/, so a mistake in the client cannot hide
 * behind the same mistake here. Tests steer a sandbox in another process through its control routes (control.ts).
 *
 * This file puts the pieces together: options, the request pipeline (control, counters, body, faults, dispatch,
 * log) and closing. The answers live with their routes: routes.ts (which route), auth.ts, send.ts, status-route.ts,
 * definition-routes.ts, control.ts; sockets and delays in connections.ts.
 */
import http, {type IncomingMessage, type ServerResponse} from 'node:http'

import {answerToken, answerUserinfo} from './auth.js'
import {Connections} from './connections.js'
import {CONTROL_SECRET_HEADER, answerControl, type ControlApi, type ScriptedRejection} from './control.js'
import {answerDefinition, answerDefinitionList, answerQueue, answerQueueDelete, type DefinitionRouteContext} from './definition-routes.js'
import {DefinitionRegistry, KNOWN_DEFINITIONS, loadDefinitionsFile, type DefinitionState} from './definitions.js'
import {FaultPlan} from './faults.js'
import {MAX_BODY_BYTES, readBody, writeResponse} from './http-io.js'
import {MessageStore, type Outcome, type RejectRecipient} from './messages.js'
import {OutboxFile} from './outbox-file.js'
import {classify, familyOf, redactPath, type Route} from './routes.js'
import {answerSend, type SendContext} from './send.js'
import {StatusRateLimit, answerNotSent, answerStatus} from './status-route.js'
import {TokenIssuer} from './tokens.js'
import {Code, apiError, notAuthorized, type WireResponse} from './wire.js'

export type {DefinitionState} from './definitions.js'
export type {Fault, FaultRoute} from './faults.js'
export type {OutboxEntry, RecipientToQueue, RejectRecipient} from './messages.js'

export interface SandboxOptions {
  host?: string
  port?: number
  clientId?: string
  clientSecret?: string
  /** MID used when the token request has no account_id. */
  defaultAccountId?: string
  /** Real token lifetime (default 20 min) while expires_in says `expiresIn` (default 1080 s). */
  tokenLifetimeMs?: number
  expiresIn?: number
  /** messageKey reuse window per MID; default 72 h. */
  dedupeWindowMs?: number
  /** Idle keep-alive sockets are closed after this; default 5000 ms, like the live service. */
  idleTimeoutMs?: number
  /**
   * Definitions the sandbox knows, on top of the keys the examples and `mcsend init` use (KNOWN_DEFINITIONS) and
   * those of definitions.json in `dataDir`.
   */
  definitions?: Record<string, DefinitionState>
  /** Whether it knows KNOWN_DEFINITIONS (the examples' and `mcsend init`'s keys); default true. */
  builtinDefinitions?: boolean
  /** What a definitionKey it does not know is: 'missing' (404 / 109111, as Marketing Cloud; default) or 'active' (made up on first use). */
  unknownDefinitions?: 'active' | 'missing'
  /** HTTP status for a batch in which every recipient failed (default 202, as the docs show); e.g. 400 to test clients. */
  failedBatchStatus?: number
  /** When set, outbox.ndjson here holds one accepted message per line and is reloaded on start. */
  dataDir?: string
  /** GET status route limit; past it 429 + Retry-After. Default 10 per 1000 ms. */
  statusRateLimit?: {requests: number; perMs: number}
  statusModel?: {queuedMs?: number; outcome?: (messageKey: string) => Outcome}
  /** Business time (token expiry, dedupe window, status model). Socket idling, delays and rate limits use real time. */
  clock?: () => number
  /** Emit every `errorcode` as a string, as the Swagger types it, to exercise lenient clients. */
  lenientShapes?: boolean
  /** `count` of the definitions list: the page's item count (the live quirk; default) or the total. */
  definitionListCount?: 'page' | 'total'
  /**
   * Scripted per-recipient rejection: return `{errorcode, message}` to refuse a recipient that passed validation
   * and dedupe (it is answered like any per-recipient error and not queued), or undefined to accept it.
   */
  rejectRecipient?: RejectRecipient
  /** Called once per request, for logs. Carries no body, no email address and no token. */
  onRequest?: (event: RequestLogEvent) => void
}

export interface RequestLogEvent {
  method: string
  /** Path with any segment holding an '@' redacted. */
  path: string
  /** HTTP status sent; 0 when the response was dropped on purpose or the socket died first. */
  status: number
  recipients?: number
  ms: number
  fault?: 'status' | 'drop' | 'delay'
}

export interface Sandbox extends Omit<ControlApi, 'stats'> {
  readonly url: string
  readonly authUrl: string
  readonly clientId: string
  readonly clientSecret: string
  deliveries(messageKey: string): number
  readonly stats: Stats
  close(): Promise<void>
}

interface Stats {
  tokenRequests: number
  sendRequests: number
  statusRequests: number
  definitionRequests: number
}

const MIN = 60_000
const HOUR = 60 * MIN

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const server = new SandboxServer(options)
  await server.load(options)
  await server.listen(options.host ?? '127.0.0.1', options.port ?? 0)
  const api = server.controlApi()
  return {
    ...api,
    url: server.url,
    authUrl: `${server.url}/`,
    clientId: server.clientId,
    clientSecret: server.clientSecret,
    stats: server.stats,
    deliveries: (messageKey) => server.store.deliveries(messageKey),
    close: () => server.close(),
  }
}

/** One running fake: its state (tokens, definitions, messages, faults) and the request pipeline over it. */
class SandboxServer {
  readonly clientId: string
  readonly clientSecret: string
  readonly store: MessageStore
  readonly stats: Stats = {tokenRequests: 0, sendRequests: 0, statusRequests: 0, definitionRequests: 0}
  /** Known once listening; the token response's rest_instance_url points back at this server. */
  url = ''

  private readonly http = http.createServer()
  private readonly connections: Connections
  private readonly tokens: TokenIssuer
  private readonly faults: FaultPlan
  private readonly statusLimit: StatusRateLimit
  private readonly outcomes = new Map<string, Outcome>()
  private readonly rejections = new Map<string, ScriptedRejection>()
  private readonly clock: () => number
  private readonly startedMs: number
  private readonly lenient: boolean
  private readonly onRequest: SandboxOptions['onRequest']
  /** Shared with the routes; filled by load(). */
  private readonly send: SendContext
  private readonly definitionRoutes: DefinitionRouteContext
  private closing = false
  private closed: Promise<void> | undefined

  constructor(options: SandboxOptions) {
    const port = options.port ?? 0
    if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new RangeError(`port must be an integer from 0 to 65535, got ${port}`)
    this.clientId = options.clientId ?? 'sandbox-client-id'
    this.clientSecret = options.clientSecret ?? 'sandbox-client-secret'
    this.clock = options.clock ?? Date.now
    this.startedMs = this.clock()
    this.lenient = options.lenientShapes === true
    this.onRequest = options.onRequest
    const queuedMs = options.statusModel?.queuedMs ?? 0
    if (!(queuedMs >= 0)) throw new RangeError(`statusModel.queuedMs must be >= 0, got ${queuedMs}`)
    this.statusLimit = new StatusRateLimit(options.statusRateLimit ?? {requests: 10, perMs: 1000}, this.lenient)
    this.tokens = new TokenIssuer({
      clientId: this.clientId,
      clientSecret: this.clientSecret,
      defaultAccountId: options.defaultAccountId ?? '100000001',
      tokenLifetimeMs: positive('tokenLifetimeMs', options.tokenLifetimeMs, 20 * MIN),
      expiresIn: options.expiresIn ?? 1080,
      restUrl: () => this.url,
    })
    const dedupeWindowMs = positive('dedupeWindowMs', options.dedupeWindowMs, 72 * HOUR)
    this.connections = new Connections(this.http, positive('idleTimeoutMs', options.idleTimeoutMs, 5000))
    this.faults = new FaultPlan(this.lenient)

    const definitions = new DefinitionRegistry({...(options.builtinDefinitions === false ? {} : KNOWN_DEFINITIONS), ...options.definitions}, options.unknownDefinitions ?? 'missing', this.startedMs)
    const modelOutcome = options.statusModel?.outcome ?? sentOutcome
    const scripted = options.rejectRecipient
    this.store = new MessageStore({
      dedupeWindowMs,
      queuedMs,
      outcome: (messageKey) => this.outcomes.get(messageKey) ?? modelOutcome(messageKey),
      definitionState: (key) => definitions.peek(key),
      rejectRecipient: (r) => {
        const rejection = this.rejections.get(r.messageKey)
        if (rejection) return {errorcode: rejection.errorcode, message: rejection.message, remember: rejection.remember}
        return scripted?.(r)
      },
    })
    this.send = {definitions, store: this.store, outbox: undefined, lenient: this.lenient, failedBatchStatus: options.failedBatchStatus}
    this.definitionRoutes = {definitions, store: this.store, lenient: this.lenient, listCount: options.definitionListCount ?? 'page'}

    // Node's own keep-alive timeout would advertise itself in a Keep-Alive header; the live service does not.
    this.http.keepAliveTimeout = 0
    this.http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.connections.requestStarted(req, res)
      this.handle(req, res).catch(() => {
        if (!res.headersSent && !res.destroyed) this.write(res, apiError(500, 0, 'Internal Server Error', this.lenient))
        else req.socket.destroy()
      })
    })
  }

  /** Reads the data directory: definitions.json (under the options' own definitions) and the outbox to replay. */
  async load(options: SandboxOptions): Promise<void> {
    if (options.dataDir === undefined) return
    // The file's definitions go over the built-in ones and under the options' own, as if known from the start.
    const fromFile = await loadDefinitionsFile(options.dataDir)
    for (const [key, state] of Object.entries(fromFile)) if (options.definitions?.[key] === undefined) this.send.definitions.set(key, state, this.startedMs)
    const loaded = await OutboxFile.open(options.dataDir)
    for (const entry of loaded.entries) this.store.replay(entry)
    this.send.outbox = loaded.file
  }

  async listen(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject)
      this.http.listen(port, host, () => {
        this.http.off('error', reject)
        resolve()
      })
    })
    const address = this.http.address()
    const boundPort = typeof address === 'object' && address ? address.port : port
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`
  }

  /** What the control routes (and tests in the same process) can do to this sandbox. */
  controlApi(): ControlApi {
    return {
      inject: (fault) => this.faults.inject(fault),
      clearFaults: () => this.faults.clear(),
      setDefinition: (definitionKey, state) => {
        const now = this.clock()
        // Settle first, so messages due before the change get the outcome they would have had.
        this.store.settle(now)
        this.send.definitions.set(definitionKey, state, now)
        this.store.definitionChanged(definitionKey, now)
      },
      setOutcome: (messageKey, o) => void this.outcomes.set(messageKey, o),
      setRejection: (messageKey, r) => void (r === undefined ? this.rejections.delete(messageKey) : this.rejections.set(messageKey, r)),
      setFailedBatchStatus: (status) => void (this.send.failedBatchStatus = status),
      expireTokens: () => this.tokens.expireAll(),
      outbox: () => this.store.outbox(),
      stats: () => ({...this.stats}),
    }
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true
      const stopped = new Promise<void>((resolve) => this.http.close(() => resolve()))
      this.connections.closeAll()
      await stopped
      await this.send.outbox?.close()
    })()
    return this.closed
  }

  /** The pipeline of one request: control routes aside, count it, read the body, apply a fault, answer, log. */
  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now()
    const method = req.method ?? 'GET'
    const target = new URL(req.url ?? '/', 'http://sandbox.invalid')
    const route = classify(method, target.pathname)
    if (route.name === 'control') {
      const body = await readBody(req).catch(() => undefined)
      const response = answerControl(method, target.pathname, body, req.headers[CONTROL_SECRET_HEADER], this.clientSecret, this.controlApi())
      this.finish(method, target.pathname, res, response, started, undefined)
      return
    }
    const family = familyOf(route)
    if (route.name === 'token') this.stats.tokenRequests++
    else if (family === 'send') this.stats.sendRequests++
    else if (family === 'status') this.stats.statusRequests++
    else if (family === 'definition') this.stats.definitionRequests++

    let body: Buffer | undefined
    try {
      body = await readBody(req)
    } catch (error) {
      if ((error as Error).message === 'too large') {
        this.finish(method, target.pathname, res, apiError(413, 0, `Request Entity Too Large: bodies are limited to ${MAX_BODY_BYTES} bytes`, this.lenient), started, undefined)
      }
      return
    }

    const action = this.faults.take(family)
    if (action?.kind === 'respond') {
      this.finish(method, target.pathname, res, action.response, started, 'status')
      return
    }
    const response = await this.dispatch(route, req, target.searchParams, body)
    body = undefined
    if (action?.kind === 'drop') {
      // The request was processed in full (messages accepted and recorded); the client just never hears back.
      req.socket.destroy()
      this.log(method, target.pathname, 0, response.recipients, started, 'drop')
      return
    }
    if (action?.kind === 'delay') await this.connections.sleep(action.ms)
    this.finish(method, target.pathname, res, response, started, action?.kind)
  }

  /** Which answer a route gets: the open routes first, then those that need a valid token. */
  private async dispatch(route: Route, req: IncomingMessage, query: URLSearchParams, body: Buffer | undefined): Promise<WireResponse> {
    const now = this.clock()
    const lenient = this.lenient
    switch (route.name) {
      case 'token':
        return answerToken(this.tokens, req.headers, body, now)
      case 'userinfo':
        return answerUserinfo(this.tokens, req.headers, now, lenient)
      case 'notAllowed':
        return {...apiError(405, 0, `Method Not Allowed: use ${route.allow}`, lenient), headers: {allow: route.allow}}
      case 'badPath':
        return apiError(400, Code.invalidValue, 'MCMS_UTM_Validation_InvalidValue: the key in the path is not validly URL-encoded', lenient)
      case 'notFound':
        return apiError(404, 0, 'Not Found: the sandbox serves /v2/token, /v2/userinfo, /mcsend-sandbox/… (control), /messaging/v1/email/messages[/{messageKey}] and /messaging/v1/email/definitions[/{key}[/queue]]', lenient)
      default:
        break
    }

    const mid = this.tokens.verify(req.headers.authorization, now)
    if (mid === undefined) return notAuthorized(lenient)

    switch (route.name) {
      case 'batch':
        return answerSend(this.send, undefined, req.headers['content-type'], body, mid, now)
      case 'single':
        return answerSend(this.send, route.key, req.headers['content-type'], body, mid, now)
      case 'status':
        return this.statusLimit.take() ?? answerStatus(this.store, mid, route.key, now, lenient)
      case 'notSent':
        return answerNotSent(this.store, mid, query, now, lenient)
      case 'definitionList':
        return answerDefinitionList(this.definitionRoutes, query)
      case 'definition':
        return answerDefinition(this.definitionRoutes, route.key)
      case 'queue':
        return answerQueue(this.definitionRoutes, route.key, now)
      case 'queueDelete':
        return answerQueueDelete(this.definitionRoutes, route.key, now)
      default:
        return apiError(404, 0, 'Not Found', lenient)
    }
  }

  private write(res: ServerResponse, response: WireResponse): boolean {
    return !this.closing && writeResponse(res, response)
  }

  private finish(method: string, pathname: string, res: ServerResponse, response: WireResponse, started: number, fault: RequestLogEvent['fault']): void {
    const sent = this.write(res, response)
    this.log(method, pathname, sent ? response.status : 0, response.recipients, started, fault)
  }

  private log(method: string, path: string, status: number, recipients: number | undefined, started: number, fault: RequestLogEvent['fault']): void {
    if (!this.onRequest) return
    const event: RequestLogEvent = {method, path: redactPath(path), status, ms: Math.round(performance.now() - started)}
    if (recipients !== undefined) event.recipients = recipients
    if (fault) event.fault = fault
    try {
      this.onRequest(event)
    } catch {
      // A failing logger must not break the fake.
    }
  }
}

function sentOutcome(): Outcome {
  return {event: 'sent'}
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be a positive number of milliseconds, got ${value}`)
  return value
}
