import type {ManifestRunOptions} from './run-options.js'
import type {Problem} from '../errors.js'
import type {Send, SourceDigest} from '../manifest/types.js'
import {buildPlan} from '../plan/build.js'
import type {Plan} from '../plan/types.js'
import type {StateData, StateTarget} from '../state/types.js'
import {applyEnvironment, environmentOfPlan, type EnvironmentInfo} from './environment.js'
import {assertTarget, offlineTarget} from './target.js'
import {assertTargetsExist, loadOrFail} from './load.js'
import {withStore} from './resources.js'
import {checkStateKey, stateHasherFromEnv, storableValue} from './state-key.js'
import {prepareVariables} from './variables.js'

/** With --sandbox, plans against the sandbox's own state (.mcsend/sandbox/state.json) unless `state` is given. */
export interface PreparePlanOptions extends ManifestRunOptions {
  targets?: string[]
}

export interface PreparedPlan {
  plan: Plan
  sends: Send[]
  /** Digests of every manifest file read (for a saved plan). */
  manifests: SourceDigest[]
  state: StateData
  /** What the plan is for: the state's recorded target, else what the environment (or --sandbox) says. */
  target?: StateTarget
  /** Warnings from loading (a file without sends, a source without recipients). */
  warnings: Problem[]
  /** How a snapshot value is stored (an address as a hash): renderers compare a plan with the state's snapshots through it. */
  storable: (value: string) => string
  /** The environment of the project file, when one was chosen. */
  environment?: EnvironmentInfo
}

/** Reads manifests and state, then plans. Plan only reads the state: the store is closed before returning. */
export async function preparePlan(given: PreparePlanOptions): Promise<PreparedPlan> {
  const target = await applyEnvironment({envName: given.envName, state: given.state, workspace: given.workspace, cwd: given.cwd, env: given.env, sandbox: given.sandbox})
  const options = {...given, env: target.env, state: target.state, workspace: target.workspace}
  const hasher = stateHasherFromEnv(options.env)
  const variables = await prepareVariables({...options.variables, projectLayer: target.projectLayer}, options.env, options.cwd)
  const {sends, result} = await loadOrFail(options.paths, {cwd: options.cwd, sourceRoots: options.sourceRoots, env: options.env, variables})
  assertTargetsExist(sends, options.targets)
  return withStore(options, async (store) => {
    const state = await store.load()
    const offline = offlineTarget(options)
    assertTarget(state, store.location, offline)
    checkStateKey(state, hasher, store.location)
    const plan = buildPlan(sends, state, {stateLocation: store.location, targets: options.targets, hasher})
    if (target.environment !== undefined) plan.environment = environmentOfPlan(target.environment)
    return {
      plan,
      sends,
      manifests: result.manifests,
      state,
      target: state.target ?? offline,
      warnings: result.warnings ?? [],
      storable: storableValue(hasher),
      ...(target.environment === undefined ? {} : {environment: target.environment}),
    }
  })
}
