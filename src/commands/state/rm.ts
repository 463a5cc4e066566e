import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../cli/base-command.js'
import {removeRecordsFlags} from '../../cli/flags.js'
import {SANDBOX_STATE} from '../../core/connection.js'
import {InvalidInputError, UsageError, type ExitCodes} from '../../errors.js'
import {plural} from '../../text/format.js'
import {displayKey, renderRecordSummary} from '../../render/state-text.js'
import {removeRecords, selectByKeys, selectBySends} from '../../core/state-admin.js'
import {confirm, needsConfirmation} from '../../cli/confirm.js'

export default class StateRm extends BaseCommand<typeof StateRm> {
  static summary = 'Forget message records, so those messages can be sent again.'
  static description = `Removes the records of the given messageKeys, or of every message of a send (--send), from the state. The next plan shows them as create, and apply sends them again with the same messageKey. Within Marketing Cloud's dedupe window (documented as 2 days and as 72 hours) it refuses a reused key, so such a re-apply does not re-deliver: apply reports "Marketing Cloud already had this key (109110): not re-delivered; bump revision to send again". After the window they are delivered again. To deliberately send again now, bump \`revision\` in the manifest (new keys).

Asks for confirmation on a terminal unless --yes; in a non-interactive shell, --yes is required (exit 64 otherwise). Holds the state lock while it writes, so it is refused (exit 5) while an apply runs.`

  static exitCodes: ExitCodes = [0, 1, 3, 5, 64]

  static examples = [
    {description: 'Forget two messages', command: '<%= config.bin %> <%= command.id %> KEY1 KEY2'},
    {description: 'Forget every message of a send, without a prompt', command: '<%= config.bin %> <%= command.id %> --send release-4-2-notes --yes'},
  ]

  static strict = false
  static args = {messageKeys: Args.string({description: 'messageKeys to forget (see `mcsend state list`).'})}
  static flags = {
    send: Flags.string({description: 'Forget every record of this send; repeat for several.', multiple: true, helpValue: 'NAME'}),
    ...removeRecordsFlags,
  }

  async run(): Promise<{state: string; removed: string[]; missing: string[]; cancelled: boolean}> {
    const {argv, flags} = await this.parse(StateRm)
    const keys = argv as string[]
    const sends = flags.send ?? []
    if (keys.length === 0 && sends.length === 0) throw new UsageError('name the messageKeys to forget, or a send with --send NAME', 'see `mcsend state rm --help`')
    if (keys.length > 0 && sends.length > 0) throw new UsageError('give either messageKeys or --send, not both', 'run it twice if you need both')
    if (needsConfirmation(flags.yes)) throw new UsageError('state rm needs confirmation, and this shell is not interactive', 'pass --yes to remove the records without a prompt')
    const result = await removeRecords(
      {state: flags.state ?? (flags.sandbox ? SANDBOX_STATE : undefined), workspace: flags.workspace, envName: flags.env, cwd: process.cwd(), env: process.env},
      {
        operation: 'state rm',
        lockTimeoutMs: flags['lock-timeout'],
        note: (m) => this.note(m),
        select: (data) => (keys.length > 0 ? selectByKeys(data, keys) : selectBySends(data, sends)),
        nothingMatches: (_selection, location) =>
          new InvalidInputError(
            keys.length > 0 ? `none of these messageKeys is in ${location}` : `no records of send ${sends.map((s) => `"${s}"`).join(', ')} in ${location}`,
            [],
            'list what the state holds with `mcsend state list`, and check --state / MCSEND_STATE',
          ),
        confirm: (selection, location) => {
          if (flags.yes) return Promise.resolve(true)
          process.stderr.write(`About to forget ${plural(selection.records.length, 'record')} in ${location}:\n${renderRecordSummary(selection.records).join('\n')}\n`)
          return confirm(`Forget ${plural(selection.records.length, 'record')}? They can then be sent again.`)
        },
      },
    )
    for (const key of result.missing) this.note(`warning: ${sends.length > 0 ? `no records of send ${key}` : `no record for ${displayKey(key)}`} in ${result.location}`)
    const doc = {state: result.location, removed: result.removed.map((r) => r.messageKey), missing: result.missing, cancelled: result.cancelled}
    if (this.jsonEnabled()) return doc
    if (result.cancelled) this.note('Cancelled; the state is unchanged.')
    else process.stdout.write(`Removed ${plural(result.removed.length, 'record')} from ${result.location}:\n${renderRecordSummary(result.removed).join('\n')}\nThe next \`mcsend plan\` shows them as create.\n`)
    return doc
  }
}
