import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {ApiError} from '../../src/errors.js'
import {startSandbox, type Sandbox, type SandboxOptions} from '../../src/sandbox/server.js'
import {createSfmcClient, type ClientOptions} from '../../src/sfmc/client.js'
import {DUPLICATE_MESSAGE_KEY} from '../../src/sfmc/codes.js'
import type {ClientEvent, Credentials, SendRecipient, SfmcClient} from '../../src/sfmc/types.js'
import {createTokenProvider, type AccessToken, type TokenProvider} from '../../src/sfmc/token.js'
import {DEFAULT_RETRY_POLICY} from '../../src/sfmc/retry.js'
import {waitFor} from '../helpers/project.js'

let sandbox: Sandbox
let clients: SfmcClient[] = []
let events: ClientEvent[] = []

async function start(options: SandboxOptions = {}): Promise<Sandbox> {
  sandbox = await startSandbox({unknownDefinitions: 'missing', definitions: {welcome: 'Active', paused: 'Inactive'}, ...options})
  return sandbox
}

function credentials(overrides: Partial<Credentials> = {}): Credentials {
  return {clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, authUrl: sandbox.authUrl, ...overrides}
}

/** Small delays keep the suite fast; a fixed jitter source keeps it deterministic. */
function client(options: ClientOptions = {}, creds: Credentials = credentials()): SfmcClient {
  const made = createSfmcClient(creds, {
    retry: {limit: 4, baseDelayMs: 10, maxDelayMs: 40, maxRetryAfterMs: 5000},
    timeoutMs: 2000,
    random: () => 0.5,
    onEvent: (e) => events.push(e),
    ...options,
  })
  clients.push(made)
  return made
}

function recipients(count: number, prefix = 'r'): SendRecipient[] {
  return Array.from({length: count}, (_, i) => ({contactKey: `${prefix}-c${i}`, to: `${prefix}${i}@example.com`, messageKey: `${prefix}-key-${i}`}))
}

function retries(): Extract<ClientEvent, {type: 'retry'}>[] {
  return events.filter((e): e is Extract<ClientEvent, {type: 'retry'}> => e.type === 'retry')
}

async function caught(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof ApiError) return error
    throw error
  }
  throw new Error('expected an ApiError')
}

beforeEach(() => {
  events = []
  clients = []
})

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()))
  await sandbox?.close()
})

