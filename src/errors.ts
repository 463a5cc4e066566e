/** Exit codes, as agreed in design.md. Every command's help lists those it can return (`static exitCodes`). */
export const ExitCode = {
  ok: 0,
  error: 1,
  changesPresent: 2,
  invalidInput: 3,
  rejected: 4,
  locked: 5,
  usage: 64,
  interrupted: 130,
} as const
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/** The exit codes a command can return (its help lists them), each with the general meaning or its own. */
export type ExitCodes = (ExitCodeValue | [ExitCodeValue, string])[]

/** What each exit code means, for the EXIT CODES section of every command's help (which lists only its own). */
export const EXIT_CODE_MEANINGS: Record<ExitCodeValue, string> = {
  0: 'success',
  1: 'error: Marketing Cloud unreachable or refusing, bad credentials, unexpected failure',
  2: 'with --detailed-exitcode: there is something to send (0 then means nothing to send)',
  3: 'invalid input: a manifest, source file or flag value failed validation (nothing sent)',
  4: 'apply finished but some recipients were rejected (state saved; they show as retry)',
  5: 'the state is locked by another run, a saved plan is stale, or apply found the state lost (Marketing Cloud knows keys it never recorded: mcsend state recover)',
  64: 'usage error: unknown command or flag',
  130: 'interrupted (Ctrl-C); the state is saved and a re-run completes the rest',
}

/** A located problem in user input (manifest, source file, flag value). */
export interface Problem {
  file: string
  line?: number
  column?: number
  /** Path inside the document, e.g. `recipients[0].inline[3].to`. */
  path?: string
  message: string
  hint?: string
}

/**
 * Every `code` a CliError may carry: the stable, machine-readable reason in `--json` errors (schemas/error.schema.json).
 * A new failure either fits one of these or adds its code here, never a free string at the throw site.
 */
export const ERROR_CODES = [
  // input and usage
  'usage',
  'invalid_input',
  'exists',
  // state
  'state_locked',
  'stale_plan',
  'stale_pending',
  'state_key_mismatch',
  'state_key_missing',
  'target_mismatch',
  'state_lost',
  'state_error',
  'write_failed',
  // credentials and token
  'missing_credentials',
  'invalid_credentials',
  'bad_credentials',
  'bad_auth_url',
  'token_refused',
  'not_authorized',
  // Marketing Cloud answers
  'bad_request',
  'forbidden',
  'not_found',
  'rate_limited',
  'concurrency_blocked',
  'server_error',
  'timeout',
  'aborted',
  'unreachable',
  'bad_response',
  'api_error',
  // the sandbox command
  'sandbox_port',
  'sandbox_start',
  'sandbox_data_dir',
  // anything else is a bug
  'internal',
] as const
export type ErrorCode = (typeof ERROR_CODES)[number]

export interface CliErrorOptions {
  code: ErrorCode
  exitCode: ExitCodeValue
  hint?: string
  details?: string[]
  cause?: unknown
}

/**
 * An expected failure the user can act on. Commands print `error: <message>`, the details and the hint,
 * then exit with `exitCode`. Anything that is not a CliError is treated as a bug.
 */
export class CliError extends Error {
  readonly code: ErrorCode
  readonly exitCode: ExitCodeValue
  readonly hint?: string
  readonly details: string[]

  constructor(message: string, options: CliErrorOptions) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'CliError'
    this.code = options.code
    this.exitCode = options.exitCode
    this.hint = options.hint
    this.details = options.details ?? []
  }
}

/**
 * Invalid input (exit 3): a manifest, a source file, a flag or argument value. Always this class, never a CliError
 * with code invalid_input, so the `--json` error carries `valid: false` and the located `errors` (possibly none).
 */
export class InvalidInputError extends CliError {
  readonly problems: Problem[]
  constructor(message: string, problems: Problem[] = [], hint?: string, cause?: unknown) {
    super(message, {code: 'invalid_input', exitCode: ExitCode.invalidInput, hint, cause})
    this.name = 'InvalidInputError'
    this.problems = problems
  }
}

export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, {code: 'usage', exitCode: ExitCode.usage, hint})
    this.name = 'UsageError'
  }
}

export class StateLockedError extends CliError {
  constructor(message: string, hint?: string, details?: string[]) {
    super(message, {code: 'state_locked', exitCode: ExitCode.locked, hint, details})
    this.name = 'StateLockedError'
  }
}

export class StalePlanError extends CliError {
  constructor(message: string, details: string[], hint?: string) {
    super(message, {code: 'stale_plan', exitCode: ExitCode.locked, hint, details})
    this.name = 'StalePlanError'
  }
}

/** Marketing Cloud refused or could not be reached. Never carries a secret in its message. */
export class ApiError extends CliError {
  readonly status?: number
  readonly apiErrorCode?: number
  /** True when the request may have been processed (timeout, dropped connection, 5xx). */
  readonly outcomeUnknown: boolean
  constructor(
    message: string,
    options: {status?: number; apiErrorCode?: number; outcomeUnknown?: boolean; hint?: string; cause?: unknown; code?: ErrorCode},
  ) {
    super(message, {code: options.code ?? 'api_error', exitCode: ExitCode.error, hint: options.hint, cause: options.cause})
    this.name = 'ApiError'
    this.status = options.status
    this.apiErrorCode = options.apiErrorCode
    this.outcomeUnknown = options.outcomeUnknown ?? false
  }
}

export class StateError extends CliError {
  constructor(message: string, hint?: string, cause?: unknown) {
    super(message, {code: 'state_error', exitCode: ExitCode.error, hint, cause})
    this.name = 'StateError'
  }
}

/** The `code` of a Node system error (`ENOENT`, `ELOCKED`, …), if it has one. */
export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined
}

/** Warnings as `warning: file:line:column  path  message`, one per line. */
export function formatWarnings(warnings: readonly Problem[]): string[] {
  return formatProblems([...warnings]).map((line) => `warning: ${line.trimStart()}`)
}

/** Formats problems as `file:line:column  path  message`, capped, with a count of the rest. */
export function formatProblems(problems: Problem[], cap = 50): string[] {
  const lines = problems.slice(0, cap).map((p) => {
    const where = [p.file, p.line, p.line === undefined ? undefined : p.column].filter((x) => x !== undefined).join(':')
    const path = p.path ? `  ${p.path}` : ''
    const hint = p.hint ? ` (${p.hint})` : ''
    return `  ${where}${path}  ${p.message}${hint}`
  })
  if (problems.length > cap) lines.push(`  … and ${problems.length - cap} more problem${problems.length - cap === 1 ? '' : 's'}`)
  return lines
}
