import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import net from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {startSandbox, type Sandbox, type SandboxOptions} from '../../src/sandbox/server.js'
import {waitFor} from '../helpers/project.js'

const MESSAGES = 'messaging/v1/email/messages'
const DEFINITIONS = 'messaging/v1/email/definitions'
const NOT_AUTHORIZED = {documentation: 'https://developer.salesforce.com/docs/atlas.en-us.mc-apis.meta/mc-apis/error-handling.htm', errorcode: 0, message: 'Not Authorized'}
const HOUR = 3600_000

const open: Sandbox[] = []
const dirs: string[] = []

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()))
  await Promise.all(dirs.splice(0).map((d) => rm(d, {recursive: true, force: true})))
})

async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await startSandbox({definitions: {welcome: 'Active'}, ...options})
  open.push(sb)
  return sb
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mcsend-sandbox-'))
  dirs.push(dir)
  return dir
}

/** A fake clock the test moves by hand. */
function manualClock(start = Date.UTC(2025, 0, 15, 12, 0, 0)) {
  const clock = {now: start, read: () => clock.now}
  return clock
}

interface TokenBody {
  access_token: string
  token_type: string
  expires_in: number
  scope: string
  rest_instance_url: string
  soap_instance_url: string
}

async function requestToken(sb: Sandbox, extra: Record<string, unknown> = {}): Promise<Response> {
  return fetch(`${sb.authUrl}v2/token`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({grant_type: 'client_credentials', client_id: sb.clientId, client_secret: sb.clientSecret, ...extra}),
  })
}

async function token(sb: Sandbox, accountId?: string): Promise<string> {
  const res = await requestToken(sb, accountId === undefined ? {} : {account_id: accountId})
  expect(res.status).toBe(200)
  return ((await res.json()) as TokenBody).access_token
}

async function call(sb: Sandbox, method: string, route: string, tok: string | undefined, body?: unknown, headers: Record<string, string> = {}): Promise<{status: number; body: Record<string, unknown>; headers: Headers}> {
  const h: Record<string, string> = {...headers}
  if (tok !== undefined) h.authorization = `Bearer ${tok}`
  if (body !== undefined && h['content-type'] === undefined) h['content-type'] = 'application/json'
  const res = await fetch(`${sb.url}/${route}`, {method, headers: h, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)})
  const text = await res.text()
  let parsed: Record<string, unknown>
  try {
    parsed = JSON.parse(text) as Record<string, unknown>
  } catch {
    parsed = {raw: text}
  }
  return {status: res.status, body: parsed, headers: res.headers}
}

function recipient(n: number, extra: Record<string, unknown> = {}) {
  return {contactKey: `contact-${n}`, to: `person${n}@example.com`, messageKey: `key-${n}`, ...extra}
}

const sendBatch = (sb: Sandbox, tok: string, recipients: unknown[], extra: Record<string, unknown> = {}) => call(sb, 'POST', `${MESSAGES}/`, tok, {definitionKey: 'welcome', recipients, ...extra})

type Entry = {messageKey: string; errorcode?: number | string; message?: string}
const responsesOf = (body: Record<string, unknown>) => body.responses as Entry[]

/** Parses the API's CST timestamp (UTC-6, no offset) back to epoch ms. */
function fromCst(ts: string): number {
  return Date.parse(`${ts.slice(0, 23)}Z`) + 6 * HOUR
}

const CST_FORMAT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?$/

