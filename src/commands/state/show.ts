import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {sandboxStateFlag, stateFlags} from '../../cli/flags.js'
import {SANDBOX_STATE} from '../../core/connection.js'
import {InvalidInputError, type ExitCodes} from '../../errors.js'
import {renderRecord} from '../../render/state-text.js'
import {readState} from '../../core/state-admin.js'
import type {MessageRecord} from '../../state/types.js'

export default class StateShow extends BaseCommand<typeof StateShow> {
  static summary = 'Show everything the state records about one message.'
  static description = `Prints the record of one messageKey: send, revision, status, time, request id, error, delivery event, and the hashes of its address, attributes and contactKey (never the values themselves).`

  static exitCodes: ExitCodes = [0, 1, 3, 64]

  static examples = [
    {description: 'One record', command: '<%= config.bin %> <%= command.id %> release-4-2-notes.r1.HwY7TDTppersxe6QpkuzOaPMub3aSzOyw050bWUwM0I'},
    {description: 'As JSON', command: '<%= config.bin %> <%= command.id %> release-4-2-notes.r1.HwY7TDTppersxe6QpkuzOaPMub3aSzOyw050bWUwM0I --json'},
  ]

  static args = {messageKey: Args.string({description: 'The messageKey (see `mcsend state list` or `mcsend plan`).', required: true})}
  static flags = {
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print the record as one JSON document.'}),
    ...stateFlags,
    ...sandboxStateFlag,
  }

  async run(): Promise<MessageRecord> {
    const {args, flags} = await this.parse(StateShow)
    const {location, data} = await readState({state: flags.state ?? (flags.sandbox ? SANDBOX_STATE : undefined), workspace: flags.workspace, cwd: process.cwd(), env: process.env})
    const record = data.messages.get(args.messageKey)
    if (!record) {
      throw new InvalidInputError(`no record for this messageKey in ${location}`, [], 'list the keys with `mcsend state list` (add --send NAME to narrow it down), or check --state / MCSEND_STATE')
    }
    if (flags.json) process.stdout.write(`${JSON.stringify(record)}\n`)
    else process.stdout.write(renderRecord(record))
    return record
  }
}
