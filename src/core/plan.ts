import type {Send, SourceDigest} from '../manifest/types.js'
import {buildPlan} from '../plan/build.js'
import type {Plan} from '../plan/types.js'
import type {StateData} from '../state/types.js'
import {assertTargetsExist, loadOrFail} from './load.js'
import {withStore} from './resources.js'

export interface PreparePlanOptions {
  paths: string[]
  state?: string
  workspace?: string
  targets?: string[]
  /** Plan against the sandbox's own state (.mcsend/sandbox/state.json) unless `state` is given. */
  sandbox?: boolean
  cwd: string
  env: NodeJS.ProcessEnv
}

export interface PreparedPlan {
  plan: Plan
  sends: Send[]
  /** Digests of every manifest file read (for a saved plan). */
  manifests: SourceDigest[]
  state: StateData
}

/** Reads manifests and state, then plans. Plan only reads the state: the store is closed before returning. */
export async function preparePlan(options: PreparePlanOptions): Promise<PreparedPlan> {
  const {sends, result} = await loadOrFail(options.paths, {cwd: options.cwd})
  assertTargetsExist(sends, options.targets)
  return withStore(options, async (store) => {
    const state = await store.load()
    const plan = buildPlan(sends, state, {stateLocation: store.location, targets: options.targets})
    return {plan, sends, manifests: result.manifests, state}
  })
}
