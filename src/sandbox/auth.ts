/** The auth routes: `POST /v2/token` (client credentials) and `GET /v2/userinfo`, answered by the TokenIssuer. */
import type {IncomingHttpHeaders} from 'node:http'

import {parseJsonBody} from './http-io.js'
import type {TokenIssuer} from './tokens.js'
import {json, notAuthorized, oauthError, type WireResponse} from './wire.js'

export function answerToken(tokens: TokenIssuer, headers: IncomingHttpHeaders, body: Buffer | undefined, now: number): WireResponse {
  const parsed = parseTokenBody(headers['content-type'], body)
  if (parsed instanceof Error) return oauthError(400, 'invalid_request', parsed.message)
  return tokens.issue(parsed, now)
}

export function answerUserinfo(tokens: TokenIssuer, headers: IncomingHttpHeaders, now: number, lenient: boolean): WireResponse {
  const mid = tokens.verify(headers.authorization, now)
  return mid === undefined ? notAuthorized(lenient) : json(200, tokens.userinfo(mid, now))
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