describe('sendBatch', () => {
  it('sends a batch: every recipient accepted, each key in the outbox once, with attributes', async () => {
    await start()
    const batch = recipients(3)
    const first = batch[0]
    if (first) first.attributes = {FirstName: 'Ann', Vip: true}
    const result = await client().sendBatch({definitionKey: 'welcome', attributes: {ReleaseVersion: '4.2.0'}, recipients: batch})

    expect(result.requestId).toEqual(expect.any(String))
    expect(result.outcomes).toEqual(batch.map((r) => ({messageKey: r.messageKey, accepted: true})))
    const outbox = sandbox.outbox()
    expect(outbox.map((e) => e.messageKey).sort()).toEqual(batch.map((r) => r.messageKey).sort())
    const ann = outbox.find((e) => e.messageKey === 'r-key-0')
    expect(ann).toMatchObject({definitionKey: 'welcome', contactKey: 'r-c0', to: 'r0@example.com', requestId: result.requestId})
    expect(ann?.attributes).toMatchObject({FirstName: 'Ann', Vip: true})
    expect(sandbox.stats).toMatchObject({tokenRequests: 1, sendRequests: 1})
    expect(events).toEqual([{type: 'token', expiresIn: 1080}])
  })

  it('maps mixed per-recipient failures to outcomes by messageKey', async () => {
    await start()
    const batch: SendRecipient[] = [
      {contactKey: 'ok', to: 'ok@example.com', messageKey: 'm-ok'},
      {contactKey: 'no-to', to: '', messageKey: 'm-no-to'},
      {contactKey: 'bad-to', to: 'not-an-address', messageKey: 'm-bad-to'},
      {contactKey: 'long-key', to: 'long@example.com', messageKey: 'k'.repeat(101)},
    ]
    const result = await client().sendBatch({definitionKey: 'welcome', recipients: batch})

    expect(result.outcomes.map((o) => [o.messageKey.slice(0, 10), o.accepted, o.errorCode])).toEqual([
      ['m-ok', true, undefined],
      ['m-no-to', false, 109106],
      ['m-bad-to', false, 109121],
      ['kkkkkkkkkk', false, 109108],
    ])
    for (const outcome of result.outcomes.filter((o) => !o.accepted)) expect(outcome.errorMessage).toMatch(/\S/)
    expect(sandbox.outbox().map((e) => e.messageKey)).toEqual(['m-ok'])
    expect(sandbox.stats.sendRequests).toBe(1)
  })

  it('waits for Retry-After on a 429, then succeeds', async () => {
    await start()
    sandbox.inject({kind: 'status', status: 429, retryAfter: 1})
    const started = performance.now()
    const result = await client().sendBatch({definitionKey: 'welcome', recipients: recipients(2)})
    const elapsed = performance.now() - started

    expect(result.outcomes.every((o) => o.accepted)).toBe(true)
    expect(elapsed).toBeGreaterThanOrEqual(950)
    expect(elapsed).toBeLessThan(2500)
    expect(retries()).toEqual([expect.objectContaining({route: 'send', attempt: 1, reason: expect.stringContaining('HTTP 429')})])
    expect(retries()[0]?.delayMs).toBeGreaterThanOrEqual(1000)
    expect(sandbox.stats.sendRequests).toBe(2)
    expect(sandbox.outbox()).toHaveLength(2)
  })

  it('recovers from a storm of 503s and 500s with backoff', async () => {
    await start()
    sandbox.inject({kind: 'status', status: 503, retryAfter: 0, times: 2})
    sandbox.inject({kind: 'status', status: 500, times: 1})
    sandbox.inject({kind: 'status', status: 502, times: 1})
    const result = await client({retry: {limit: 5, baseDelayMs: 10, maxDelayMs: 40}}).sendBatch({definitionKey: 'welcome', recipients: recipients(4)})

    expect(result.outcomes.every((o) => o.accepted)).toBe(true)
    expect(sandbox.stats.sendRequests).toBe(5)
    expect(retries().map((e) => [e.attempt, e.reason.slice(0, 8)])).toEqual([
      [1, 'HTTP 503'],
      [2, 'HTTP 503'],
      [3, 'HTTP 500'],
      [4, 'HTTP 502'],
    ])
    // Full jitter with random() = 0.5: half of min(40, 10 * 2^(n-1)).
    expect(retries().slice(2).map((e) => e.delayMs)).toEqual([20, 20])
    for (const r of recipients(4)) expect(sandbox.deliveries(r.messageKey)).toBe(1)
  })

  it('reports an outcome-unknown ApiError when 5xx retries run out', async () => {
    await start()
    sandbox.inject({kind: 'status', status: 500, times: 10})
    const error = await caught(client({retry: {limit: 2, baseDelayMs: 5, maxDelayMs: 10}}).sendBatch({definitionKey: 'welcome', recipients: recipients(1)}))

    expect(error.code).toBe('server_error')
    expect(error.status).toBe(500)
    expect(error.outcomeUnknown).toBe(true)
    expect(error.message).toContain('after 3 attempts')
    expect(error.hint).toMatch(/109110/)
    expect(sandbox.stats.sendRequests).toBe(3)
  })

  it('retries after a dropped response; the retry answers 109110 for the keys already accepted, and each key is delivered once', async () => {
    await start()
    sandbox.inject({kind: 'drop-response'})
    const batch = recipients(3, 'drop')
    const result = await client().sendBatch({definitionKey: 'welcome', recipients: batch})

    expect(result.outcomes).toEqual(batch.map((r) => expect.objectContaining({messageKey: r.messageKey, accepted: false, errorCode: DUPLICATE_MESSAGE_KEY})))
    expect(retries()).toHaveLength(1)
    expect(sandbox.stats.sendRequests).toBe(2)
    expect(sandbox.outbox()).toHaveLength(3)
    for (const r of batch) expect(sandbox.deliveries(r.messageKey)).toBe(1)
  })

  it('retries after a timeout; the late first attempt was processed, so the retry sees 109110', async () => {
    await start()
    sandbox.inject({kind: 'delay', ms: 600})
    const batch = recipients(2, 'slow')
    const result = await client({timeoutMs: 200}).sendBatch({definitionKey: 'welcome', recipients: batch})

    expect(retries()[0]?.reason).toMatch(/no response within 200 ms/)
    expect(result.outcomes.map((o) => o.errorCode)).toEqual([DUPLICATE_MESSAGE_KEY, DUPLICATE_MESSAGE_KEY])
    for (const r of batch) expect(sandbox.deliveries(r.messageKey)).toBe(1)
  })

  it('reports an outcome-unknown ApiError when the connection keeps dropping', async () => {
    await start()
    sandbox.inject({kind: 'drop-response', times: 10})
    const error = await caught(client({retry: {limit: 1, baseDelayMs: 5, maxDelayMs: 5}}).sendBatch({definitionKey: 'welcome', recipients: recipients(1)}))

    expect(error.code).toBe('unreachable')
    expect(error.outcomeUnknown).toBe(true)
    expect(sandbox.stats.sendRequests).toBe(2)
  })

  it('does not retry a 400 (109101 too many recipients) and explains it', async () => {
    await start()
    const error = await caught(client().sendBatch({definitionKey: 'welcome', recipients: recipients(2001)}))

    expect(error).toMatchObject({code: 'bad_request', status: 400, apiErrorCode: 109101, outcomeUnknown: false})
    expect(error.message).toContain('109101 MCMS_UTM_Validation_TooManySubscribers')
    expect(error.hint).toContain('batchSize')
    expect(sandbox.stats.sendRequests).toBe(1)
    expect(retries()).toEqual([])
    expect(sandbox.outbox()).toEqual([])
  })

  it('does not retry a 403 and names the package scopes', async () => {
    await start()
    // The fake has no 403; a REST host that refuses every token stands in for a package without the send scope.
    let requests = 0
    const forbidding = createServer((req, res) => {
      requests++
      req.resume()
      res.writeHead(403, {'content-type': 'application/json'})
      res.end(JSON.stringify({documentation: 'https://developer.salesforce.com/docs', errorcode: 40000, message: 'Insufficient privileges'}))
    })
    await new Promise<void>((resolve) => forbidding.listen(0, '127.0.0.1', resolve))
    try {
      const restUrl = `http://127.0.0.1:${(forbidding.address() as AddressInfo).port}/`
      const tokens: TokenProvider = {get: async () => ({value: 'token-without-send-scope', restUrl, refreshAt: Number.POSITIVE_INFINITY}), invalidate: () => {}, redact: (text) => text}
      const error = await caught(client({tokenProvider: tokens}).sendBatch({definitionKey: 'welcome', recipients: recipients(1)}))

      expect(error).toMatchObject({code: 'forbidden', status: 403, apiErrorCode: 40000, outcomeUnknown: false})
      expect(error.message).toContain('Insufficient privileges')
      expect(error.hint).toContain('email_send')
      expect(requests).toBe(1)
      expect(retries()).toEqual([])
    } finally {
      await new Promise((resolve) => forbidding.close(resolve))
    }
  })

  it('retries a 504', async () => {
    await start()
    sandbox.inject({kind: 'status', status: 504})
    const result = await client().sendBatch({definitionKey: 'welcome', recipients: recipients(2)})

    expect(result.outcomes.every((o) => o.accepted)).toBe(true)
    expect(retries()).toEqual([expect.objectContaining({route: 'send', attempt: 1, reason: expect.stringContaining('HTTP 504')})])
    expect(sandbox.stats.sendRequests).toBe(2)
  })

  it('gets a new token once when the token dies mid-run, then succeeds', async () => {
    await start()
    const mc = client()
    await mc.sendBatch({definitionKey: 'welcome', recipients: recipients(2, 'a')})
    sandbox.expireTokens()
    const result = await mc.sendBatch({definitionKey: 'welcome', recipients: recipients(2, 'b')})

    expect(result.outcomes.every((o) => o.accepted)).toBe(true)
    expect(sandbox.stats.tokenRequests).toBe(2)
    expect(sandbox.stats.sendRequests).toBe(3)
    expect(retries()).toEqual([expect.objectContaining({route: 'send', reason: expect.stringContaining('401')})])
    expect(sandbox.outbox()).toHaveLength(4)
  })

  it('reports a token failure during a refresh as it is, without retrying it again as a send failure', async () => {
    await start()
    const mc = client({retry: {limit: 1, baseDelayMs: 5, maxDelayMs: 5}})
    await mc.sendBatch({definitionKey: 'welcome', recipients: recipients(1, 'a')})
    sandbox.expireTokens()
    sandbox.inject({kind: 'drop-response', route: 'token', times: 10})
    const error = await caught(mc.sendBatch({definitionKey: 'welcome', recipients: recipients(1, 'b')}))

    expect(error.code).toBe('unreachable')
    expect(error.message).toContain('access token')
    expect(error.outcomeUnknown).toBe(false)
    expect(sandbox.stats.tokenRequests).toBe(3)
    expect(sandbox.stats.sendRequests).toBe(2)
  })

  it('makes exactly one token request for 20 parallel batches, and again one after the token expires', async () => {
    await start()
    const mc = client()
    const send = (round: string) =>
      Promise.all(Array.from({length: 20}, (_, i) => mc.sendBatch({definitionKey: 'welcome', recipients: recipients(5, `${round}${i}`)})))
    const results = await send('p')
    expect(results.flatMap((r) => r.outcomes).every((o) => o.accepted)).toBe(true)
    expect(sandbox.stats.tokenRequests).toBe(1)

    sandbox.expireTokens()
    const again = await send('q')
    expect(again.flatMap((r) => r.outcomes).every((o) => o.accepted)).toBe(true)
    expect(sandbox.stats.tokenRequests).toBe(2)
    expect(sandbox.outbox()).toHaveLength(200)
  })

  it('refreshes the token before it expires, from expires_in', async () => {
    let now = 1_700_000_000_000
    await start()
    const mc = client({clock: () => now})
    await mc.sendBatch({definitionKey: 'welcome', recipients: recipients(1, 'early')})
    now += 1019 * 1000
    await mc.sendBatch({definitionKey: 'welcome', recipients: recipients(1, 'mid')})
    expect(sandbox.stats.tokenRequests).toBe(1)
    now += 2 * 1000 // past 1080 - 60 s
    await mc.sendBatch({definitionKey: 'welcome', recipients: recipients(1, 'late')})
    expect(sandbox.stats.tokenRequests).toBe(2)
    expect(retries()).toEqual([])
  })

  it('cancels on abort with an outcome-unknown ApiError', async () => {
    await start()
    sandbox.inject({kind: 'delay', ms: 1000})
    const controller = new AbortController()
    const sending = caught(client().sendBatch({definitionKey: 'welcome', recipients: recipients(1)}, controller.signal))
    // Cancelled while Marketing Cloud holds the request (it may have been processed).
    const sb = sandbox
    await waitFor(() => sb.stats.sendRequests === 1, 5000, 5)
    controller.abort()
    const error = await sending
    expect(error.code).toBe('aborted')
    expect(error.outcomeUnknown).toBe(true)
    expect(sandbox.stats.sendRequests).toBe(1)
  })

  it('survives the server closing idle keep-alive sockets between batches', async () => {
    // Pauses around the server's idle limit: some requests land on a socket the server is closing (UND_ERR_SOCKET),
    // which the client must retry. Which ones do is timing-dependent; that every batch succeeds is not.
    await start({idleTimeoutMs: 60})
    const mc = client()
    const pauses = Array.from({length: 16}, (_, i) => 52 + (i % 8) * 2)
    for (const [i, pause] of pauses.entries()) {
      await new Promise((resolve) => setTimeout(resolve, pause))
      const result = await mc.sendBatch({definitionKey: 'welcome', recipients: recipients(1, `idle${i}`)})
      expect(result.outcomes[0]?.accepted).toBe(true)
    }
    expect(sandbox.outbox()).toHaveLength(pauses.length)
  })
})

