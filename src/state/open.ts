import path from 'node:path'

import {InvalidInputError} from '../errors.js'
import {guardStore} from './guard.js'
import type {StateStore} from './types.js'

export const DEFAULT_STATE_PATH = '.mcsend/state.json'

export interface OpenStateOptions {
  /** --state flag value; falls back to MCSEND_STATE, then the default file. */
  spec?: string
  cwd: string
  env: NodeJS.ProcessEnv
  /** PostgreSQL backend only: the workspace (default `default`). */
  workspace?: string
}

export function isPostgresSpec(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec)
}

/**
 * MCSEND_STALE_LOCK_MS: how long a file-state lock may go unrenewed before another run takes it over (default
 * 60000; at least 2000). Renewal happens every quarter of it.
 */
export function staleLockMsFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.MCSEND_STALE_LOCK_MS
  if (raw === undefined || raw === '') return undefined
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 2000) {
    throw new InvalidInputError(`MCSEND_STALE_LOCK_MS must be a whole number of milliseconds, at least 2000 (got ${JSON.stringify(raw.slice(0, 20))})`, [], 'unset it to use the default of 60000 (one minute)')
  }
  return value
}

/** Picks the backend from the state spec: a postgres:// URL selects PostgreSQL, anything else is a file path. */
export async function openStateStore(options: OpenStateOptions): Promise<StateStore> {
  const spec = options.spec ?? (options.env.MCSEND_STATE || undefined) ?? DEFAULT_STATE_PATH
  if (isPostgresSpec(spec)) {
    const {PgStateStore} = await import('./pg-store.js')
    return guardStore(await PgStateStore.connect({url: spec, workspace: options.workspace ?? (options.env.MCSEND_WORKSPACE || undefined) ?? 'default'}))
  }
  const {FileStateStore} = await import('./file-store.js')
  // Every store is used through the guard: one contract (shape, hashes only, redaction) whatever the backend.
  return guardStore(new FileStateStore({path: path.resolve(options.cwd, spec), displayPath: spec, staleLockMs: staleLockMsFromEnv(options.env)}))
}
