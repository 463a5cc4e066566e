import {CliError, ExitCode} from '../errors.js'
import type {Credentials} from './types.js'

export const CREDENTIAL_VARIABLES = {
  clientId: 'MCSEND_CLIENT_ID',
  clientSecret: 'MCSEND_CLIENT_SECRET',
  subdomain: 'MCSEND_SUBDOMAIN',
  authUrl: 'MCSEND_AUTH_URL',
  accountId: 'MCSEND_ACCOUNT_ID',
} as const

const SANDBOX_HINT = 'or run with --sandbox to use the built-in fake Marketing Cloud, which needs no credentials'

/**
 * Reads the connection from the environment (design.md, "Connection and credentials").
 * undefined when no MCSEND_ connection variable is set, so the caller can say "use --sandbox";
 * a CliError naming exactly what is missing or malformed when only some are set. Empty values count as unset.
 */
export function credentialsFromEnv(env: NodeJS.ProcessEnv): Credentials | undefined {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim()
    return value ? value : undefined
  }
  const clientId = read(CREDENTIAL_VARIABLES.clientId)
  const clientSecret = read(CREDENTIAL_VARIABLES.clientSecret)
  const subdomain = read(CREDENTIAL_VARIABLES.subdomain)
  const authUrlRaw = read(CREDENTIAL_VARIABLES.authUrl)
  const accountId = read(CREDENTIAL_VARIABLES.accountId)

  if ([clientId, clientSecret, subdomain, authUrlRaw, accountId].every((v) => v === undefined)) return undefined

  const missing: string[] = []
  if (clientId === undefined) missing.push(CREDENTIAL_VARIABLES.clientId)
  if (clientSecret === undefined) missing.push(CREDENTIAL_VARIABLES.clientSecret)
  if (subdomain === undefined && authUrlRaw === undefined) missing.push(`${CREDENTIAL_VARIABLES.subdomain} (or ${CREDENTIAL_VARIABLES.authUrl})`)
  if (clientId === undefined || clientSecret === undefined || missing.length > 0) {
    const list = missing.length === 1 ? `${missing[0]} is` : `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)} are`
    throw new CliError(`incomplete Marketing Cloud credentials: ${list} not set`, {
      code: 'missing_credentials',
      exitCode: ExitCode.error,
      hint: `set ${missing.join(', ')} from the API integration of your installed package (Setup > Apps > Installed Packages), ${SANDBOX_HINT}`,
    })
  }

  const authUrl = authUrlRaw === undefined ? authUrlFromSubdomain(subdomain ?? '') : normaliseAuthUrl(authUrlRaw)
  if (accountId !== undefined && !/^\d{1,18}$/.test(accountId)) {
    throw invalid(`${CREDENTIAL_VARIABLES.accountId} must be the numeric MID of a business unit`, 'copy the MID shown next to the business unit name in Marketing Cloud, or unset the variable to use the business unit that owns the package')
  }
  return accountId === undefined ? {clientId, clientSecret, authUrl} : {clientId, clientSecret, authUrl, accountId}
}

/** `https://SUBDOMAIN.auth.marketingcloudapis.com/` from the tenant subdomain (letters, digits and hyphens). */
export function authUrlFromSubdomain(subdomain: string): string {
  if (!/^[a-z\d](?:[a-z\d-]{0,61}[a-z\d])?$/i.test(subdomain)) {
    const looksLikeUrl = /[./:]/.test(subdomain)
    throw invalid(
      `${CREDENTIAL_VARIABLES.subdomain} is not a tenant subdomain (letters, digits and hyphens only)`,
      looksLikeUrl
        ? `set ${CREDENTIAL_VARIABLES.subdomain} to the part before .auth.marketingcloudapis.com, or put the whole Authentication Base URI in ${CREDENTIAL_VARIABLES.authUrl}`
        : 'copy it from the Authentication Base URI of your installed package: https://SUBDOMAIN.auth.marketingcloudapis.com/',
    )
  }
  return `https://${subdomain.toLowerCase()}.auth.marketingcloudapis.com/`
}

/** Validates an auth base URL (https, or http only on the loopback host) and gives it exactly one trailing slash. */
export function normaliseAuthUrl(raw: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw invalid(`${CREDENTIAL_VARIABLES.authUrl} is not a URL`, 'use the Authentication Base URI of your installed package, e.g. https://SUBDOMAIN.auth.marketingcloudapis.com/')
  }
  if (!isAllowedScheme(url)) {
    throw invalid(
      `${CREDENTIAL_VARIABLES.authUrl} must use https (plain http is allowed only for 127.0.0.1 and localhost)`,
      'the client secret travels in the token request, so it must not cross the network unencrypted',
    )
  }
  if (url.search || url.hash || url.username || url.password) {
    throw invalid(`${CREDENTIAL_VARIABLES.authUrl} must not carry a query, fragment or user info`, 'use the bare Authentication Base URI, e.g. https://SUBDOMAIN.auth.marketingcloudapis.com/')
  }
  url.pathname = url.pathname.replace(/\/*$/, '/')
  // The client appends v2/token; an URL that already ends with it would give v2/token/v2/token.
  if (/\/v2\/token\/$/i.test(url.pathname)) url.pathname = url.pathname.replace(/v2\/token\/$/i, '')
  return url.toString()
}

/** https anywhere; http only on the loopback host (the sandbox and tests). */
export function isAllowedScheme(url: URL): boolean {
  if (url.protocol === 'https:') return true
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
}

function invalid(message: string, hint: string): CliError {
  return new CliError(message, {code: 'invalid_credentials', exitCode: ExitCode.error, hint})
}
