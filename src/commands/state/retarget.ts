import {BaseCommand} from '../../cli/base-command.js'
import {sandboxStateFlag, stateFlags} from '../../cli/flags.js'
import {retargetState, type RetargetResult} from '../../core/retarget.js'
import {describeTarget} from '../../core/target.js'
import type {ExitCodes} from '../../errors.js'
import * as Flags from '@oclif/core/flags'

export default class StateRetarget extends BaseCommand<typeof StateRetarget> {
  static summary = 'Bind the state to the current target (move it to another tenant or business unit on purpose).'
  static description = `A state records the target of its first apply: the sandbox, or the Marketing Cloud tenant (auth host) and business unit (MID). plan, apply, status and saved plans refuse a state of another target (exit 5). This command records the target the current credentials (or --sandbox) reach instead, so the state can be used there.

Move a state only when you mean it: the keys it records were sent to the old target, and the new one does not know them, so within its dedupe window it will not refuse them. It connects to learn the business unit (MCSEND_ACCOUNT_ID, or the token's own), and holds the state lock while it writes.`

  static exitCodes: ExitCodes = [0, 1, 3, 5, 64]

  static examples = [
    {description: 'The team moved to another business unit', command: 'MCSEND_ACCOUNT_ID=7281234 <%= config.bin %> <%= command.id %>'},
    {description: 'Bind a PostgreSQL workspace to the current credentials', command: '<%= config.bin %> <%= command.id %> --state postgres://… --workspace prod --json'},
  ]

  static flags = {
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print {state, from, to, changed} as one JSON document.'}),
    ...stateFlags,
    ...sandboxStateFlag,
  }

  async run(): Promise<{state: string; from: RetargetResult['to'] | null; to: RetargetResult['to']; changed: boolean}> {
    const {flags} = await this.parse(StateRetarget)
    const result = await retargetState({state: flags.state, workspace: flags.workspace, sandbox: flags.sandbox, cwd: process.cwd(), env: process.env})
    const doc = {state: result.location, from: result.from ?? null, to: result.to, changed: result.changed}
    if (this.jsonEnabled()) return doc
    if (!result.changed) this.log(`${result.location} already belongs to ${describeTarget(result.to)}.`)
    else if (result.from === undefined) this.log(`${result.location} now belongs to ${describeTarget(result.to)}.`)
    else this.log(`${result.location} moved from ${describeTarget(result.from)} to ${describeTarget(result.to)}.`)
    return doc
  }
}
