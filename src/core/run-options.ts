import type {ClientOptions} from '../sfmc/client.js'
import {requireConnection} from './connection.js'
import {applyEnvironment, type Targeted} from './environment.js'
import type {VariableOptions} from './variables.js'

/** Where a run is, which environment of the project file it uses, and where its state is: what every orchestrator takes. */
export interface RunPlace {
  /** --state and --workspace: they win over the environment's. */
  state?: string
  workspace?: string
  /** --sandbox: the built-in fake Marketing Cloud and its own state (.mcsend/sandbox/state.json) unless `state` is given. */
  sandbox?: boolean
  cwd: string
  env: NodeJS.ProcessEnv
  /** --env NAME: an environment of the project file (core/environment.ts). */
  envName?: string
  /** --var, --var-file (and the environment's values): see core/variables.ts. */
  variables?: VariableOptions
}

/** What a run that reads manifests takes besides: the manifests, where their recipient files may be, the lock wait. */
export interface ManifestRunOptions extends RunPlace {
  paths: string[]
  /** --source-root: where recipient files may be read (default: the working directory). */
  sourceRoots?: string[]
  /** --lock-timeout: how long to wait for a state another run holds (ms; default 0: refuse at once). */
  lockTimeoutMs?: number
}

/** What a run of status requests takes besides (status, state recover). */
export interface StatusRunOptions extends ManifestRunOptions {
  /** --send: only these sends. */
  sends?: string[]
  /** Status requests per second (default 5). */
  rate?: number
  signal?: AbortSignal
  clock?: () => Date
  clientOptions?: ClientOptions
  /** Write the answers gathered so far to the state after this many keys, so an interrupted run keeps them. */
  flushEvery?: number
}

/** How a long run of status requests reports: notes, and how many of how many keys were asked. */
export interface ProgressUi {
  note(message: string): void
  onProgress?(done: number, total: number): void
}

/**
 * For a run that talks to Marketing Cloud (apply, status, state recover): the chosen environment
 * applied to the options (its credentials, state and variable values; --state and --workspace win), then the
 * credentials checked, before anything else is read.
 */
export async function onlineRun<T extends RunPlace>(given: T): Promise<{options: T; chosen: Targeted}> {
  const chosen = await applyEnvironment({envName: given.envName, state: given.state, workspace: given.workspace, cwd: given.cwd, env: given.env, sandbox: given.sandbox, needsCredentials: !given.sandbox})
  const options: T = {...given, env: chosen.env, state: chosen.state, workspace: chosen.workspace, variables: {...given.variables, projectLayer: chosen.projectLayer}}
  requireConnection(options)
  return {options, chosen}
}
