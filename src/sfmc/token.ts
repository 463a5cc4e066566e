import {ApiError, type ErrorCode} from '../errors.js'
import {CREDENTIAL_VARIABLES, isAllowedScheme} from './credentials.js'
import {hostNotFound, isRecord, RequestFailure, requestJson, type HttpSettings} from './http.js'
import {redact} from './redact.js'
import type {Credentials} from './types.js'

export interface AccessToken {
  value: string
  /** REST base URL from `rest_instance_url`, with scheme and one trailing slash. */
  restUrl: string
  /** When the token is refreshed (ms since epoch): ahead of its expiry, see tokenRefreshAt. */
  refreshAt: number
}

export interface TokenProvider {
  /** A valid token: the cached one, or a fresh one. Concurrent callers share one in-flight token request. */
  get(): Promise<AccessToken>
  /** Forgets `value` if it is the cached token (after a 401), so the next get() fetches a new one. */
  invalidate(value: string): void
  /** The text with the client secret and every token issued so far replaced, and email addresses masked. */
  redact(text: string): string
}

export interface TokenProviderOptions {
  http: HttpSettings
  /** ms since epoch; default Date.now. */
  clock?: () => number
}

const AUTH_URL_HINT = `check that ${CREDENTIAL_VARIABLES.authUrl} (or ${CREDENTIAL_VARIABLES.subdomain}) points at your tenant's Authentication Base URI`

/** Refresh this long before `expires_in` runs out... */
const REFRESH_MARGIN_MS = 60_000

/**
 * When to refresh a token obtained at `obtainedAt` with `expires_in` seconds: 60 s early, but never later than
 * half-way through its life, so a short-lived token is not used to its last second. Marketing Cloud already
 * reports 2 minutes less than the real 20-minute lifetime (docs/marketing-cloud-api.md).
 */
export function tokenRefreshAt(obtainedAt: number, expiresInSeconds: number): number {
  const lifetime = Math.max(0, expiresInSeconds) * 1000
  return obtainedAt + lifetime - Math.min(REFRESH_MARGIN_MS, lifetime / 2)
}

/**
 * The REST base URL from a token response's `rest_instance_url`, which the docs show as a bare host and the live
 * service sends as `https://host/`: add the scheme, keep exactly one trailing slash, refuse anything but https
 * (http only on the loopback host, for the sandbox), since the bearer token travels to it.
 */
