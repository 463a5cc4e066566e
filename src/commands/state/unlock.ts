import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../cli/base-command.js'
import {envFlag, sandboxStateFlag, stateFlags} from '../../cli/flags.js'
import {SANDBOX_STATE} from '../../core/connection.js'
import type {ExitCodes} from '../../errors.js'
import {unlockState} from '../../core/state-admin.js'
import {describeOwner} from '../../state/lock.js'

export default class StateUnlock extends BaseCommand<typeof StateUnlock> {
  static summary = 'Remove the state lock left by a run that no longer runs.'
  static description = `Prints who holds the lock (operation, pid, host, user, since when) and removes it if the holder looks gone: a process that no longer runs on this host, or a lock not refreshed for a minute. A live holder is refused (exit 5) unless --force; with PostgreSQL state, --force ends the holder's database session. Removing the lock of a run that is still sending lets two runs write at once: be sure first.`

  static exitCodes: ExitCodes = [0, 1, 5, 64]

  static examples = [
    {description: 'Remove a stale lock', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Remove the lock of a hung run on another machine', command: '<%= config.bin %> <%= command.id %> --force'},
  ]

  static flags = {
    force: Flags.boolean({description: 'Remove the lock even if its holder looks alive.'}),
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print the result as one JSON document.'}),
    ...stateFlags,
    ...sandboxStateFlag,
    ...envFlag,
  }

  async run(): Promise<{state: string; locked: boolean; removed: boolean; holder?: object; stale?: boolean}> {
    const {flags} = await this.parse(StateUnlock)
    const result = await unlockState({state: flags.state ?? (flags.sandbox ? SANDBOX_STATE : undefined), workspace: flags.workspace, envName: flags.env, cwd: process.cwd(), env: process.env}, flags.force)
    const doc = {state: result.location, locked: result.holder !== undefined, removed: result.removed, holder: result.holder, stale: result.stale}
    if (this.jsonEnabled()) return doc
    if (!result.holder) process.stdout.write(`${result.location} is not locked; nothing to do.\n`)
    else process.stdout.write(`Removed the lock on ${result.location} held by ${describeOwner(result.holder)}${result.stale ? ' (stale)' : ' (forced)'}.\n`)
    return doc
  }
}
