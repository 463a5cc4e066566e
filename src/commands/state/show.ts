import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../cli/base-command.js'
import {envFlag, sandboxStateFlag, stateFlags} from '../../cli/flags.js'
import {SANDBOX_STATE} from '../../core/connection.js'
import {InvalidInputError, UsageError, type ExitCodes} from '../../errors.js'
import {escapeTerminal, maskAddresses} from '../../privacy/index.js'
import {renderContactRecords} from '../../render/state-contact.js'
import {renderRecord} from '../../render/state-text.js'
import {readState, selectByContact} from '../../core/state-admin.js'
import {stateHasherFromEnv} from '../../core/state-key.js'
import type {MessageRecord} from '../../state/types.js'

/** `--contact-key --json`: the state list document (schemas/state-list.schema.json). */
interface StateListDocument {
  state: string
  total: number
  offset: number
  records: MessageRecord[]
}

export default class StateShow extends BaseCommand<typeof StateShow> {
  static summary = 'Show everything the state records about one message, or about every message to one contact.'
  static description = `Prints the record of one messageKey: send, revision, status, time, request id, error, delivery event, and the hashes of its address, attributes and contactKey (never the values themselves).

--contact-key KEY prints every record of that contact instead, found by the hash of the contactKey (the state never holds the key itself); with --json as the state list document (schemas/state-list.schema.json). An address given as the contactKey is masked in what is printed.`

  static exitCodes: ExitCodes = [0, 1, 3, 64]

  static examples = [
    {description: 'One record', command: '<%= config.bin %> <%= command.id %> release-4-2-notes.r1.HwY7TDTppersxe6QpkuzOaPMub3aSzOyw050bWUwM0I'},
    {description: 'As JSON', command: '<%= config.bin %> <%= command.id %> release-4-2-notes.r1.HwY7TDTppersxe6QpkuzOaPMub3aSzOyw050bWUwM0I --json'},
    {description: 'Every message sent to one contact', command: '<%= config.bin %> <%= command.id %> --contact-key cust-1001'},
  ]

  static args = {messageKey: Args.string({description: 'The messageKey (see `mcsend state list` or `mcsend plan`); or use --contact-key.'})}
  static flags = {
    'contact-key': Flags.string({description: 'Show every record of this contactKey instead of one messageKey.', helpValue: 'KEY'}),
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print the record (with --contact-key: the records) as one JSON document.'}),
    ...stateFlags,
    ...sandboxStateFlag,
    ...envFlag,
  }

  async run(): Promise<MessageRecord | StateListDocument> {
    const {args, flags} = await this.parse(StateShow)
    const contactKey = flags['contact-key']
    if ((args.messageKey === undefined) === (contactKey === undefined)) {
      throw new UsageError('give either a messageKey or --contact-key KEY', 'see `mcsend state show --help`')
    }
    if (contactKey !== undefined && contactKey.trim() === '') throw new UsageError('--contact-key must not be empty', 'pass the contactKey exactly as the manifests gave it')
    const {location, data} = await readState({state: flags.state ?? (flags.sandbox ? SANDBOX_STATE : undefined), workspace: flags.workspace, envName: flags.env, cwd: process.cwd(), env: process.env})
    if (contactKey !== undefined) {
      const {records} = selectByContact(data, contactKey, stateHasherFromEnv(process.env), location)
      const doc: StateListDocument = {state: location, total: records.length, offset: 0, records}
      if (!this.jsonEnabled()) process.stdout.write(renderContactRecords(records, {contact: escapeTerminal(maskAddresses(contactKey)), location}))
      return doc
    }
    const record = data.messages.get(args.messageKey!)
    if (!record) {
      throw new InvalidInputError(`no record for this messageKey in ${location}`, [], 'list the keys with `mcsend state list` (add --send NAME to narrow it down), or check --state / MCSEND_STATE')
    }
    if (!this.jsonEnabled()) process.stdout.write(renderRecord(record))
    return record
  }
}
