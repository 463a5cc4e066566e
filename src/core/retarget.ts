import {makeLockOwner} from '../state/lock.js'
import type {StateTarget} from '../state/types.js'
import {requireConnection} from './connection.js'
import {withConnection, withLockedStore} from './resources.js'

export interface RetargetOptions {
  state?: string
  workspace?: string
  sandbox?: boolean
  cwd: string
  env: NodeJS.ProcessEnv
}

export interface RetargetResult {
  location: string
  from?: StateTarget
  to: StateTarget
  changed: boolean
}

/**
 * `mcsend state retarget`: records the current target (the sandbox with --sandbox, else the tenant and business
 * unit of the credentials, learnt by connecting) as the state's target. The deliberate way to move a state; it holds
 * the lock while it writes.
 */
export async function retargetState(options: RetargetOptions): Promise<RetargetResult> {
  requireConnection(options)
  return withLockedStore(options, makeLockOwner('state retarget', new Date(), options.env), async (store) => {
    const data = await store.load()
    // A copy: the store may update the loaded data in place when the new target is recorded.
    const from = data.target === undefined ? undefined : {...data.target}
    const to = await withConnection(options, undefined, (connection) => connection.target())
    const changed = JSON.stringify(from) !== JSON.stringify(to)
    if (changed) {
      await store.setMeta({target: to})
      await store.commit()
    }
    return {location: store.location, from, to, changed}
  })
}