describe('token endpoint', () => {
  it('issues a bearer token whose expires_in is 1080 and whose rest_instance_url ends with a slash', async () => {
    const sb = await sandbox()
    const res = await requestToken(sb)
    const body = (await res.json()) as TokenBody
    expect(res.status).toBe(200)
    expect(body).toMatchObject({token_type: 'Bearer', expires_in: 1080, scope: 'email_read email_write email_send', rest_instance_url: `${sb.url}/`, soap_instance_url: `${sb.url}/`})
    expect(body.access_token.length).toBeGreaterThan(20)
    expect(body.access_token.length).toBeLessThanOrEqual(512)
    expect(sb.authUrl).toBe(`${sb.url}/`)
    expect(sb.stats.tokenRequests).toBe(1)
  })

  it('answers bad credentials with 401 invalid_client and never echoes the secret', async () => {
    const sb = await sandbox()
    const res = await requestToken(sb, {client_secret: 'wrong-secret-value'})
    const text = await res.text()
    expect(res.status).toBe(401)
    const body = JSON.parse(text) as Record<string, string>
    expect(body.error).toBe('invalid_client')
    expect(body.error_description).toMatch(/client ID and client secret/)
    expect(body.error_uri).toMatch(/^https:\/\//)
    expect(text).not.toContain('wrong-secret-value')
  })

  it('rejects another grant type and a non-numeric account_id', async () => {
    const sb = await sandbox()
    const grant = await requestToken(sb, {grant_type: 'password'})
    expect(grant.status).toBe(400)
    expect(((await grant.json()) as {error: string}).error).toBe('unsupported_grant_type')
    const account = await requestToken(sb, {account_id: 'abc'})
    expect(account.status).toBe(400)
  })

  it('accepts a form-encoded token request and a numeric account_id', async () => {
    const sb = await sandbox()
    const form = await fetch(`${sb.authUrl}v2/token`, {
      method: 'POST',
      body: new URLSearchParams({grant_type: 'client_credentials', client_id: sb.clientId, client_secret: sb.clientSecret}),
    })
    expect(form.status).toBe(200)
    const numeric = await requestToken(sb, {account_id: 123456})
    expect(numeric.status).toBe(200)
  })

  it('keeps a token alive for tokenLifetimeMs, then answers 401 Not Authorized though expires_in said 1080', async () => {
    const clock = manualClock()
    const sb = await sandbox({tokenLifetimeMs: 20 * 60_000, clock: clock.read})
    const res = await requestToken(sb)
    const {access_token: tok, expires_in} = (await res.json()) as TokenBody
    expect(expires_in).toBe(1080)
    clock.now += 1080_000 + 60_000 // past expires_in, still inside the real 20 minutes
    expect((await sendBatch(sb, tok, [recipient(1)])).status).toBe(202)
    clock.now += 2 * 60_000
    const dead = await sendBatch(sb, tok, [recipient(2)])
    expect(dead.status).toBe(401)
    expect(dead.body).toEqual(NOT_AUTHORIZED)
    expect(dead.headers.get('www-authenticate')).toMatch(/Bearer .*invalid_token/)
    expect(sb.outbox().map((e) => e.messageKey)).toEqual(['key-1'])
  })

  it('expireTokens() kills every issued token; a fresh token works', async () => {
    const sb = await sandbox()
    const tok = await token(sb)
    sb.expireTokens()
    const res = await call(sb, 'GET', `${DEFINITIONS}/welcome`, tok)
    expect(res.status).toBe(401)
    expect(res.body).toEqual(NOT_AUTHORIZED)
    expect((await call(sb, 'GET', `${DEFINITIONS}/welcome`, await token(sb))).status).toBe(200)
  })

  it('answers a missing or unknown bearer with 401 Not Authorized', async () => {
    const sb = await sandbox()
    expect((await sendBatch(sb, 'not-a-token', [recipient(1)])).body).toEqual(NOT_AUTHORIZED)
    const none = await call(sb, 'POST', `${MESSAGES}/`, undefined, {definitionKey: 'welcome', recipients: [recipient(1)]})
    expect(none.status).toBe(401)
    expect(sb.outbox()).toEqual([])
  })

  it('binds a token to its MID: messageKey dedupe is per business unit', async () => {
    const sb = await sandbox()
    const buA = await token(sb, '111')
    const buB = await token(sb, '222')
    expect(responsesOf((await sendBatch(sb, buA, [recipient(1)])).body)).toEqual([{messageKey: 'key-1'}])
    expect(responsesOf((await sendBatch(sb, buB, [recipient(1)])).body)).toEqual([{messageKey: 'key-1'}])
    expect(responsesOf((await sendBatch(sb, buA, [recipient(1)])).body)[0]?.errorcode).toBe(109110)
    expect(sb.outbox().map((e) => e.mid)).toEqual(['111', '222'])
    const defaultMid = await token(sb)
    expect((await call(sb, 'GET', `${MESSAGES}/key-1`, defaultMid)).status).toBe(400)
  })
})

describe('batch send: request validation', () => {
  it('accepts a well-formed batch: errorcode 0, no message, entries with only messageKey, outbox records', async () => {
    const sb = await sandbox()
    const tok = await token(sb)
    const res = await sendBatch(sb, tok, [recipient(1, {attributes: {FirstName: 'Ann'}}), recipient(2)], {attributes: {Release: '4.2', FirstName: 'Default'}})
    expect(res.status).toBe(202)
    expect(res.body.errorcode).toBe(0)
    expect(res.body).not.toHaveProperty('message')
    expect(typeof res.body.requestId).toBe('string')
    expect(res.body.responses).toEqual([{messageKey: 'key-1'}, {messageKey: 'key-2'}])
    const outbox = sb.outbox()
    expect(outbox).toHaveLength(2)
    expect(outbox[0]).toMatchObject({messageKey: 'key-1', mid: '100000001', definitionKey: 'welcome', contactKey: 'contact-1', to: 'person1@example.com', requestId: res.body.requestId})
    expect(outbox[0]?.attributes).toEqual({Release: '4.2', FirstName: 'Ann'})
    expect(outbox[1]?.attributes).toEqual({Release: '4.2', FirstName: 'Default'})
    expect(Number.isNaN(Date.parse(outbox[0]?.acceptedAt ?? ''))).toBe(false)
    expect(sb.stats.sendRequests).toBe(1)
  })

  it('works on the route without the trailing slash too', async () => {
    const sb = await sandbox()
    const res = await call(sb, 'POST', MESSAGES, await token(sb), {definitionKey: 'welcome', recipients: [recipient(1)]})
    expect(res.status).toBe(202)
  })

  it.each([
    ['the singleton `recipient` object', {definitionKey: 'welcome', recipient: recipient(1)}, 'recipient'],
    ['an unknown top-level field', {definitionKey: 'welcome', recipients: [recipient(1)], options: {}}, 'options'],
    ['an unknown recipient field', {definitionKey: 'welcome', recipients: [recipient(1), {...recipient(2), email: 'x@example.com'}]}, 'email'],
  ])('rejects %s with 400 / 109122 and accepts nothing', async (_name, body, field) => {
    const sb = await sandbox()
    const res = await call(sb, 'POST', `${MESSAGES}/`, await token(sb), body)
    expect(res.status).toBe(400)
    expect(res.body.errorcode).toBe(109122)
    expect(res.body.message).toBe(`MCMS_UTM_Validation_UnknownFieldName: Unrecognized email field name '${field}'`)
    expect(sb.outbox()).toEqual([])
  })

  it('rejects more than 2000 recipients with 109101 and none with 109102; 2000 is fine', async () => {
    const sb = await sandbox()
    const tok = await token(sb)
    const many = Array.from({length: 2001}, (_, i) => recipient(i))
    const over = await sendBatch(sb, tok, many)
    expect(over.status).toBe(400)
    expect(over.body.errorcode).toBe(109101)
    const empty = await sendBatch(sb, tok, [])
    expect(empty.status).toBe(400)
    expect(empty.body.errorcode).toBe(109102)
    expect(sb.outbox()).toEqual([])
    const full = await sendBatch(sb, tok, many.slice(0, 2000))
    expect(full.status).toBe(202)
    expect(sb.outbox()).toHaveLength(2000)
  })

  it('answers malformed JSON with 400 / 10004 and a wrong Content-Type with 415', async () => {
    const sb = await sandbox()
    const tok = await token(sb)
    const bad = await call(sb, 'POST', `${MESSAGES}/`, tok, '{"definitionKey": "welcome", "recipients": [}')
    expect(bad.status).toBe(400)
    expect(bad.body.errorcode).toBe(10004)
    const media = await call(sb, 'POST', `${MESSAGES}/`, tok, JSON.stringify({definitionKey: 'welcome', recipients: [recipient(1)]}), {'content-type': 'text/plain'})
    expect(media.status).toBe(415)
    expect(sb.outbox()).toEqual([])
  })

  it("rejects an unknown definitionKey with 400 / 109111 when unknownDefinitions is 'missing', and a Deleted one", async () => {
    const sb = await sandbox({unknownDefinitions: 'missing', definitions: {welcome: 'Active', old: 'Deleted'}})
    const tok = await token(sb)
    const unknown = await call(sb, 'POST', `${MESSAGES}/`, tok, {definitionKey: 'nope', recipients: [recipient(1)]})
    expect(unknown.status).toBe(400)
    expect(unknown.body.errorcode).toBe(109111)
    expect((await call(sb, 'POST', `${MESSAGES}/`, tok, {definitionKey: 'old', recipients: [recipient(1)]})).body.errorcode).toBe(109111)
    expect((await sendBatch(sb, tok, [recipient(1)])).status).toBe(202)
    sb.setDefinition('welcome', 'missing')
    expect((await sendBatch(sb, tok, [recipient(2)])).body.errorcode).toBe(109111)
  })

  it('requires definitionKey', async () => {
    const sb = await sandbox()
    const res = await call(sb, 'POST', `${MESSAGES}/`, await token(sb), {recipients: [recipient(1)]})
    expect(res.status).toBe(400)
    expect(res.body.errorcode).toBe(109107)
  })
})

describe('batch send: per-recipient validation and dedupe', () => {
  it('reports each bad recipient with its code, keeps the good ones and sums up with 109001', async () => {
    const sb = await sandbox()
    const tok = await token(sb)
    const longKey = 'k'.repeat(101)
    const res = await sendBatch(sb, tok, [
      recipient(1),
      {contactKey: 'c2', messageKey: 'key-2'},
      recipient(3, {to: 'not-an-address'}),
      {to: 'p4@example.com', messageKey: 'key-4'},
      recipient(5, {messageKey: longKey}),
      recipient(6, {messageKey: 'key-1'}),
      recipient(7, {messageKey: 'x'.repeat(100)}),
      {contactKey: 'c8', to: 'p8@example.com'},
    ])
    expect(res.status).toBe(202)
    expect(res.body.errorcode).toBe(109001)
    expect(res.body.message).toBe('MCMS_UTM_ResponsesHasErrors: 5 subscribers failed to queue out of 8')
    const entries = responsesOf(res.body)
    expect(entries.map((e) => e.errorcode ?? 0)).toEqual([0, 109106, 109121, 109105, 109108, 109110, 0, 0])
    expect(entries[1]?.message).toBe('MCMS_UTM_Validation_MissingRequiredField_to: Invalid subscriber')
    expect(entries[4]?.messageKey).toBe(longKey)
    expect(entries[5]).toEqual({messageKey: 'key-1', errorcode: 109110, message: 'MCMS_UTM_Validation_DuplicateMessageKey: messageKey reused within the past 2 days'})
    expect(entries[0]).toEqual({messageKey: 'key-1'})
    const generated = entries[7]?.messageKey ?? ''
    expect(generated.length).toBeGreaterThan(0)
    expect(sb.outbox().map((e) => e.messageKey)).toEqual(['key-1', 'x'.repeat(100), generated])
    expect(sb.outbox().find((e) => e.messageKey === 'key-1')?.contactKey).toBe('contact-1')
  })

  it('counts messageKey length in characters: 100 emoji pass, 101 do not', async () => {
    const sb = await sandbox()
    const tok = await token(sb)
    const res = await sendBatch(sb, tok, [recipient(1, {messageKey: '😀'.repeat(100)}), recipient(2, {messageKey: '😀'.repeat(101)})])
    expect(responsesOf(res.body).map((e) => e.errorcode ?? 0)).toEqual([0, 109108])
  })

  it('never queues a reused key twice within the window, and accepts it again after the window', async () => {
    const clock = manualClock()
    const sb = await sandbox({clock: clock.read, dedupeWindowMs: 72 * HOUR, tokenLifetimeMs: 1000 * HOUR})
    const tok = await token(sb)
    expect(responsesOf((await sendBatch(sb, tok, [recipient(1), recipient(2)])).body)).toEqual([{messageKey: 'key-1'}, {messageKey: 'key-2'}])
    clock.now += 71 * HOUR
    const again = await sendBatch(sb, tok, [recipient(1), recipient(3)])
    expect(again.body.errorcode).toBe(109001)
    expect(responsesOf(again.body).map((e) => e.errorcode ?? 0)).toEqual([109110, 0])
    expect(sb.deliveries('key-1')).toBe(1)
    clock.now += 2 * HOUR
    const later = await sendBatch(sb, tok, [recipient(1)])
    expect(later.body.errorcode).toBe(0)
    expect(sb.deliveries('key-1')).toBe(2)
    expect(sb.deliveries('never-sent')).toBe(0)
  })

  it('accepts a key exactly once when many requests race with it', async () => {
    const dir = await tempDir()
    const sb = await sandbox({dataDir: dir})
    const tok = await token(sb)
    const results = await Promise.all(Array.from({length: 24}, (_, i) => sendBatch(sb, tok, [recipient(i + 100, {messageKey: 'same-key'}), recipient(i)])))
    const accepted = results.flatMap((r) => responsesOf(r.body)).filter((e) => e.messageKey === 'same-key' && e.errorcode === undefined)
    expect(accepted).toHaveLength(1)
    expect(sb.deliveries('same-key')).toBe(1)
    expect(sb.outbox().filter((e) => e.messageKey === 'same-key')).toHaveLength(1)
    await sb.close()
    const lines = (await readFile(path.join(dir, 'outbox.ndjson'), 'utf8')).trim().split('\n')
    expect(lines.filter((l) => (JSON.parse(l) as {messageKey: string}).messageKey === 'same-key')).toHaveLength(1)
    expect(lines).toHaveLength(25)
  })

  it('applies a scripted rejectRecipient after validation: the recipient is answered with its code and not queued', async () => {
    const seen: string[] = []
    const sb = await sandbox({
      rejectRecipient: (r) => {
        seen.push(r.messageKey)
        return r.contactKey === 'contact-2' ? {errorcode: 109121, message: 'MCMS_UTM_Validation_InvalidValue_to: scripted'} : undefined
      },
    })
    const tok = await token(sb)
    const res = await sendBatch(sb, tok, [recipient(1), recipient(2), recipient(3, {to: 'bad'})])
    expect(res.body.message).toBe('MCMS_UTM_ResponsesHasErrors: 2 subscribers failed to queue out of 3')
    expect(responsesOf(res.body)[1]).toEqual({messageKey: 'key-2', errorcode: 109121, message: 'MCMS_UTM_Validation_InvalidValue_to: scripted'})
    expect(seen).toEqual(['key-1', 'key-2']) // an invalid recipient never reaches the hook
    expect(sb.outbox().map((e) => e.messageKey)).toEqual(['key-1'])
    expect(sb.deliveries('key-2')).toBe(0)
  })

  it('emits errorcode as a string with lenientShapes', async () => {
    const sb = await sandbox({lenientShapes: true})
    const tok = await token(sb)
    const ok = await sendBatch(sb, tok, [recipient(1)])
    expect(ok.body.errorcode).toBe('0')
    const partial = await sendBatch(sb, tok, [recipient(1), recipient(2)])
    expect(partial.body.errorcode).toBe('109001')
    expect(responsesOf(partial.body)[0]?.errorcode).toBe('109110')
    expect((await call(sb, 'POST', `${MESSAGES}/`, tok, {definitionKey: 'x', recipient: {}})).body.errorcode).toBe('109122')
  })
})

describe('singleton send', () => {
  it('takes the key from the URL-encoded path and answers in the batch shape', async () => {
    const sb = await sandbox()
    const tok = await token(sb)
    const key = 'order/42 ✓?#'
    const res = await call(sb, 'POST', `${MESSAGES}/${encodeURIComponent(key)}`, tok, {definitionKey: 'welcome', recipient: {contactKey: 'c1', to: 'a@example.com', attributes: {A: 1}}})
    expect(res.status).toBe(202)
    expect(res.body).toMatchObject({errorcode: 0, responses: [{messageKey: key}]})
    expect(sb.outbox()[0]).toMatchObject({messageKey: key, contactKey: 'c1', attributes: {A: 1}})
    const dup = await call(sb, 'POST', `${MESSAGES}/${encodeURIComponent(key)}`, tok, {definitionKey: 'welcome', recipient: {contactKey: 'c1', to: 'a@example.com'}})
    expect(dup.status).toBe(202)
    expect(responsesOf(dup.body)[0]?.errorcode).toBe(109110)
    expect(sb.deliveries(key)).toBe(1)
  })

  it('rejects `recipients` on the singleton route, a missing recipient, and a key over 100 characters', async () => {
    const sb = await sandbox()
    const tok = await token(sb)
    const plural = await call(sb, 'POST', `${MESSAGES}/k1`, tok, {definitionKey: 'welcome', recipients: [recipient(1)]})
    expect(plural.body.errorcode).toBe(109122)
    const missing = await call(sb, 'POST', `${MESSAGES}/k1`, tok, {definitionKey: 'welcome'})
    expect(missing.status).toBe(400)
    const long = await call(sb, 'POST', `${MESSAGES}/${'k'.repeat(101)}`, tok, {definitionKey: 'welcome', recipient: {contactKey: 'c', to: 'a@example.com'}})
    expect(responsesOf(long.body)[0]?.errorcode).toBe(109108)
    expect(sb.outbox()).toEqual([])
  })
})

describe('status model', () => {
  it('is queued first (no info, no compositeId), then sent; timestamps are CST without offset', async () => {
    const clock = manualClock(Date.UTC(2025, 5, 1, 3, 30, 15, 250))
    const sb = await sandbox({clock: clock.read, statusModel: {queuedMs: 5000}, statusRateLimit: {requests: 100, perMs: 1000}})
    const tok = await token(sb)
    const acceptedMs = clock.now
    await sendBatch(sb, tok, [recipient(1)])
    const queued = await call(sb, 'GET', `${MESSAGES}/key-1`, tok)
    expect(queued.status).toBe(200)
    expect(queued.body.eventCategoryType).toBe('TransactionalSendEvents.EmailQueued')
    expect(queued.body).not.toHaveProperty('info')
    expect(queued.body).not.toHaveProperty('compositeId')
    const ts = queued.body.timestamp as string
    expect(ts).toMatch(CST_FORMAT)
    expect(ts.startsWith('2025-05-31T21:30:15')).toBe(true) // 03:30 UTC on 1 June is 21:30 the day before in CST
    expect(fromCst(ts)).toBe(acceptedMs)

    clock.now += 5000
    const sent = await call(sb, 'GET', `${MESSAGES}/key-1`, tok)
    expect(sent.body.eventCategoryType).toBe('TransactionalSendEvents.EmailSent')
    expect(sent.body.info).toEqual({messageKey: 'key-1', contactKey: 'contact-1', to: 'person1@example.com'})
    expect(typeof sent.body.compositeId).toBe('string')
    expect(fromCst(sent.body.timestamp as string)).toBe(acceptedMs + 5000)
  })

  it('uses a varying number of fractional digits', async () => {
    const sb = await sandbox({statusRateLimit: {requests: 100, perMs: 1000}})
    const tok = await token(sb)
    await sendBatch(sb, tok, Array.from({length: 12}, (_, i) => recipient(i)))
    const digits = new Set<number>()
    for (let i = 0; i < 12; i++) {
      const ts = (await call(sb, 'GET', `${MESSAGES}/key-${i}`, tok)).body.timestamp as string
      expect(ts).toMatch(CST_FORMAT)
      digits.add(ts.includes('.') ? (ts.split('.')[1] ?? '').length : 0)
    }
    expect(digits.size).toBeGreaterThan(2)
  })

  it('turns scripted outcomes into EmailNotSent with the subscriber code, and lists them with paging', async () => {
    const clock = manualClock()
    const sb = await sandbox({
      clock: clock.read,
      statusRateLimit: {requests: 100, perMs: 1000},
      statusModel: {queuedMs: 1000, outcome: (key) => (key.endsWith('-odd') ? {event: 'notSent', statusCode: 24, statusMessage: 'ListDetectiveExclusion'} : {event: 'sent'})},
    })
    const tok = await token(sb)
    await sendBatch(sb, tok, [recipient(1, {messageKey: 'a-odd'}), recipient(2, {messageKey: 'b'}), recipient(3, {messageKey: 'c-odd'}), recipient(4, {messageKey: 'd-odd'})])
    const early = await call(sb, 'GET', `${MESSAGES}/?type=notSent`, tok)
    expect(early.body).toEqual({lastEventID: 0, messages: [], count: 0})
    clock.now += 1000
    const notSent = await call(sb, 'GET', `${MESSAGES}/a-odd`, tok)
    expect(notSent.body.eventCategoryType).toBe('TransactionalSendEvents.EmailNotSent')
    expect(notSent.body.info).toMatchObject({messageKey: 'a-odd', statusCode: 24, statusMessage: 'ListDetectiveExclusion'})

    const page1 = await call(sb, 'GET', `${MESSAGES}/?type=notSent&$pageSize=2`, tok)
    const messages1 = page1.body.messages as {eventID: number; info: {messageKey: string}; statusCode: number; definitionKey: string; timestamp: string}[]
    expect(messages1.map((m) => m.info.messageKey)).toEqual(['a-odd', 'c-odd'])
    expect(page1.body.count).toBe(2)
    expect(messages1[0]).toMatchObject({statusCode: 24, statusMessage: 'ListDetectiveExclusion', eventCategoryType: 'TransactionalSendEvents.EmailNotSent', definitionKey: 'welcome'})
    expect(messages1[0]?.timestamp).toMatch(CST_FORMAT)
    expect(page1.body.lastEventID).toBe(messages1[1]?.eventID)
    const page2 = await call(sb, 'GET', `${MESSAGES}/?type=notSent&$pageSize=2&lastEventId=${page1.body.lastEventID}`, tok)
    expect((page2.body.messages as {info: {messageKey: string}}[]).map((m) => m.info.messageKey)).toEqual(['d-odd'])
    const page3 = await call(sb, 'GET', `${MESSAGES}/?type=notSent&$pageSize=2&lastEventId=${page2.body.lastEventID}`, tok)
    expect(page3.body.count).toBe(0)
    expect((await call(sb, 'GET', `${MESSAGES}/?type=sent`, tok)).status).toBe(400)
  })

  it('keeps messages queued while the definition is Inactive, reports the queue, and sends them once it is Active', async () => {
    const clock = manualClock()
    const sb = await sandbox({clock: clock.read, definitions: {welcome: 'Inactive'}, statusRateLimit: {requests: 100, perMs: 1000}})
    const tok = await token(sb)
    await sendBatch(sb, tok, [recipient(1), recipient(2)])
    clock.now += 90_000
    expect((await call(sb, 'GET', `${MESSAGES}/key-1`, tok)).body.eventCategoryType).toBe('TransactionalSendEvents.EmailQueued')
    const queue = await call(sb, 'GET', `${DEFINITIONS}/welcome/queue`, tok)
    expect(queue.body).toMatchObject({count: 2, ageSeconds: 90})
    sb.setDefinition('welcome', 'Active')
    expect((await call(sb, 'GET', `${MESSAGES}/key-1`, tok)).body.eventCategoryType).toBe('TransactionalSendEvents.EmailSent')
    expect((await call(sb, 'GET', `${DEFINITIONS}/welcome/queue`, tok)).body).toMatchObject({count: 0, ageSeconds: 0})
  })

  it('deletes a queue only while the definition is Inactive', async () => {
    const sb = await sandbox({definitions: {welcome: 'Active'}, statusRateLimit: {requests: 100, perMs: 1000}})
    const tok = await token(sb)
    const refused = await call(sb, 'DELETE', `${DEFINITIONS}/welcome/queue`, tok)
    expect(refused.status).toBe(400)
    expect(refused.body).toEqual({message: 'MCMS_UTM_Runtime_InvalidOperation: Definition status must be inactive to delete queue', errorcode: 30001, documentation: ''})
    sb.setDefinition('welcome', 'Inactive')
    await sendBatch(sb, tok, [recipient(1)])
    const cleared = await call(sb, 'DELETE', `${DEFINITIONS}/welcome/queue`, tok)
    expect(cleared.status).toBe(200)
    expect(cleared.body.message).toBe('Queued')
    const status = await call(sb, 'GET', `${MESSAGES}/key-1`, tok)
    expect(status.body.eventCategoryType).toBe('TransactionalSendEvents.EmailNotSent')
    expect((status.body.info as {statusCode: number}).statusCode).toBe(37)
  })

  it('answers 400 / 30003 for an unknown key and for a message older than 3 days (the route documents no 404)', async () => {
    const clock = manualClock()
    const sb = await sandbox({clock: clock.read, tokenLifetimeMs: 1000 * HOUR, statusRateLimit: {requests: 100, perMs: 1000}})
    const tok = await token(sb)
    const unknown = await call(sb, 'GET', `${MESSAGES}/never-sent`, tok)
    expect(unknown.status).toBe(400)
    expect(unknown.body.errorcode).toBe(30003)
    expect(typeof unknown.body.message).toBe('string')
    await sendBatch(sb, tok, [recipient(1)])
    clock.now += 72 * HOUR
    expect((await call(sb, 'GET', `${MESSAGES}/key-1`, tok)).status).toBe(200)
    clock.now += 1000
    expect((await call(sb, 'GET', `${MESSAGES}/key-1`, tok)).status).toBe(400)
  })

  it('rate-limits the status route with 429, Retry-After and the documented body', async () => {
    const sb = await sandbox({statusRateLimit: {requests: 2, perMs: 60_000}})
    const tok = await token(sb)
    await sendBatch(sb, tok, [recipient(1)])
    expect((await call(sb, 'GET', `${MESSAGES}/key-1`, tok)).status).toBe(200)
    expect((await call(sb, 'GET', `${MESSAGES}/key-1`, tok)).status).toBe(200)
    const limited = await call(sb, 'GET', `${MESSAGES}/key-1`, tok)
    expect(limited.status).toBe(429)
    const retryAfter = Number(limited.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(59)
    expect(retryAfter).toBeLessThanOrEqual(60)
    expect(limited.body).toMatchObject({message: 'Rate limit exceeded', errorcode: 50100, retryAfter})
    expect(sb.stats.statusRequests).toBe(3)
    // Sends are not limited by the status route's budget.
    expect((await sendBatch(sb, tok, [recipient(2)])).status).toBe(202)
  })
})

describe('definitions', () => {
  it('describes a definition and answers 404 for an unknown key', async () => {
    const sb = await sandbox({unknownDefinitions: 'missing', definitions: {welcome: 'Active', paused: 'Inactive', old: 'Deleted'}})
    const tok = await token(sb)
    const one = await call(sb, 'GET', `${DEFINITIONS}/paused`, tok)
    expect(one.status).toBe(200)
    expect(one.body).toMatchObject({definitionKey: 'paused', status: 'Inactive', classification: 'Default Transactional'})
    expect(typeof one.body.definitionId).toBe('string')
    const missing = await call(sb, 'GET', `${DEFINITIONS}/nope`, tok)
    expect(missing.status).toBe(404)
    expect(missing.body).toMatchObject({errorcode: 30003})
    expect(missing.body.message).toMatch(/doesn't exist/)
    expect((await call(sb, 'GET', `${DEFINITIONS}/nope/queue`, tok)).status).toBe(404)
    expect(sb.stats.definitionRequests).toBe(3)
    expect((await call(sb, 'GET', `${DEFINITIONS}/old`, tok)).body).toMatchObject({definitionKey: 'old', status: 'Deleted'})
  })

  it('answers an unknown definitionKey as Marketing Cloud does by default (404, 109111 on send), and knows the examples\' keys', async () => {
    const sb = await sandbox()
    const tok = await token(sb)
    const res = await call(sb, 'GET', `${DEFINITIONS}/anything`, tok)
    expect(res.status).toBe(404)
    expect(res.body.message).toMatch(/doesn't exist for this MID/)
    const send = await call(sb, 'POST', `${MESSAGES}/`, tok, {definitionKey: 'anything', recipients: [recipient(1)]})
    expect(send.status).toBe(400)
    expect(send.body.errorcode).toBe(109111)
    expect(sb.outbox()).toEqual([])
    for (const key of ['release-notes', 'beta-invitation', 'trial-ending-reminder', 'maintenance-notice', 'welcome-email']) {
      expect((await call(sb, 'GET', `${DEFINITIONS}/${key}`, tok)).body).toMatchObject({definitionKey: key, status: 'Active'})
    }
  })

  it("makes up an Active definition for an unknown key with unknownDefinitions: 'active'", async () => {
    const sb = await sandbox({unknownDefinitions: 'active'})
    const res = await call(sb, 'GET', `${DEFINITIONS}/anything`, await token(sb))
    expect(res.body).toMatchObject({definitionKey: 'anything', status: 'Active'})
  })

  it('reads more definitions from definitions.json in its data directory', async () => {
    const dir = await tempDir()
    await writeFile(path.join(dir, 'definitions.json'), JSON.stringify({'order-confirmation': 'active', paused: 'Inactive'}))
    const sb = await sandbox({dataDir: dir})
    const tok = await token(sb)
    expect((await call(sb, 'GET', `${DEFINITIONS}/order-confirmation`, tok)).body).toMatchObject({status: 'Active'})
    expect((await call(sb, 'GET', `${DEFINITIONS}/paused`, tok)).body).toMatchObject({status: 'Inactive'})
    await writeFile(path.join(dir, 'definitions.json'), '{"x": "Maybe"}')
    await expect(startSandbox({dataDir: dir})).rejects.toThrow(/"x" must map to Active, Inactive or Deleted/)
  })

  it('lists definitions with $filter and paging, reproducing count = items on the page', async () => {
    const sb = await sandbox({builtinDefinitions: false, definitions: {a: 'Active', b: 'Active', c: 'Active', d: 'Inactive'}})
    const tok = await token(sb)
    const page1 = await call(sb, 'GET', `${DEFINITIONS}?$pageSize=2&$page=1`, tok)
    expect(page1.body).toMatchObject({count: 2, page: 1, pageSize: 2})
    expect((page1.body.definitions as {definitionKey: string}[]).map((d) => d.definitionKey)).toEqual(['a', 'b'])
    const page2 = await call(sb, 'GET', `${DEFINITIONS}?$pageSize=2&$page=2`, tok)
    expect(page2.body.count).toBe(2)
    const page3 = await call(sb, 'GET', `${DEFINITIONS}?$pageSize=2&$page=3`, tok)
    expect(page3.body.count).toBe(0)
    const active = await call(sb, 'GET', `${DEFINITIONS}?$filter=${encodeURIComponent('status eq active')}`, tok)
    expect((active.body.definitions as {definitionKey: string}[]).map((d) => d.definitionKey)).toEqual(['a', 'b', 'c'])
    expect((await call(sb, 'GET', `${DEFINITIONS}?$filter=bogus`, tok)).status).toBe(400)
    const total = await sandbox({builtinDefinitions: false, definitions: {a: 'Active', b: 'Active', c: 'Active'}, definitionListCount: 'total'})
    expect((await call(total, 'GET', `${DEFINITIONS}?$pageSize=2`, await token(total))).body.count).toBe(3)
  })
})

describe('fault injection', () => {
  it('answers a status fault the given number of times on its route, with Retry-After', async () => {
    const sb = await sandbox()
    const tok = await token(sb)
    sb.inject({kind: 'status', status: 503, times: 2, retryAfter: 3})
    const first = await sendBatch(sb, tok, [recipient(1)])
    expect(first.status).toBe(503)
    expect(first.headers.get('retry-after')).toBe('3')
    expect(first.body.errorcode).toBe(50300)
    expect((await call(sb, 'GET', `${DEFINITIONS}/welcome`, tok)).status).toBe(200) // other routes unaffected
    expect((await sendBatch(sb, tok, [recipient(1)])).status).toBe(503)
    expect((await sendBatch(sb, tok, [recipient(1)])).status).toBe(202)
    expect(sb.outbox()).toHaveLength(1)
  })

  it('injects 429 with the documented body, 50200 without Retry-After, and gateway errors that are not JSON', async () => {
    const sb = await sandbox()
    sb.inject({kind: 'status', route: 'token', status: 429, retryAfter: 7})
    const limited = await requestToken(sb)
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('7')
    expect(await limited.json()).toMatchObject({message: 'Rate limit exceeded', errorcode: 50100, retryAfter: 7})
    const tok = await token(sb)
    sb.inject({kind: 'status', status: 429, errorcode: 50200})
    const blocked = await sendBatch(sb, tok, [recipient(1)])
    expect(blocked.status).toBe(429)
    expect(blocked.headers.get('retry-after')).toBeNull()
    expect(blocked.body.errorcode).toBe(50200)
    sb.inject({kind: 'status', route: 'any', status: 502})
    const gateway = await call(sb, 'GET', `${DEFINITIONS}/welcome`, tok)
    expect(gateway.status).toBe(502)
    expect(gateway.headers.get('content-type')).toMatch(/text\/html/)
  })

  it('drop-response accepts the messages but the client sees a socket error; a retry gets 109110', async () => {
    const dir = await tempDir()
    const sb = await sandbox({dataDir: dir})
    const tok = await token(sb)
    sb.inject({kind: 'drop-response'})
    const error = await sendBatch(sb, tok, [recipient(1), recipient(2)]).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(TypeError) // fetch failed
    expect(sb.outbox().map((e) => e.messageKey)).toEqual(['key-1', 'key-2'])
    const retry = await sendBatch(sb, tok, [recipient(1), recipient(2), recipient(3)])
    expect(responsesOf(retry.body).map((e) => e.errorcode ?? 0)).toEqual([109110, 109110, 0])
    expect(sb.deliveries('key-1')).toBe(1)
    await sb.close()
    const lines = (await readFile(path.join(dir, 'outbox.ndjson'), 'utf8')).trim().split('\n')
    expect(lines.map((l) => (JSON.parse(l) as {messageKey: string}).messageKey)).toEqual(['key-1', 'key-2', 'key-3'])
  })

  it('delays the answer but processes the request on arrival', async () => {
    const sb = await sandbox()
    const tok = await token(sb)
    sb.inject({kind: 'delay', ms: 1000})
    let answered = false
    const pending = sendBatch(sb, tok, [recipient(1)]).finally(() => (answered = true))
    // Wait for the event (the message in the outbox), not for a fixed time: it is there before the answer is.
    await waitFor(() => sb.outbox().length === 1)
    expect(answered).toBe(false)
    expect((await pending).status).toBe(202)
  })

  it('random faults are deterministic for a seed and last until cleared', async () => {
    const pattern = async (seed: number) => {
      const sb = await sandbox()
      const tok = await token(sb)
      sb.inject({kind: 'random', route: 'definition', rate: 0.5, status: 500, seed})
      const statuses: number[] = []
      for (let i = 0; i < 16; i++) statuses.push((await call(sb, 'GET', `${DEFINITIONS}/welcome`, tok)).status)
      sb.clearFaults()
      statuses.push((await call(sb, 'GET', `${DEFINITIONS}/welcome`, tok)).status)
      return statuses
    }
    const a = await pattern(42)
    expect(await pattern(42)).toEqual(a)
    expect(a.slice(0, 16)).toContain(500)
    expect(a.slice(0, 16)).toContain(200)
    expect(a[16]).toBe(200)
  })
})

describe('keep-alive sockets', () => {
  /** One raw HTTP/1.1 keep-alive connection, to see exactly when the server closes it. */
  function rawConnection(url: string) {
    const {hostname, port} = new URL(url)
    const socket = net.connect(Number(port), hostname)
    let buffer = ''
    let closedAt: number | undefined
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => (buffer += d))
    socket.on('close', () => (closedAt = Date.now()))
    socket.on('error', () => undefined)
    const request = async (): Promise<string> => {
      buffer = ''
      socket.write(`GET /messaging/v1/email/definitions/x HTTP/1.1\r\nHost: ${hostname}\r\nConnection: keep-alive\r\n\r\n`)
      const until = Date.now() + 2000
      while (!/\r\n\r\n[\s\S]*\}$/.test(buffer) && Date.now() < until) await new Promise((r) => setTimeout(r, 5))
      return buffer
    }
    return {socket, request, closedAt: () => closedAt}
  }

  it('closes an idle keep-alive socket after idleTimeoutMs, not before, and sends no Keep-Alive hint', async () => {
    const idleMs = 600
    const sb = await sandbox({idleTimeoutMs: idleMs})
    const conn = rawConnection(sb.url)
    const first = await conn.request()
    expect(first).toMatch(/^HTTP\/1\.1 401/)
    expect(first.toLowerCase()).not.toContain('keep-alive: timeout')
    // The same socket answers a second request: it was not closed in between.
    expect(await conn.request()).toMatch(/^HTTP\/1\.1 401/)
    expect(conn.closedAt()).toBeUndefined()
    const secondAt = Date.now()
    await waitFor(() => conn.closedAt() !== undefined, 3000)
    const idleFor = (conn.closedAt() as number) - secondAt
    expect(idleFor).toBeGreaterThanOrEqual(idleMs - 100)
  })

  it('a client that still writes on the socket the server closed gets ECONNRESET', async () => {
    const sb = await sandbox({idleTimeoutMs: 100})
    const {hostname, port} = new URL(sb.url)
    // allowHalfOpen: like a pooled socket whose owner has not noticed the server's FIN yet.
    const socket = net.connect({port: Number(port), host: hostname, allowHalfOpen: true})
    let ended = false
    socket.on('end', () => (ended = true))
    const error = new Promise<NodeJS.ErrnoException>((resolve) => socket.on('error', resolve))
    socket.on('data', () => undefined)
    socket.write(`GET /messaging/v1/email/definitions/x HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`)
    await waitFor(() => ended, 3000)
    expect(ended).toBe(true)
    // The first write reaches a closed port and draws a reset; the one after it fails locally on that reset.
    socket.write(`GET /messaging/v1/email/definitions/x HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`)
    await new Promise((r) => setTimeout(r, 50))
    socket.write('\r\n')
    const e = await Promise.race([error, new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000))])
    socket.destroy()
    expect(['ECONNRESET', 'EPIPE']).toContain(e?.code)
  })
})