describe('credentials and secrets', () => {
  it('maps a wrong client secret to bad_credentials without the secret anywhere', async () => {
    await start()
    const secret = 'wrong-secret-value-9f8e7d'
    const error = await caught(client({}, credentials({clientSecret: secret})).sendBatch({definitionKey: 'welcome', recipients: recipients(1)}))

    expect(error.code).toBe('bad_credentials')
    expect(error.exitCode).toBe(1)
    expect(error.message).toMatch(/authentication failed/i)
    expect(error.hint).toContain('MCSEND_CLIENT_ID')
    expect(error.hint).toContain('MCSEND_CLIENT_SECRET')
    expect(error.hint).toMatch(/installed package/)
    expect(`${error.message} ${error.hint} ${JSON.stringify(error)} ${String(error.cause)}`).not.toContain(secret)
    expect(JSON.stringify(events)).not.toContain(secret)
    expect(sandbox.stats.tokenRequests).toBe(1)
    expect(sandbox.stats.sendRequests).toBe(0)
  })

  it('keeps the access token and client secret out of every ApiError and event', async () => {
    await start()
    const http = {retry: {...DEFAULT_RETRY_POLICY, limit: 1, baseDelayMs: 5, maxDelayMs: 5}, timeoutMs: 2000, random: () => 0.5}
    const tokens = createTokenProvider(credentials(), {http})
    const token = (await tokens.get()).value
    const mc = client({tokenProvider: tokens, retry: {limit: 1, baseDelayMs: 5, maxDelayMs: 5}})
    const secrets = [token, sandbox.clientSecret]

    const errors: ApiError[] = []
    errors.push(await caught(mc.sendBatch({definitionKey: 'welcome', recipients: recipients(2001)})))
    sandbox.inject({kind: 'status', status: 503, retryAfter: 0, times: 5})
    errors.push(await caught(mc.sendBatch({definitionKey: 'welcome', recipients: recipients(1)})))
    sandbox.clearFaults()
    sandbox.inject({kind: 'drop-response', times: 5})
    errors.push(await caught(mc.sendBatch({definitionKey: 'welcome', recipients: recipients(1)})))
    sandbox.clearFaults()
    sandbox.inject({kind: 'status', status: 429, route: 'definition', retryAfter: 0, times: 5})
    errors.push(await caught(mc.getDefinition('welcome')))

    expect(errors.map((e) => e.code)).toEqual(['bad_request', 'server_error', 'unreachable', 'rate_limited'])
    for (const error of errors) {
      const text = `${error.message}\n${error.hint ?? ''}\n${JSON.stringify(error)}\n${String(error.cause)}\n${JSON.stringify(error.cause ?? null)}`
      for (const secret of secrets) expect(text).not.toContain(secret)
    }
    for (const secret of secrets) expect(JSON.stringify(events)).not.toContain(secret)
  })

  it('gives not_authorized when a freshly issued token is refused too', async () => {
    await start()
    let invalidated = 0
    const stale: AccessToken = {value: 'token-the-server-never-issued', restUrl: `${sandbox.url}/`, refreshAt: Number.POSITIVE_INFINITY}
    const tokens: TokenProvider = {
      get: async () => stale,
      invalidate: () => {
        invalidated++
      },
      redact: (text) => text.split(stale.value).join('[redacted]'),
    }
    const error = await caught(client({tokenProvider: tokens}).sendBatch({definitionKey: 'welcome', recipients: recipients(1)}))

    expect(error).toMatchObject({code: 'not_authorized', status: 401})
    expect(invalidated).toBe(1)
    expect(sandbox.stats.sendRequests).toBe(2)
    expect(error.message).not.toContain(stale.value)
  })

  it('sends account_id so the token belongs to that business unit', async () => {
    await start()
    await client({}, credentials({accountId: '100000002'})).sendBatch({definitionKey: 'welcome', recipients: recipients(1, 'bu')})
    expect(sandbox.outbox()[0]?.mid).toBe('100000002')
  })
})

