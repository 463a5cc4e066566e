import type {Send} from '../manifest/types.js'
import {buildPlan} from '../plan/build.js'
import type {Plan} from '../plan/types.js'
import {openStateStore} from '../state/open.js'
import type {StateData, StateStore} from '../state/types.js'
import {assertTargetsExist, loadOrFail} from './load.js'

export interface PreparePlanOptions {
  paths: string[]
  state?: string
  workspace?: string
  targets?: string[]
  cwd: string
  env: NodeJS.ProcessEnv
}

export interface PreparedPlan {
  plan: Plan
  sends: Send[]
  state: StateData
  store: StateStore
}

/** Reads manifests and state, then plans. The caller owns `store` and must close it. */
export async function preparePlan(options: PreparePlanOptions): Promise<PreparedPlan> {
  const {sends} = await loadOrFail(options.paths, {cwd: options.cwd})
  assertTargetsExist(sends, options.targets)
  const store = await openStateStore({spec: options.state, cwd: options.cwd, env: options.env, workspace: options.workspace})
  try {
    const state = await store.load()
    const plan = buildPlan(sends, state, {stateLocation: store.location, targets: options.targets})
    return {plan, sends, state, store}
  } catch (error) {
    await store.close()
    throw error
  }
}
