import {existsSync} from 'node:fs'
import path from 'node:path'

import {CliError, ExitCode} from '../errors.js'
import {credentialsFromEnv} from '../sfmc/credentials.js'
import {DEFAULT_STATE_PATH} from '../state/open.js'
import type {StateData, StateTarget} from '../state/types.js'

/**
 * What a state describes (design.md, "Targets and environments"): the sandbox, or one Marketing Cloud tenant (the
 * host of its auth URL) and business unit (MID). A state records its target on its first apply; every command that
 * reads it compares, and another target is refused (exit 5) naming both.
 *
 * A `mcsend sandbox` process is the sandbox too: its auth URL is on the loopback host (mcsend allows plain http only
 * there), and by default it shares the in-process sandbox's data directory and state. So a loopback auth host counts
 * as the sandbox whatever its port, and two loopback targets differ only by their business unit.
 */

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** The auth host of an auth URL as a target records it: lower case; on the loopback host, without the port. */
export function authHostOf(authUrl: string): string {
  const url = new URL(authUrl)
  const host = url.hostname.toLowerCase()
  return LOOPBACK.has(host) ? host : url.host.toLowerCase()
}

function isLoopback(target: StateTarget): boolean {
  return target.kind === 'sandbox' || LOOPBACK.has(target.authHost)
}

/** `the sandbox`, `Marketing Cloud mc123.auth.marketingcloudapis.com, business unit 4242`. */
export function describeTarget(target: StateTarget): string {
  if (target.kind === 'sandbox') return 'the sandbox'
  const where = LOOPBACK.has(target.authHost) ? `the sandbox at ${target.authHost}` : `Marketing Cloud ${target.authHost}`
  return target.accountId === undefined ? where : `${where}, business unit ${target.accountId}`
}

/**
 * Why `current` is not the target the state recorded, or undefined when it is (or when either is unknown). A
 * business unit only one side knows is not compared (plan, offline, knows it only from MCSEND_ACCOUNT_ID).
 */
export function targetMismatch(recorded: StateTarget | undefined, current: StateTarget | undefined): string | undefined {
  if (recorded === undefined || current === undefined) return undefined
  const differ = `the state belongs to ${describeTarget(recorded)}, but this run targets ${describeTarget(current)}`
  if (isLoopback(recorded) !== isLoopback(current)) return differ
  if (recorded.kind === 'marketing-cloud' && current.kind === 'marketing-cloud') {
    if (!isLoopback(recorded) && recorded.authHost !== current.authHost) return differ
    if (recorded.accountId !== undefined && current.accountId !== undefined && recorded.accountId !== current.accountId) return differ
  }
  return undefined
}

export const RETARGET_HINT =
  'point MCSEND_* (or --sandbox) at the target the state belongs to, or use another state (--state, MCSEND_STATE, --workspace); to move this state on purpose, run `mcsend state retarget` with the new target set (keys sent to the old target are not known to the new one)'

/** Refuses a state of another target: exit 5, naming both. */
export function assertTarget(state: Pick<StateData, 'target'>, location: string, current: StateTarget | undefined): void {
  const mismatch = targetMismatch(state.target, current)
  if (mismatch === undefined) return
  throw new CliError(`${location}: ${mismatch}`, {code: 'target_mismatch', exitCode: ExitCode.locked, hint: RETARGET_HINT})
}

/**
 * The target as far as it is known without contacting anyone (plan): the sandbox with --sandbox; otherwise the
 * auth host and MCSEND_ACCOUNT_ID from the environment; undefined without credentials (a plan in CI without
 * secrets can still be made).
 */
export function offlineTarget(options: {sandbox?: boolean; env: NodeJS.ProcessEnv}): StateTarget | undefined {
  if (options.sandbox) return {kind: 'sandbox'}
  let credentials
  try {
    credentials = credentialsFromEnv(options.env)
  } catch {
    return undefined
  }
  if (credentials === undefined) return undefined
  const target: StateTarget = {kind: 'marketing-cloud', authHost: authHostOf(credentials.authUrl)}
  if (credentials.accountId !== undefined) target.accountId = credentials.accountId
  return target
}

/**
 * A note when a command read the default (real) state, found it empty, and a sandbox state sits next to it: the
 * user probably meant --sandbox. undefined otherwise.
 */
export function emptyStateNote(options: {state?: string; sandbox?: boolean; cwd: string; env: NodeJS.ProcessEnv}, data: Pick<StateData, 'messages' | 'serial'>): string | undefined {
  if (options.state !== undefined || options.sandbox || (options.env.MCSEND_STATE ?? '').trim() !== '') return undefined
  if (data.messages.size > 0 || data.serial > 0) return undefined
  const sandboxState = path.join(options.cwd, SANDBOX_STATE_PATH)
  if (!existsSync(sandboxState)) return undefined
  return `note: the state ${DEFAULT_STATE_PATH} is empty, but a sandbox state exists at ${SANDBOX_STATE_PATH}: add --sandbox to use it`
}

/** Where `apply --sandbox` keeps its state (SANDBOX_STATE in connection.ts, which imports this module). */
const SANDBOX_STATE_PATH = '.mcsend/sandbox/state.json'
