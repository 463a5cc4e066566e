import {describe, expect, it} from 'vitest'

import {authHostOf, describeTarget, offlineTarget, targetMismatch} from '../../src/core/target.js'

const tenantA = {kind: 'marketing-cloud' as const, authHost: 'mcaaaa.auth.marketingcloudapis.com', accountId: '111'}

describe('state targets', () => {
  it('refuses another tenant or business unit, and the sandbox against Marketing Cloud, naming both', () => {
    expect(targetMismatch(tenantA, {...tenantA, authHost: 'mcbbbb.auth.marketingcloudapis.com'})).toBe(
      'the state belongs to Marketing Cloud mcaaaa.auth.marketingcloudapis.com, business unit 111, but this run targets Marketing Cloud mcbbbb.auth.marketingcloudapis.com, business unit 111',
    )
    expect(targetMismatch(tenantA, {...tenantA, accountId: '222'})).toMatch(/business unit 111, but .* business unit 222$/)
    expect(targetMismatch({kind: 'sandbox'}, tenantA)).toMatch(/belongs to the sandbox, but this run targets Marketing Cloud/)
  })

  it('accepts the same target, an unknown side, and a business unit only one side knows', () => {
    expect(targetMismatch(tenantA, {...tenantA})).toBeUndefined()
    expect(targetMismatch(undefined, tenantA)).toBeUndefined()
    expect(targetMismatch(tenantA, undefined)).toBeUndefined()
    expect(targetMismatch(tenantA, {kind: 'marketing-cloud', authHost: tenantA.authHost})).toBeUndefined()
  })

  it('counts a loopback auth host (a `mcsend sandbox` process, any port) as the sandbox', () => {
    expect(authHostOf('http://127.0.0.1:41234/')).toBe('127.0.0.1')
    expect(authHostOf('https://MCAAAA.auth.marketingcloudapis.com/')).toBe('mcaaaa.auth.marketingcloudapis.com')
    expect(targetMismatch({kind: 'sandbox'}, {kind: 'marketing-cloud', authHost: '127.0.0.1', accountId: '1'})).toBeUndefined()
    expect(describeTarget({kind: 'marketing-cloud', authHost: '127.0.0.1', accountId: '1'})).toBe('the sandbox at 127.0.0.1, business unit 1')
  })

  it('knows offline what the environment says: --sandbox, the auth host and MCSEND_ACCOUNT_ID, or nothing', () => {
    expect(offlineTarget({sandbox: true, env: {}})).toEqual({kind: 'sandbox'})
    expect(offlineTarget({env: {}})).toBeUndefined()
    expect(offlineTarget({env: {MCSEND_CLIENT_ID: 'i', MCSEND_CLIENT_SECRET: 's', MCSEND_SUBDOMAIN: 'mcaaaa', MCSEND_ACCOUNT_ID: '111'}})).toEqual(tenantA)
  })
})