describe('persistence with dataDir', () => {
  it('remembers accepted keys across a restart', async () => {
    const dir = await tempDir()
    const first = await sandbox({dataDir: dir})
    await sendBatch(first, await token(first), [recipient(1), recipient(2)])
    await first.close()
    const second = await sandbox({dataDir: dir})
    expect(second.outbox().map((e) => e.messageKey)).toEqual(['key-1', 'key-2'])
    const tok = await token(second)
    const res = await sendBatch(second, tok, [recipient(1), recipient(3)])
    expect(responsesOf(res.body).map((e) => e.errorcode ?? 0)).toEqual([109110, 0])
    expect(second.deliveries('key-1')).toBe(1)
    expect((await call(second, 'GET', `${MESSAGES}/key-2`, tok)).body.eventCategoryType).toBe('TransactionalSendEvents.EmailSent')
    await second.close()
    const lines = (await readFile(path.join(dir, 'outbox.ndjson'), 'utf8')).split('\n')
    expect(lines).toHaveLength(4) // three entries and the final newline
    expect(lines[3]).toBe('')
  })

  it('ignores a torn last line and repairs the file before appending', async () => {
    const dir = await tempDir()
    const whole = JSON.stringify({messageKey: 'k-whole', mid: '100000001', definitionKey: 'welcome', contactKey: 'c', to: 'a@example.com', attributes: {}, requestId: 'r', acceptedAt: new Date().toISOString()})
    await writeFile(path.join(dir, 'outbox.ndjson'), `${whole}\n{"messageKey":"k-torn","mid":"1000`)
    const sb = await sandbox({dataDir: dir})
    expect(sb.outbox().map((e) => e.messageKey)).toEqual(['k-whole'])
    const tok = await token(sb)
    const res = await sendBatch(sb, tok, [recipient(1, {messageKey: 'k-whole'}), recipient(2, {messageKey: 'k-torn'})])
    expect(responsesOf(res.body).map((e) => e.errorcode ?? 0)).toEqual([109110, 0])
    await sb.close()
    const lines = (await readFile(path.join(dir, 'outbox.ndjson'), 'utf8')).trim().split('\n')
    expect(lines.map((l) => (JSON.parse(l) as {messageKey: string}).messageKey)).toEqual(['k-whole', 'k-torn'])
  })

  it('keeps a whole last entry that lost only its newline', async () => {
    const dir = await tempDir()
    const entry = JSON.stringify({messageKey: 'k-1', mid: '100000001', definitionKey: 'welcome', contactKey: 'c', to: 'a@example.com', attributes: {}, requestId: 'r', acceptedAt: new Date().toISOString()})
    await writeFile(path.join(dir, 'outbox.ndjson'), entry)
    const sb = await sandbox({dataDir: dir})
    expect(sb.outbox().map((e) => e.messageKey)).toEqual(['k-1'])
    await sendBatch(sb, await token(sb), [recipient(2)])
    await sb.close()
    const lines = (await readFile(path.join(dir, 'outbox.ndjson'), 'utf8')).trim().split('\n')
    expect(lines.map((l) => (JSON.parse(l) as {messageKey: string}).messageKey)).toEqual(['k-1', 'key-2'])
  })
})