describe('getDefinition', () => {
  it('returns Active and Inactive definitions, undefined for a missing one, and encodes the key', async () => {
    await start()
    const mc = client()
    expect(await mc.getDefinition('welcome')).toMatchObject({definitionKey: 'welcome', status: 'Active'})
    expect(await mc.getDefinition('paused')).toMatchObject({definitionKey: 'paused', status: 'Inactive'})
    expect(await mc.getDefinition('nope')).toBeUndefined()
    sandbox.setDefinition('welcome', 'Deleted')
    expect((await mc.getDefinition('welcome'))?.status).toBe('Deleted')
    sandbox.setDefinition('odd key/with?chars', 'Active')
    expect(await mc.getDefinition('odd key/with?chars')).toMatchObject({definitionKey: 'odd key/with?chars', status: 'Active'})
    expect(sandbox.stats.definitionRequests).toBe(5)
  })

  it('retries a 503 on the definition route', async () => {
    await start()
    sandbox.inject({kind: 'status', status: 503, route: 'definition', retryAfter: 0})
    expect((await client().getDefinition('welcome'))?.status).toBe('Active')
    expect(retries()).toEqual([expect.objectContaining({route: 'definition', attempt: 1})])
  })
})

describe('getMessageStatus', () => {
  it('maps sent and not-sent statuses, converts the CST timestamp to UTC, and gives undefined for an unknown key', async () => {
    await start({
      statusModel: {outcome: (key) => (key.endsWith('-1') ? {event: 'notSent', statusCode: 24, statusMessage: 'ListDetectiveExclusion'} : {event: 'sent'})},
    })
    const mc = client()
    await mc.sendBatch({definitionKey: 'welcome', recipients: recipients(2, 'st')})

    const sent = await mc.getMessageStatus('st-key-0')
    expect(sent?.eventCategoryType).toBe('TransactionalSendEvents.EmailSent')
    expect(Math.abs(Date.parse(sent?.timestamp ?? '') - Date.now())).toBeLessThan(60_000)
    expect(sent?.timestamp).toMatch(/Z$/)

    expect(await mc.getMessageStatus('st-key-1')).toMatchObject({
      eventCategoryType: 'TransactionalSendEvents.EmailNotSent',
      statusCode: 24,
      statusMessage: 'ListDetectiveExclusion',
    })
    expect(await mc.getMessageStatus('never-sent')).toBeUndefined()
  })

  it('reports Queued while the definition is inactive', async () => {
    await start()
    const mc = client()
    await mc.sendBatch({definitionKey: 'paused', recipients: recipients(1, 'q')})
    expect((await mc.getMessageStatus('q-key-0'))?.eventCategoryType).toBe('TransactionalSendEvents.EmailQueued')
  })

  it('honours the status route rate limit (429 + Retry-After) and still answers', async () => {
    await start({statusRateLimit: {requests: 2, perMs: 1000}})
    const mc = client()
    await mc.sendBatch({definitionKey: 'welcome', recipients: recipients(3, 'rl')})
    const started = performance.now()
    const statuses = []
    for (const key of ['rl-key-0', 'rl-key-1', 'rl-key-2']) statuses.push(await mc.getMessageStatus(key))
    const elapsed = performance.now() - started

    expect(statuses.every((s) => s?.eventCategoryType === 'TransactionalSendEvents.EmailSent')).toBe(true)
    const limited = retries().filter((e) => e.route === 'status')
    expect(limited.length).toBeGreaterThanOrEqual(1)
    expect(limited[0]?.reason).toContain('HTTP 429')
    expect(elapsed).toBeGreaterThanOrEqual((limited[0]?.delayMs ?? 0) - 50)
  })
})
