import {randomBytes, timingSafeEqual} from 'node:crypto'

import {oauthError, json, type WireResponse} from './wire.js'

interface IssuedToken {
  mid: string
  expiresMs: number
}

export interface TokenSettings {
  clientId: string
  clientSecret: string
  defaultAccountId: string
  tokenLifetimeMs: number
  expiresIn: number
  /** The REST base (this server), without the trailing slash. */
  restUrl: () => string
}

/** Scopes a transactional email integration is given (docs/marketing-cloud-api.md). */
const DEFAULT_SCOPE = 'email_read email_write email_send'

/** Issues client-credentials tokens bound to a MID; a token dies after tokenLifetimeMs whatever expires_in says. */
export class TokenIssuer {
  private tokens = new Map<string, IssuedToken>()

  constructor(private readonly settings: TokenSettings) {}

  /** Handles `POST /v2/token` (body already parsed). */
  issue(body: unknown, now: number): WireResponse {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return oauthError(400, 'invalid_request', 'The request body must be a JSON object with grant_type, client_id and client_secret.')
    }
    const b = body as Record<string, unknown>
    if (b.grant_type !== 'client_credentials') {
      return oauthError(400, 'unsupported_grant_type', 'grant_type must be "client_credentials".')
    }
    if (typeof b.client_id !== 'string' || typeof b.client_secret !== 'string' || b.client_id === '' || b.client_secret === '') {
      return oauthError(400, 'invalid_request', 'client_id and client_secret are required.')
    }
    if (!same(b.client_id, this.settings.clientId) || !same(b.client_secret, this.settings.clientSecret)) {
      return oauthError(401, 'invalid_client', 'Client authentication failed. Make sure that the client ID and client secret are valid and that the package is installed and enabled.')
    }
    let mid = this.settings.defaultAccountId
    if (b.account_id !== undefined && b.account_id !== null && b.account_id !== '') {
      const raw = b.account_id
      if (!((typeof raw === 'number' && Number.isSafeInteger(raw) && raw > 0) || (typeof raw === 'string' && /^\d+$/.test(raw)))) {
        return oauthError(400, 'invalid_request', 'account_id must be the numeric MID of a business unit.')
      }
      mid = String(raw)
    }
    if (b.scope !== undefined && typeof b.scope !== 'string') return oauthError(400, 'invalid_scope', 'scope must be a space-separated string.')
    const scope = b.scope === undefined ? DEFAULT_SCOPE : b.scope
    if (this.tokens.size > 1000) this.prune(now)
    const token = randomBytes(48).toString('base64url')
    this.tokens.set(token, {mid, expiresMs: now + this.settings.tokenLifetimeMs})
    return json(200, {
      access_token: token,
      token_type: 'Bearer',
      expires_in: this.settings.expiresIn,
      scope,
      soap_instance_url: `${this.settings.restUrl()}/`,
      rest_instance_url: `${this.settings.restUrl()}/`,
    })
  }

  /**
   * The `GET /v2/userinfo` body for a token of this MID: the organization's member_id is what mcsend reads to
   * learn which business unit a token belongs to. The user part is made up and holds no real address.
   */
  userinfo(mid: string, now: number): Record<string, unknown> {
    return {
      exp: Math.floor((now + this.settings.tokenLifetimeMs) / 1000),
      iss: this.settings.restUrl(),
      user: {sub: '1', name: 'sandbox', preferred_username: 'sandbox'},
      organization: {member_id: Number(mid), enterprise_id: Number(this.settings.defaultAccountId), enterprise_name: 'mcsend sandbox', account_type: 'enterprise'},
      rest: {rest_instance_url: `${this.settings.restUrl()}/`, soap_instance_url: `${this.settings.restUrl()}/`},
    }
  }

  /** The MID a live bearer token belongs to, or undefined (unknown, expired or revoked). */
  verify(authorization: string | undefined, now: number): string | undefined {
    if (authorization === undefined) return undefined
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    if (!m) return undefined
    const issued = this.tokens.get(m[1] as string)
    if (!issued) return undefined
    if (now >= issued.expiresMs) {
      this.tokens.delete(m[1] as string)
      return undefined
    }
    return issued.mid
  }

  expireAll(): void {
    this.tokens = new Map()
  }

  private prune(now: number): void {
    for (const [token, issued] of this.tokens) if (now >= issued.expiresMs) this.tokens.delete(token)
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
