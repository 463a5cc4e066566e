import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../cli/base-command.js'
import {removeRecordsFlags} from '../../cli/flags.js'
import {SANDBOX_STATE} from '../../core/connection.js'
import {UsageError, type ExitCodes} from '../../errors.js'
import {plural} from '../../text/format.js'
import {escapeTerminal, maskAddresses} from '../../privacy/index.js'
import {renderRecordSummary} from '../../render/state-text.js'
import {confirm, needsConfirmation} from '../../cli/confirm.js'
import {removeRecords, selectByContact} from '../../core/state-admin.js'
import {stateHasherFromEnv} from '../../core/state-key.js'

export default class StateForget extends BaseCommand<typeof StateForget> {
  static summary = 'Erasure request: remove every record derived from one contact.'
  static description = `Removes from the state every message record whose contactKey hash matches the given contactKey (the state stores only a hash of it, so the key itself is needed to find them), in every send and revision, and prints what it removed. The contactKey is never printed in clear when it is an email address.

The state's git history and Marketing Cloud's own records are not touched: erase those separately. Within Marketing Cloud's dedupe window (2-3 days) it still refuses the forgotten keys, so applying the send again does not re-deliver to this contact: apply reports "Marketing Cloud already had this key (109110): not re-delivered". Asks for confirmation on a terminal unless --yes; in a non-interactive shell, --yes is required (exit 64 otherwise). Holds the state lock while it writes.`

  static exitCodes: ExitCodes = [0, 1, 3, 5, 64]

  static examples = [
    {description: 'Forget a contact, with a prompt', command: '<%= config.bin %> <%= command.id %> --contact-key cust-1001'},
    {description: 'In a script', command: '<%= config.bin %> <%= command.id %> --contact-key ann@example.com --yes --json'},
  ]

  static flags = {
    'contact-key': Flags.string({description: 'The contactKey whose records to remove.', required: true, helpValue: 'KEY'}),
    ...removeRecordsFlags,
  }

  async run(): Promise<{state: string; removed: {messageKey: string; send: string; revision: number}[]; cancelled: boolean}> {
    const {flags} = await this.parse(StateForget)
    const contactKey = flags['contact-key']
    if (contactKey.trim() === '') throw new UsageError('--contact-key must not be empty', 'pass the contactKey exactly as the manifests gave it')
    if (needsConfirmation(flags.yes)) throw new UsageError('state forget needs confirmation, and this shell is not interactive', 'pass --yes to remove the records without a prompt')
    const who = escapeTerminal(maskAddresses(contactKey))
    const hasher = stateHasherFromEnv(process.env)
    const result = await removeRecords(
      {state: flags.state ?? (flags.sandbox ? SANDBOX_STATE : undefined), workspace: flags.workspace, envName: flags.env, cwd: process.cwd(), env: process.env},
      {
        operation: 'state forget',
        lockTimeoutMs: flags['lock-timeout'],
        note: (m) => this.note(m),
        select: (data) => selectByContact(data, contactKey, hasher),
        confirm: (selection, location) => {
          if (flags.yes) return Promise.resolve(true)
          process.stderr.write(`About to forget ${plural(selection.records.length, 'record')} of contact ${who} in ${location}:\n${renderRecordSummary(selection.records).join('\n')}\n`)
          return confirm(`Forget ${plural(selection.records.length, 'record')}?`)
        },
      },
    )
    const removed = result.removed.map((r) => ({messageKey: r.messageKey, send: r.send, revision: r.revision}))
    const doc = {state: result.location, removed, cancelled: result.cancelled}
    if (this.jsonEnabled()) return doc
    if (result.cancelled) this.note('Cancelled; the state is unchanged.')
    else if (removed.length === 0) process.stdout.write(`No records of contact ${who} in ${result.location}; nothing removed.\n`)
    else process.stdout.write(`Removed ${plural(removed.length, 'record')} of contact ${who} from ${result.location}:\n${renderRecordSummary(result.removed).join('\n')}\n`)
    return doc
  }
}