describe('request log', () => {
  it('reports method, path, status and recipient count without email addresses', async () => {
    const events: {method: string; path: string; status: number; recipients?: number; fault?: string}[] = []
    const sb = await sandbox({onRequest: (e) => events.push(e)})
    const tok = await token(sb)
    await sendBatch(sb, tok, [recipient(1), recipient(2)])
    await call(sb, 'GET', `${MESSAGES}/${encodeURIComponent('ann@example.com')}`, tok)
    expect(events[1]).toMatchObject({method: 'POST', path: `/${MESSAGES}/`, status: 202, recipients: 2})
    expect(events[2]?.path).toBe(`/${MESSAGES}/[redacted]`)
    expect(JSON.stringify(events)).not.toMatch(/@/)
  })
})

describe('userinfo and the control routes', () => {
  it('answers GET /v2/userinfo with the MID the token belongs to (organization.member_id)', async () => {
    const sb = await sandbox()
    const info = await call(sb, 'GET', 'v2/userinfo', await token(sb, '4242'))
    expect(info.status).toBe(200)
    expect((info.body.organization as {member_id: number}).member_id).toBe(4242)
    expect((await call(sb, 'GET', 'v2/userinfo', 'not-a-token')).status).toBe(401)
  })

  it('refuses control requests without the client secret, and steers definitions, faults, outcomes and rejections', async () => {
    const sb = await sandbox()
    const ctl = (method: string, route: string, body?: unknown) => call(sb, method, `mcsend-sandbox/${route}`, undefined, body, {'x-mcsend-sandbox-secret': sb.clientSecret})
    expect((await call(sb, 'POST', 'mcsend-sandbox/expire-tokens', undefined)).status).toBe(403)
    const tok = await token(sb)

    expect((await ctl('PUT', 'definitions/order-confirmation', {status: 'Active'})).status).toBe(204)
    expect((await call(sb, 'GET', `${DEFINITIONS}/order-confirmation`, tok)).body).toMatchObject({status: 'Active'})
    expect((await ctl('PUT', 'definitions/x', {status: 'Sleeping'})).status).toBe(400)

    expect((await ctl('POST', 'faults', {kind: 'status', route: 'send', status: 503, retryAfter: 1})).status).toBe(204)
    expect((await sendBatch(sb, tok, [recipient(1)])).status).toBe(503)
    expect((await ctl('POST', 'faults', {kind: 'nonsense'})).status).toBe(400)

    expect((await ctl('PUT', 'outcomes/key-2', {event: 'notSent', statusCode: 24, statusMessage: 'ListDetectiveExclusion'})).status).toBe(204)
    expect((await ctl('PUT', 'rejections/key-3', {errorcode: 109106, remember: true})).status).toBe(204)
    const res = await sendBatch(sb, tok, [recipient(2), recipient(3)])
    expect(responsesOf(res.body)).toEqual([{messageKey: 'key-2'}, expect.objectContaining({messageKey: 'key-3', errorcode: 109106})])
    expect((await call(sb, 'GET', `${MESSAGES}/key-2`, tok)).body).toMatchObject({eventCategoryType: 'TransactionalSendEvents.EmailNotSent', info: {statusCode: 24}})
    // A remembered rejection: the key now counts as used, so a retry is answered 109110 and still not sent.
    expect((await ctl('DELETE', 'rejections/key-3')).status).toBe(204)
    expect(responsesOf((await sendBatch(sb, tok, [recipient(3)])).body)[0]?.errorcode).toBe(109110)

    // Every recipient failing: with failedBatchStatus the answer is that status, still listing each recipient.
    expect((await ctl('PUT', 'settings', {failedBatchStatus: 400})).status).toBe(204)
    const allDup = await sendBatch(sb, tok, [recipient(2)])
    expect(allDup.status).toBe(400)
    expect(allDup.body.errorcode).toBe(109103)
    expect(responsesOf(allDup.body)[0]?.errorcode).toBe(109110)

    const outbox = (await ctl('GET', 'outbox')).body.entries as {messageKey: string}[]
    expect(outbox.map((e) => e.messageKey)).toEqual(['key-2'])
    expect((await ctl('POST', 'expire-tokens')).status).toBe(204)
    expect((await sendBatch(sb, tok, [recipient(4)])).status).toBe(401)
    expect((await ctl('GET', 'nowhere')).status).toBe(404)
  })
})
