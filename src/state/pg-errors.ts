import {CliError, InvalidInputError, StateError} from '../errors.js'

/** Query parameters that may carry a secret; they are dropped from anything shown to the user. */
const SECRET_PARAM = /pass|secret|key|token/i

/**
 * The PostgreSQL URL as it may be shown to a user: the password (and any secret-looking query parameter)
 * replaced by `***`. Never throws; an unparseable URL is reduced to its scheme.
 */
export function redactPgUrl(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'postgres://(unparseable URL)'
  }
  if (parsed.password) parsed.password = '***'
  for (const key of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAM.test(key)) parsed.searchParams.set(key, '***')
  }
  return parsed.toString().replaceAll('%2A%2A%2A', '***')
}

/** Validates the URL enough to give a located error instead of a driver failure. */
export function checkPgUrl(url: string): void {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new InvalidInputError(
      'the PostgreSQL state URL is not a valid URL',
      [],
      'use the form postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (percent-encode special characters in the password)',
    )
  }
  if (!/^postgres(ql)?:$/i.test(parsed.protocol)) {
    throw new InvalidInputError(`the state URL ${redactPgUrl(url)} is not a postgres:// URL`)
  }
}

/** `host:port/database` for messages. */
export function describePgTarget(url: string): string {
  try {
    const parsed = new URL(url)
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || '(default database)'
    const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost'
    return `${host}:${parsed.port || '5432'}/${database}`
  } catch {
    return redactPgUrl(url)
  }
}

interface ErrorLike {
  code?: unknown
  message?: unknown
  errors?: unknown
}

function errorCodes(error: unknown): string[] {
  const codes: string[] = []
  const visit = (value: unknown, depth: number): void => {
    if (depth > 3 || typeof value !== 'object' || value === null) return
    const e = value as ErrorLike
    if (typeof e.code === 'string') codes.push(e.code)
    if (Array.isArray(e.errors)) for (const inner of e.errors) visit(inner, depth + 1)
    visit((value as {cause?: unknown}).cause, depth + 1)
  }
  visit(error, 0)
  return codes
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}

/** True for failures that mean the connection (not the statement) is gone. */
export function isConnectionLoss(error: unknown): boolean {
  const codes = errorCodes(error)
  if (codes.some((c) => ['57P01', '57P02', '57P03', 'ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT'].includes(c) || c.startsWith('08'))) return true
  return /Connection terminated|not queryable|Client was closed|connection timeout|terminating connection/i.test(errorMessage(error))
}

/**
 * Turns a driver failure into a StateError naming the server (never the password) with a hint.
 * `action` says what mcsend was doing, e.g. `connecting`, `recording 2000 records`.
 */
export function pgStateError(error: unknown, url: string, action: string): CliError {
  if (error instanceof CliError) return error
  const where = describePgTarget(url)
  const codes = errorCodes(error)
  const has = (...wanted: string[]): boolean => codes.some((c) => wanted.includes(c))
  const raw = errorMessage(error).replaceAll(url, redactPgUrl(url))

  if (has('ECONNREFUSED')) {
    return new StateError(`cannot connect to the PostgreSQL state at ${where}: connection refused`, 'check that the server is running and accepts TCP connections on that host and port, or use a local state file with --state', error)
  }
  if (has('ENOTFOUND', 'EAI_AGAIN')) {
    return new StateError(`cannot connect to the PostgreSQL state at ${where}: unknown host`, 'check the host name in the state URL', error)
  }
  if (has('28P01')) {
    return new StateError(`PostgreSQL at ${where} refused the password for this user`, 'check the user and password in the state URL (or PGPASSWORD / ~/.pgpass)', error)
  }
  if (has('28000')) {
    return new StateError(`PostgreSQL at ${where} refused the connection: ${raw}`, 'check the user name in the state URL and the server\'s pg_hba.conf', error)
  }
  if (has('3D000')) {
    return new StateError(`the database in the state URL does not exist on ${where}`, 'create it (for example `createdb NAME`) or fix the database name in the state URL', error)
  }
  if (has('42501')) {
    return new StateError(`PostgreSQL at ${where} denied a permission while ${action}: ${raw}`, 'the state user needs to create tables on first use and to read and write the mcsend_* tables', error)
  }
  if (has('ETIMEDOUT') || /connection timeout|timeout expired/i.test(raw)) {
    return new StateError(`cannot connect to the PostgreSQL state at ${where}: timed out`, 'check the host, the port and any firewall between here and the server', error)
  }
  if (isConnectionLoss(error)) {
    return new StateError(
      `lost the connection to the PostgreSQL state at ${where} while ${action}`,
      'everything recorded before this point is kept (each batch is its own transaction); when the server is reachable again, re-run the command to continue',
      error,
    )
  }
  return new StateError(`PostgreSQL state at ${where} failed while ${action}: ${raw}`, 'set MCSEND_DEBUG=1 for details; check the server log', error)
}
