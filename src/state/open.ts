import path from 'node:path'

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

/** Picks the backend from the state spec: a postgres:// URL selects PostgreSQL, anything else is a file path. */
export async function openStateStore(options: OpenStateOptions): Promise<StateStore> {
  const spec = options.spec ?? (options.env.MCSEND_STATE || undefined) ?? DEFAULT_STATE_PATH
  if (isPostgresSpec(spec)) {
    const {PgStateStore} = await import('./pg-store.js')
    return PgStateStore.connect({url: spec, workspace: options.workspace ?? (options.env.MCSEND_WORKSPACE || undefined) ?? 'default'})
  }
  const {FileStateStore} = await import('./file-store.js')
  return new FileStateStore({path: path.resolve(options.cwd, spec), displayPath: spec})
}
