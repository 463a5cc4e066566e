/**
 * A local fake of Marketing Cloud's transactional email API (docs/marketing-cloud-api.md describes what it
 * imitates). Real HTTP over node:http; it shares no code with src/sfmc/, so a mistake in the client cannot hide
 * behind the same mistake here. Tests steer a sandbox in another process through its control routes (control.ts).
 */
import {randomUUID} from 'node:crypto'
import http, {type IncomingMessage, type ServerResponse} from 'node:http'
import type {Socket} from 'node:net'

import {CONTROL_PREFIX, CONTROL_SECRET_HEADER, control, type ScriptedRejection} from './control.js'
import {DefinitionRegistry, KNOWN_DEFINITIONS, loadDefinitionsFile, parseListQuery, positiveInt, type DefinitionState} from './definitions.js'
import {FaultPlan, rateLimited, type Fault, type RouteFamily} from './faults.js'
import {MessageStore, NOT_SENT, QUEUED, type CheckedSend, type MessageRecord, type Outcome, type OutboxEntry, type RejectRecipient} from './messages.js'
import {OutboxFile} from './outbox-file.js'
import {checkBatch, checkSingle, sendResponse} from './send.js'
import {TokenIssuer} from './tokens.js'
import {Code, apiError, cstTimestamp, json, notAuthorized, oauthError, type WireResponse} from './wire.js'

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

export interface Sandbox {
  readonly url: string
  readonly authUrl: string
  readonly clientId: string
  readonly clientSecret: string
  outbox(): OutboxEntry[]
  deliveries(messageKey: string): number
  readonly stats: {tokenRequests: number; sendRequests: number; statusRequests: number; definitionRequests: number}
  inject(fault: Fault): void
  clearFaults(): void
  setDefinition(definitionKey: string, state: DefinitionState | 'missing'): void
  /** The status outcome of one messageKey (overrides statusModel.outcome). */
  setOutcome(messageKey: string, outcome: Outcome): void
  /** Refuses one messageKey with this per-recipient code from now on (undefined: stop refusing it). */
  setRejection(messageKey: string, rejection: ScriptedRejection | undefined): void
  /** HTTP status for a batch whose every recipient failed (undefined: 202). */
  setFailedBatchStatus(status: number | undefined): void
  expireTokens(): void
  close(): Promise<void>
}

const MIN = 60_000
const HOUR = 60 * MIN
/** Request bodies above this are refused with 413 (2000 recipients with attributes stay far below it). */
const MAX_BODY_BYTES = 32 * 1024 * 1024
const DEFAULT_NOT_SENT_PAGE = 100
const MAX_NOT_SENT_PAGE = 2500

const MESSAGES_PREFIX = '/messaging/v1/email/messages'
const DEFINITIONS_PREFIX = '/messaging/v1/email/definitions'

