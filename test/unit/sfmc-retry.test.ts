import {describe, expect, it} from 'vitest'

import {backoffDelayMs, classifyConnectionError, retryAfterMs} from '../../src/sfmc/retry.js'
import {normaliseRestUrl, tokenRefreshAt} from '../../src/sfmc/token.js'

describe('backoffDelayMs (exponential, full jitter)', () => {
  const policy = {baseDelayMs: 100, maxDelayMs: 1000}

  it('doubles the ceiling per attempt up to the cap', () => {
    const top = () => 0.999_999_9
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, policy, top))).toEqual([99, 199, 399, 799, 999, 999])
  })

  it('draws uniformly below the ceiling', () => {
    expect(backoffDelayMs(3, policy, () => 0)).toBe(0)
    expect(backoffDelayMs(3, policy, () => 0.5)).toBe(200)
    expect(backoffDelayMs(1, policy, () => 0.25)).toBe(25)
  })

  it('stays within bounds for odd random values and huge attempts', () => {
    expect(backoffDelayMs(2, policy, () => Number.NaN)).toBe(0)
    expect(backoffDelayMs(2, policy, () => 1)).toBeLessThan(200)
    expect(backoffDelayMs(10_000, policy, () => 0.5)).toBe(500)
  })
})

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates, capped', () => {
    expect(retryAfterMs('5', 60_000)).toBe(5000)
    expect(retryAfterMs(2, 60_000)).toBe(2000)
    expect(retryAfterMs('3600', 60_000)).toBe(60_000)
    expect(retryAfterMs('0', 60_000)).toBe(0)
    const now = Date.parse('2025-01-01T00:00:00Z')
    expect(retryAfterMs('Wed, 01 Jan 2025 00:00:10 GMT', 60_000, now)).toBe(10_000)
    expect(retryAfterMs('Tue, 31 Dec 2024 23:59:00 GMT', 60_000, now)).toBe(0)
  })

  it('is undefined when absent or unreadable', () => {
    expect(retryAfterMs(null, 1000)).toBeUndefined()
    expect(retryAfterMs(undefined, 1000)).toBeUndefined()
    expect(retryAfterMs('soon', 1000)).toBeUndefined()
  })
})

describe('classifyConnectionError', () => {
  const fetchFailed = (cause: unknown) => Object.assign(new TypeError('fetch failed'), {cause})

  const coded = (message: string, code: string) => Object.assign(new Error(message), {code})
  const unknownOutcome = (reason: string) => ({reason, retriable: true, outcomeUnknown: true})

  // Resets and closed sockets: retriable, and the request may have been processed. A refused connection sent
  // nothing; an unknown host is not retried.
  it.each([
    ['a reset', fetchFailed(coded('read ECONNRESET', 'ECONNRESET')), unknownOutcome('ECONNRESET')],
    ['a socket closed by the server (undici code)', fetchFailed(coded('other side closed', 'UND_ERR_SOCKET')), unknownOutcome('UND_ERR_SOCKET')],
    ['a socket closed by the server (message only)', fetchFailed(new Error('other side closed')), unknownOutcome('connection closed by the server')],
    ['fetch failed without a cause', new TypeError('fetch failed'), unknownOutcome('fetch failed')],
    ['a refused connection', fetchFailed(coded('connect ECONNREFUSED', 'ECONNREFUSED')), {reason: 'ECONNREFUSED', retriable: true, outcomeUnknown: false}],
    ['an unknown host', fetchFailed(coded('getaddrinfo ENOTFOUND x', 'ENOTFOUND')), {reason: 'ENOTFOUND', retriable: false, outcomeUnknown: false}],
  ])('%s', (_name, error, expected) => {
    expect(classifyConnectionError(error)).toEqual(expected)
  })

  it('leaves other errors alone', () => {
    expect(classifyConnectionError(new Error('boom'))).toBeUndefined()
    expect(classifyConnectionError(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBeUndefined()
    expect(classifyConnectionError(new DOMException('aborted', 'AbortError'))).toBeUndefined()
    expect(classifyConnectionError('string')).toBeUndefined()
  })
})

describe('token timing and REST URL', () => {
  it('refreshes 60 s early, but never later than half-way through the lifetime', () => {
    expect(tokenRefreshAt(0, 1080)).toBe(1_020_000)
    expect(tokenRefreshAt(1000, 100)).toBe(51_000)
    expect(tokenRefreshAt(0, 60)).toBe(30_000)
    expect(tokenRefreshAt(0, 2)).toBe(1000)
  })

  it('normalises rest_instance_url (scheme, trailing slash) and refuses plain http off loopback', () => {
    expect(normaliseRestUrl('https://mc123.rest.marketingcloudapis.com/')).toBe('https://mc123.rest.marketingcloudapis.com/')
    expect(normaliseRestUrl('mc123.rest.marketingcloudapis.com')).toBe('https://mc123.rest.marketingcloudapis.com/')
    expect(normaliseRestUrl('http://127.0.0.1:3000')).toBe('http://127.0.0.1:3000/')
    expect(normaliseRestUrl('http://mc123.rest.marketingcloudapis.com/')).toBeUndefined()
    expect(normaliseRestUrl('')).toBeUndefined()
  })
})
