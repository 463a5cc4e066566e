import {describe, expect, it} from 'vitest'

import {CliError, ExitCode} from '../../src/errors.js'
import {authUrlFromSubdomain, credentialsFromEnv, normaliseAuthUrl} from '../../src/sfmc/credentials.js'

function thrown(fn: () => unknown): CliError {
  try {
    fn()
  } catch (error) {
    if (error instanceof CliError) return error
    throw error
  }
  throw new Error('expected a CliError')
}

describe('credentialsFromEnv', () => {
  it('returns undefined when no connection variable is set (empty values count as unset)', () => {
    expect(credentialsFromEnv({})).toBeUndefined()
    expect(credentialsFromEnv({MCSEND_CLIENT_ID: '', MCSEND_CLIENT_SECRET: '  ', PATH: '/bin'})).toBeUndefined()
  })

  it('builds the auth URL from the subdomain', () => {
    expect(credentialsFromEnv({MCSEND_CLIENT_ID: 'id', MCSEND_CLIENT_SECRET: 'secret', MCSEND_SUBDOMAIN: 'mc563885gzs27c5t9-63k636ttgm'})).toEqual({
      clientId: 'id',
      clientSecret: 'secret',
      authUrl: 'https://mc563885gzs27c5t9-63k636ttgm.auth.marketingcloudapis.com/',
    })
  })

  it('lets MCSEND_AUTH_URL override the subdomain and normalises the trailing slash; keeps the account id', () => {
    const env = {
      MCSEND_CLIENT_ID: 'id',
      MCSEND_CLIENT_SECRET: 'secret',
      MCSEND_SUBDOMAIN: 'ignored',
      MCSEND_AUTH_URL: 'http://127.0.0.1:4567',
      MCSEND_ACCOUNT_ID: '100000002',
    }
    expect(credentialsFromEnv(env)).toEqual({clientId: 'id', clientSecret: 'secret', authUrl: 'http://127.0.0.1:4567/', accountId: '100000002'})
    expect(normaliseAuthUrl('https://x.auth.marketingcloudapis.com//')).toBe('https://x.auth.marketingcloudapis.com/')
    expect(normaliseAuthUrl('https://x.auth.marketingcloudapis.com/v2/token')).toBe('https://x.auth.marketingcloudapis.com/')
    expect(normaliseAuthUrl('http://localhost:9/base')).toBe('http://localhost:9/base/')
  })

  it('names exactly the missing variables and mentions --sandbox', () => {
    const error = thrown(() => credentialsFromEnv({MCSEND_CLIENT_ID: 'id'}))
    expect(error.code).toBe('missing_credentials')
    expect(error.exitCode).toBe(ExitCode.error)
    expect(error.message).toContain('MCSEND_CLIENT_SECRET')
    expect(error.message).toContain('MCSEND_SUBDOMAIN (or MCSEND_AUTH_URL)')
    expect(error.message).not.toContain('MCSEND_CLIENT_ID')
    expect(error.hint).toContain('--sandbox')

    const onlySecret = thrown(() => credentialsFromEnv({MCSEND_CLIENT_SECRET: 's3cr3t-value', MCSEND_AUTH_URL: 'https://a.example/'}))
    expect(onlySecret.message).toBe('incomplete Marketing Cloud credentials: MCSEND_CLIENT_ID is not set')
    expect(onlySecret.message + (onlySecret.hint ?? '')).not.toContain('s3cr3t-value')

    const onlyAccount = thrown(() => credentialsFromEnv({MCSEND_ACCOUNT_ID: '123'}))
    expect(onlyAccount.message).toContain('MCSEND_CLIENT_ID, MCSEND_CLIENT_SECRET and MCSEND_SUBDOMAIN (or MCSEND_AUTH_URL) are not set')
  })

  it('rejects a malformed subdomain, URL or account id', () => {
    const base = {MCSEND_CLIENT_ID: 'id', MCSEND_CLIENT_SECRET: 'secret'}
    const pasted = thrown(() => credentialsFromEnv({...base, MCSEND_SUBDOMAIN: 'mcabc.auth.marketingcloudapis.com'}))
    expect(pasted.code).toBe('invalid_credentials')
    expect(pasted.hint).toContain('MCSEND_AUTH_URL')
    expect(thrown(() => authUrlFromSubdomain('has space')).code).toBe('invalid_credentials')
    expect(thrown(() => authUrlFromSubdomain('-leading')).code).toBe('invalid_credentials')
    expect(thrown(() => credentialsFromEnv({...base, MCSEND_AUTH_URL: 'http://example.com/'})).message).toContain('https')
    expect(thrown(() => credentialsFromEnv({...base, MCSEND_AUTH_URL: 'not a url'})).message).toContain('not a URL')
    expect(thrown(() => credentialsFromEnv({...base, MCSEND_AUTH_URL: 'https://a.example/?x=1'})).code).toBe('invalid_credentials')
    expect(thrown(() => credentialsFromEnv({...base, MCSEND_SUBDOMAIN: 'abc', MCSEND_ACCOUNT_ID: 'MID-1'})).message).toContain('MCSEND_ACCOUNT_ID')
  })
})