type Route =
  | {name: 'token'}
  | {name: 'userinfo'}
  | {name: 'control'}
  | {name: 'batch'}
  | {name: 'notSent'}
  | {name: 'single'; key: string}
  | {name: 'status'; key: string}
  | {name: 'definitionList'}
  | {name: 'definition'; key: string}
  | {name: 'queue'; key: string}
  | {name: 'queueDelete'; key: string}
  | {name: 'notAllowed'; allow: string}
  | {name: 'badPath'}
  | {name: 'notFound'}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const host = options.host ?? '127.0.0.1'
  const port = options.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new RangeError(`port must be an integer from 0 to 65535, got ${port}`)
  const clientId = options.clientId ?? 'sandbox-client-id'
  const clientSecret = options.clientSecret ?? 'sandbox-client-secret'
  const defaultAccountId = options.defaultAccountId ?? '100000001'
  const tokenLifetimeMs = positive('tokenLifetimeMs', options.tokenLifetimeMs, 20 * MIN)
  const expiresIn = options.expiresIn ?? 1080
  const dedupeWindowMs = positive('dedupeWindowMs', options.dedupeWindowMs, 72 * HOUR)
  const idleTimeoutMs = positive('idleTimeoutMs', options.idleTimeoutMs, 5000)
  const rate = options.statusRateLimit ?? {requests: 10, perMs: 1000}
  if (!(Number.isInteger(rate.requests) && rate.requests >= 1 && rate.perMs > 0)) throw new RangeError('statusRateLimit needs requests >= 1 and perMs > 0')
  const queuedMs = options.statusModel?.queuedMs ?? 0
  if (!(queuedMs >= 0)) throw new RangeError(`statusModel.queuedMs must be >= 0, got ${queuedMs}`)
  const modelOutcome = options.statusModel?.outcome ?? sentOutcome
  const outcomes = new Map<string, Outcome>()
  const outcome = (messageKey: string): Outcome => outcomes.get(messageKey) ?? modelOutcome(messageKey)
  const rejections = new Map<string, ScriptedRejection>()
  let failedBatchStatus = options.failedBatchStatus
  const clock = options.clock ?? Date.now
  const lenient = options.lenientShapes === true
  const listCount = options.definitionListCount ?? 'page'
  const onRequest = options.onRequest

  const fromFile = options.dataDir === undefined ? {} : await loadDefinitionsFile(options.dataDir)
  const definitions = new DefinitionRegistry({...(options.builtinDefinitions === false ? {} : KNOWN_DEFINITIONS), ...fromFile, ...options.definitions}, options.unknownDefinitions ?? 'missing', clock())
  const scripted = options.rejectRecipient
  const rejectRecipient: RejectRecipient = (r) => {
    const rejection = rejections.get(r.messageKey)
    if (rejection) return {errorcode: rejection.errorcode, message: rejection.message, remember: rejection.remember}
    return scripted?.(r)
  }
  const store = new MessageStore({dedupeWindowMs, queuedMs, outcome, definitionState: (key) => definitions.peek(key), rejectRecipient})
  const faults = new FaultPlan(lenient)
  let url = '' // known once listening; the token response's rest_instance_url points back at this server
  const tokens = new TokenIssuer({clientId, clientSecret, defaultAccountId, tokenLifetimeMs, expiresIn, restUrl: () => url})
  const stats = {tokenRequests: 0, sendRequests: 0, statusRequests: 0, definitionRequests: 0}

  let outboxFile: OutboxFile | undefined
  if (options.dataDir !== undefined) {
    const loaded = await OutboxFile.open(options.dataDir)
    for (const entry of loaded.entries) store.replay(entry)
    outboxFile = loaded.file
  }

  // Status route limiter: a fixed window in real time (Retry-After is a real-time instruction to the client).
  let windowStart = 0
  let windowCount = 0
  function statusLimited(): WireResponse | undefined {
    const t = Date.now()
    if (t - windowStart >= rate.perMs) {
      windowStart = t
      windowCount = 0
    }
    if (windowCount < rate.requests) {
      windowCount++
      return undefined
    }
    const retryAfter = Math.max(1, Math.ceil((windowStart + rate.perMs - t) / 1000))
    return rateLimited(retryAfter, Code.rateLimited, lenient)
  }

  // --- sockets: close idle keep-alive connections after idleTimeoutMs, as the live service does at 5 s ---
  interface Conn {
    timer: NodeJS.Timeout | undefined
    inFlight: number
  }
  const conns = new Map<Socket, Conn>()
  const armIdle = (socket: Socket, conn: Conn) => {
    if (conn.timer) clearTimeout(conn.timer)
    conn.timer = setTimeout(() => socket.destroy(), idleTimeoutMs)
    conn.timer.unref()
  }
  const delays = new Set<{timer: NodeJS.Timeout; resolve: () => void}>()
  let closing = false

  const server = http.createServer()
  // Node's own keep-alive timeout would advertise itself in a Keep-Alive header; the live service does not.
  server.keepAliveTimeout = 0
  server.on('connection', (socket: Socket) => {
    const conn: Conn = {timer: undefined, inFlight: 0}
    conns.set(socket, conn)
    armIdle(socket, conn)
    socket.on('close', () => {
      if (conn.timer) clearTimeout(conn.timer)
      conns.delete(socket)
    })
  })
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket
    const conn = conns.get(socket)
    if (conn) {
      conn.inFlight++
      if (conn.timer) clearTimeout(conn.timer)
      conn.timer = undefined
      res.once('close', () => {
        conn.inFlight--
        if (conn.inFlight === 0 && !socket.destroyed) armIdle(socket, conn)
      })
    }
    handle(req, res).catch(() => {
      if (!res.headersSent && !res.destroyed) send(res, apiError(500, 0, 'Internal Server Error', lenient))
      else socket.destroy()
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  const boundPort = typeof address === 'object' && address ? address.port : port
  url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now()
    const method = req.method ?? 'GET'
    const target = new URL(req.url ?? '/', 'http://sandbox.invalid')
    const route = classify(method, target.pathname)
    if (route.name === 'control') {
      const body = await readBody(req).catch(() => undefined)
      let parsed: unknown
      try {
        parsed = body === undefined ? undefined : JSON.parse(body.toString('utf8'))
      } catch {
        finish(method, target.pathname, res, json(400, {error: 'the control request body is not JSON'}), started, undefined)
        return
      }
      const secret = req.headers[CONTROL_SECRET_HEADER]
      const response =
        typeof secret === 'string' && secret === clientSecret
          ? control(method, target.pathname, parsed, controlApi)
          : json(403, {error: `control requests need the sandbox's client secret in the ${CONTROL_SECRET_HEADER} header`})
      finish(method, target.pathname, res, response, started, undefined)
      return
    }
    const family = familyOf(route)
    if (route.name === 'token') stats.tokenRequests++
    else if (family === 'send') stats.sendRequests++
    else if (family === 'status') stats.statusRequests++
    else if (family === 'definition') stats.definitionRequests++

    let body: Buffer | undefined
    try {
      body = await readBody(req)
    } catch (error) {
      if ((error as Error).message === 'too large') {
        finish(method, target.pathname, res, apiError(413, 0, `Request Entity Too Large: bodies are limited to ${MAX_BODY_BYTES} bytes`, lenient), started, undefined)
      }
      return
    }

    const action = faults.take(family)
    if (action?.kind === 'respond') {
      finish(method, target.pathname, res, action.response, started, 'status')
      return
    }
    const response = await dispatch(route, req, target.searchParams, body)
    body = undefined
    if (action?.kind === 'drop') {
      // The request was processed in full (messages accepted and recorded); the client just never hears back.
      req.socket.destroy()
      log(method, target.pathname, 0, response.recipients, started, 'drop')
      return
    }
    if (action?.kind === 'delay') await sleep(action.ms)
    finish(method, target.pathname, res, response, started, action?.kind)
  }

  function finish(method: string, pathname: string, res: ServerResponse, response: WireResponse, started: number, fault: RequestLogEvent['fault']): void {
    const sent = send(res, response)
    log(method, pathname, sent ? response.status : 0, response.recipients, started, fault)
  }

  function log(method: string, path: string, status: number, recipients: number | undefined, started: number, fault: RequestLogEvent['fault']): void {
    if (!onRequest) return
    const event: RequestLogEvent = {method, path: redactPath(path), status, ms: Math.round(performance.now() - started)}
    if (recipients !== undefined) event.recipients = recipients
    if (fault) event.fault = fault
    try {
      onRequest(event)
    } catch {
      // A failing logger must not break the fake.
    }
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          delays.delete(entry)
          resolve()
        }, ms),
        resolve,
      }
      delays.add(entry)
    })
  }

  async function dispatch(route: Route, req: IncomingMessage, query: URLSearchParams, body: Buffer | undefined): Promise<WireResponse> {
    const now = clock()
    switch (route.name) {
      case 'token': {
        const parsed = parseTokenBody(req.headers['content-type'], body)
        if (parsed instanceof Error) return oauthError(400, 'invalid_request', parsed.message)
        return tokens.issue(parsed, now)
      }
      case 'userinfo': {
        const mid = tokens.verify(req.headers.authorization, now)
        return mid === undefined ? notAuthorized(lenient) : json(200, tokens.userinfo(mid, now))
      }
      case 'notAllowed':
        return {...apiError(405, 0, `Method Not Allowed: use ${route.allow}`, lenient), headers: {allow: route.allow}}
      case 'badPath':
        return apiError(400, Code.invalidValue, 'MCMS_UTM_Validation_InvalidValue: the key in the path is not validly URL-encoded', lenient)
      case 'notFound':
        return apiError(404, 0, 'Not Found: the sandbox serves /v2/token, /v2/userinfo, /mcsend-sandbox/… (control), /messaging/v1/email/messages[/{messageKey}] and /messaging/v1/email/definitions[/{key}[/queue]]', lenient)
      default:
        break
    }

    const mid = tokens.verify(req.headers.authorization, now)
    if (mid === undefined) return notAuthorized(lenient)

    switch (route.name) {
      case 'batch':
      case 'single': {
        const parsed = parseJsonBody(req.headers['content-type'], body)
        if (parsed instanceof Error) return parsed.message === 'media' ? unsupportedMedia() : serializationError()
        const checked = route.name === 'batch' ? checkBatch(parsed.value, lenient) : checkSingle(parsed.value, route.key, lenient)
        if ('status' in checked) return checked
        return accept(mid, checked, now, route.name === 'batch' ? failedBatchStatus : undefined)
      }
      case 'status':
        return statusOf(mid, route.key, now)
      case 'notSent':
        return notSentList(mid, query, now)
      case 'definitionList': {
        const q = parseListQuery(query)
        if (typeof q === 'string') return apiError(400, Code.invalidValue, `MCMS_UTM_Validation_InvalidValue: ${q}`, lenient)
        return json(200, definitions.list(q, randomUUID(), listCount))
      }
      case 'definition': {
        const described = definitions.describe(route.key, randomUUID())
        return described ? json(200, described) : definitionNotFound()
      }
      case 'queue': {
        if (definitions.state(route.key) === 'missing') return definitionNotFound()
        const {count, oldestMs} = store.queue(route.key, now)
        return json(200, {requestId: randomUUID(), count, ageSeconds: oldestMs === undefined ? 0 : Math.max(0, Math.floor((now - oldestMs) / 1000))})
      }
      case 'queueDelete': {
        const state = definitions.state(route.key)
        if (state === 'missing') return definitionNotFound()
        if (state !== 'Inactive') {
          return apiError(400, Code.invalidOperation, 'MCMS_UTM_Runtime_InvalidOperation: Definition status must be inactive to delete queue', lenient, '')
        }
        store.clearQueue(route.key, now)
        return json(200, {requestId: randomUUID(), message: 'Queued'})
      }
      default:
        return apiError(404, 0, 'Not Found', lenient)
    }
  }

  async function accept(mid: string, checked: CheckedSend, now: number, allFailedStatus: number | undefined): Promise<WireResponse> {
    const state = definitions.state(checked.definitionKey)
    if (state === 'missing' || state === 'Deleted') {
      const res = apiError(400, Code.invalidDefinitionKey, "MCMS_UTM_Validation_InvalidValue_definitionKey: Definition key doesn't exist for this MID", lenient)
      res.recipients = checked.keys.length
      return res
    }
    const requestId = randomUUID()
    // Dedupe and recording happen synchronously here, so concurrent duplicates are decided one request at a time.
    // commit() writes each recipient's verdict into the shared `codes`/`messages` arrays that sendResponse reads.
    const accepted = store.commit({...checked, mid, requestId}, now, new Date(now).toISOString())
    const response = sendResponse(requestId, checked, lenient, allFailedStatus)
    if (outboxFile && accepted.length > 0) {
      let chunk = ''
      for (const entry of accepted) chunk += `${JSON.stringify(entry)}\n`
      try {
        await outboxFile.append(chunk)
      } catch {
        return apiError(500, 0, 'Internal Server Error: the sandbox could not write its outbox', lenient)
      }
    }
    return response
  }

  function statusOf(mid: string, messageKey: string, now: number): WireResponse {
    const limited = statusLimited()
    if (limited) return limited
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
      compositeId: compositeId(rec),
      info,
    })
  }

  function notSentList(mid: string, query: URLSearchParams, now: number): WireResponse {
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

  function definitionNotFound(): WireResponse {
    return apiError(404, Code.objectNotFound, "MCMS_UTM_Runtime_ObjectNotFound: Definition key doesn't exist for this MID", lenient, '')
  }

  function unsupportedMedia(): WireResponse {
    return apiError(415, 0, 'Unsupported Media Type: send the body as JSON with Content-Type: application/json', lenient)
  }

  function serializationError(): WireResponse {
    return apiError(400, Code.serialization, 'Serialization error: the request body is not valid JSON (unbalanced or malformed)', lenient)
  }

  const setDefinition = (definitionKey: string, state: DefinitionState | 'missing'): void => {
    const now = clock()
    // Settle first, so messages due before the change get the outcome they would have had.
    store.settle(now)
    definitions.set(definitionKey, state, now)
    store.definitionChanged(definitionKey, now)
  }
  const controlApi = {
    inject: (fault: Fault) => faults.inject(fault),
    clearFaults: () => faults.clear(),
    setDefinition,
    setOutcome: (messageKey: string, o: Outcome) => void outcomes.set(messageKey, o),
    setRejection: (messageKey: string, r: ScriptedRejection | undefined) => void (r === undefined ? rejections.delete(messageKey) : rejections.set(messageKey, r)),
    setFailedBatchStatus: (status: number | undefined) => void (failedBatchStatus = status),
    expireTokens: () => tokens.expireAll(),
    outbox: () => store.outbox(),
    stats: () => ({...stats}),
  }

  let closed: Promise<void> | undefined
  return {
    url,
    authUrl: `${url}/`,
    clientId,
    clientSecret,
    stats,
    outbox: () => store.outbox(),
    deliveries: (messageKey) => store.deliveries(messageKey),
    inject: controlApi.inject,
    clearFaults: controlApi.clearFaults,
    setDefinition,
    setOutcome: controlApi.setOutcome,
    setRejection: controlApi.setRejection,
    setFailedBatchStatus: controlApi.setFailedBatchStatus,
    expireTokens: controlApi.expireTokens,
    close() {
      if (closed) return closed
      closing = true
      closed = (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
        for (const [socket, conn] of conns) {
          if (conn.timer) clearTimeout(conn.timer)
          socket.destroy()
        }
        for (const entry of delays) {
          clearTimeout(entry.timer)
          entry.resolve()
        }
        delays.clear()
        await stopped
        await outboxFile?.close()
      })()
      return closed
    },
  }

  function send(res: ServerResponse, response: WireResponse): boolean {
    if (closing || res.destroyed || res.writableEnded) return false
    const headers: Record<string, string | number> = {'content-type': 'application/json; charset=utf-8', ...response.headers}
    headers['content-length'] = Buffer.byteLength(response.body)
    res.writeHead(response.status, headers)
    res.end(response.body)
    return true
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

function compositeId(rec: MessageRecord): string {
  return `${rec.entry.mid}.${Math.floor(rec.acceptedMs / 1000)}.${rec.seq}`
}

function classify(method: string, pathname: string): Route {
  if (pathname === '/v2/token' || pathname === '/v2/token/') return method === 'POST' ? {name: 'token'} : {name: 'notAllowed', allow: 'POST'}
  if (pathname === '/v2/userinfo' || pathname === '/v2/userinfo/') return method === 'GET' ? {name: 'userinfo'} : {name: 'notAllowed', allow: 'GET'}
  if (pathname.startsWith(CONTROL_PREFIX)) return {name: 'control'}
  if (pathname === MESSAGES_PREFIX || pathname === `${MESSAGES_PREFIX}/`) {
    if (method === 'POST') return {name: 'batch'}
    if (method === 'GET') return {name: 'notSent'}
    return {name: 'notAllowed', allow: 'GET, POST'}
  }
  if (pathname.startsWith(`${MESSAGES_PREFIX}/`)) {
    const raw = pathname.slice(MESSAGES_PREFIX.length + 1)
    if (raw.includes('/')) return {name: 'notFound'}
    const key = decode(raw)
    if (key === undefined) return {name: 'badPath'}
    if (method === 'POST') return {name: 'single', key}
    if (method === 'GET') return {name: 'status', key}
    return {name: 'notAllowed', allow: 'GET, POST'}
  }
  if (pathname === DEFINITIONS_PREFIX || pathname === `${DEFINITIONS_PREFIX}/`) {
    return method === 'GET' ? {name: 'definitionList'} : {name: 'notAllowed', allow: 'GET'}
  }
  if (pathname.startsWith(`${DEFINITIONS_PREFIX}/`)) {
    const parts = pathname.slice(DEFINITIONS_PREFIX.length + 1).split('/')
    const key = decode(parts[0] ?? '')
    if (key === undefined) return {name: 'badPath'}
    if (key === '') return {name: 'notFound'}
    if (parts.length === 1 || (parts.length === 2 && parts[1] === '')) return method === 'GET' ? {name: 'definition', key} : {name: 'notAllowed', allow: 'GET'}
    if (parts.length === 2 && parts[1] === 'queue') {
      if (method === 'GET') return {name: 'queue', key}
      if (method === 'DELETE') return {name: 'queueDelete', key}
      return {name: 'notAllowed', allow: 'GET, DELETE'}
    }
  }
  return {name: 'notFound'}
}

function familyOf(route: Route): RouteFamily {
  switch (route.name) {
    case 'token':
    case 'userinfo':
      return 'token'
    case 'batch':
    case 'single':
      return 'send'
    case 'status':
    case 'notSent':
      return 'status'
    case 'definitionList':
    case 'definition':
    case 'queue':
    case 'queueDelete':
      return 'definition'
    default:
      return 'other'
  }
}

function decode(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw)
  } catch {
    return undefined
  }
}