export function normaliseRestUrl(raw: string): string | undefined {
  const text = raw.trim()
  if (text === '') return undefined
  let url: URL
  try {
    url = new URL(/^[a-z][a-z\d+.-]*:\/\//i.test(text) ? text : `https://${text}`)
  } catch {
    return undefined
  }
  if (!isAllowedScheme(url) || url.username || url.password) return undefined
  url.search = ''
  url.hash = ''
  url.pathname = url.pathname.replace(/\/*$/, '/')
  return url.toString()
}

/** Client-credentials tokens for one installed package and business unit (docs/marketing-cloud-api.md). */
export function createTokenProvider(credentials: Credentials, options: TokenProviderOptions): TokenProvider {
  const clock = options.clock ?? Date.now
  const settings = options.http
  const issued: string[] = []
  let current: AccessToken | undefined
  let inFlight: Promise<AccessToken> | undefined

  const secrets = (): string[] => [credentials.clientSecret, ...issued]
  const fail = (message: string, fields: {code: ErrorCode; hint: string; status?: number; cause?: unknown}): ApiError =>
    new ApiError(redact(message, secrets()), {code: fields.code, status: fields.status, hint: redact(fields.hint, secrets()), cause: fields.cause})

  const fetchToken = async (): Promise<AccessToken> => {
    const obtainedAt = clock()
    const body: Record<string, unknown> = {grant_type: 'client_credentials', client_id: credentials.clientId, client_secret: credentials.clientSecret}
    // One business unit per run: messageKey dedupe is per MID, so a retry must reach the same one.
    if (credentials.accountId !== undefined) body.account_id = Number(credentials.accountId)
    const url = new URL('v2/token', credentials.authUrl).toString()
    let response
    try {
      response = await requestJson({route: 'token', method: 'post', url, json: body}, settings)
    } catch (error) {
      throw tokenError(error, credentials, fail)
    }
    const answer = isRecord(response.body) ? response.body : {}
    const value = typeof answer.access_token === 'string' ? answer.access_token : ''
    if (value === '') {
      throw fail('Marketing Cloud answered the token request without an access token', {
        code: 'bad_response',
        hint: AUTH_URL_HINT,
      })
    }
    issued.push(value)
    if (issued.length > 50) issued.shift()
    const rawExpiresIn = typeof answer.expires_in === 'string' ? Number(answer.expires_in) : answer.expires_in
    const expiresIn = typeof rawExpiresIn === 'number' && Number.isFinite(rawExpiresIn) && rawExpiresIn > 0 ? rawExpiresIn : 1080
    const restUrl = typeof answer.rest_instance_url === 'string' ? normaliseRestUrl(answer.rest_instance_url) : undefined
    if (restUrl === undefined) {
      throw fail('Marketing Cloud answered the token request without a usable rest_instance_url (https is required)', {
        code: 'bad_response',
        hint: AUTH_URL_HINT,
      })
    }
    settings.onEvent?.({type: 'token', expiresIn})
    return {value, restUrl, refreshAt: tokenRefreshAt(obtainedAt, expiresIn)}
  }

  return {
    get(): Promise<AccessToken> {
      if (current !== undefined && clock() < current.refreshAt) return Promise.resolve(current)
      if (inFlight === undefined) {
        inFlight = fetchToken()
          .then((token) => {
            current = token
            return token
          })
          .finally(() => {
            inFlight = undefined
          })
      }
      return inFlight
    },
    invalidate(value: string): void {
      if (current?.value === value) current = undefined
    },
    redact(text: string): string {
      return redact(text, secrets())
    },
  }
}

type Fail = (message: string, fields: {code: ErrorCode; hint: string; status?: number; cause?: unknown}) => ApiError

function tokenError(error: unknown, credentials: Credentials, fail: Fail): unknown {
  if (!(error instanceof RequestFailure)) return error
  const host = new URL(credentials.authUrl).host
  const where = `${CREDENTIAL_VARIABLES.subdomain} or ${CREDENTIAL_VARIABLES.authUrl}`
  const credentialHint =
    `check ${CREDENTIAL_VARIABLES.clientId} and ${CREDENTIAL_VARIABLES.clientSecret} against the API integration of the installed package ` +
    '(Marketing Cloud Setup > Apps > Installed Packages), and that the package is installed in this account and enabled; package changes take up to 5 minutes to apply'
  if (error.kind === 'http') {
    const status = error.status ?? 0
    const detail = error.body.error === undefined ? '' : ` (${error.body.error})`
    if (status === 401) {
      return fail(`Marketing Cloud authentication failed: the client ID and client secret were not accepted${detail}`, {
        code: 'bad_credentials',
        status,
        hint: credentialHint,
      })
    }
    if (status === 400 || status === 403) {
      const description = error.body.errorDescription ?? error.body.message
      const accountHint =
        credentials.accountId === undefined
          ? ''
          : `; ${CREDENTIAL_VARIABLES.accountId}=${credentials.accountId} must be the MID of a business unit the package has access to`
      return fail(`Marketing Cloud refused the token request (HTTP ${status}${detail})${description ? `: ${description}` : ''}`, {
        code: 'token_refused',
        status,
        hint: `${credentialHint}${accountHint}`,
      })
    }
    if (status === 404) {
      return fail(`no Marketing Cloud token endpoint at ${host} (HTTP 404)`, {
        code: 'bad_auth_url',
        status,
        hint: `check ${where}: it must be your tenant's Authentication Base URI, https://SUBDOMAIN.auth.marketingcloudapis.com/`,
      })
    }
    return fail(`could not get a Marketing Cloud access token from ${host}: HTTP ${status} after ${error.attempts} attempt(s)`, {
      code: status === 429 ? 'rate_limited' : 'unreachable',
      status,
      hint: 'Marketing Cloud is throttling or unavailable; wait a few minutes and run again (nothing was sent)',
    })
  }
  return fail(`could not reach Marketing Cloud at ${host} for an access token: ${error.message}${error.attempts > 1 ? ` after ${error.attempts} attempts` : ''}`, {
    code: 'unreachable',
    hint: hostNotFound(error)
      ? `the host name does not resolve: check ${where}`
      : 'check the network connection and any proxy or firewall, then run again (nothing was sent)',
    cause: error.cause,
  })
}