/** Request logs must never show an email address, and a messageKey may be one. */
function redactPath(pathname: string): string {
  if (!pathname.includes('@') && !pathname.includes('%40')) return pathname
  return pathname
    .split('/')
    .map((segment) => (segment.includes('@') || segment.toLowerCase().includes('%40') ? '[redacted]' : segment))
    .join('/')
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let tooLarge = false
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) tooLarge = true
      else chunks.push(chunk)
    })
    req.once('end', () => {
      if (tooLarge) reject(new Error('too large'))
      else resolve(chunks.length === 0 ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size))
    })
    req.once('error', reject)
    req.once('close', () => {
      if (!req.complete) reject(new Error('aborted'))
    })
  })
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase()
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))
}

function parseJsonBody(contentType: string | undefined, body: Buffer | undefined): {value: unknown} | Error {
  if (!isJson(contentType)) return new Error('media')
  try {
    return {value: JSON.parse(body === undefined ? '' : body.toString('utf8'))}
  } catch {
    return new Error('json')
  }
}

/** The token endpoint takes JSON; a form-encoded body is accepted too, as OAuth servers usually do. */
function parseTokenBody(contentType: string | undefined, body: Buffer | undefined): unknown {
  const type = (contentType?.split(';')[0] ?? '').trim().toLowerCase()
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(body?.toString('utf8') ?? ''))
  const parsed = parseJsonBody(contentType, body)
  if (parsed instanceof Error) {
    return new Error(parsed.message === 'media' ? 'Send the token request as JSON (Content-Type: application/json).' : 'The token request body is not valid JSON.')
  }
  return parsed.value
}
