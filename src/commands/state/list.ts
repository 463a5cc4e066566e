import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../cli/base-command.js'
import {envFlag, sendFlag, sandboxStateFlag, stateFlags} from '../../cli/flags.js'
import {SANDBOX_STATE} from '../../core/connection.js'
import {emptyStateNote} from '../../core/target.js'
import type {ExitCodes} from '../../errors.js'
import {renderRecordList} from '../../render/state-text.js'
import {filterRecords, readState, RECORD_FILTERS, type RecordFilter} from '../../core/state-admin.js'
import type {MessageRecord} from '../../state/types.js'

export interface StateListDocument {
  state: string
  total: number
  offset: number
  records: MessageRecord[]
}

export default class StateList extends BaseCommand<typeof StateList> {
  static summary = 'List the message records in the state.'
  static description = `One row per messageKey: its send, revision, status (pending, accepted, failed), the time of the last change (UTC), the error code of a rejection and the delivery event recorded by \`mcsend status\`. --status filters by status or by delivery event (queued, sent, notSent). The state holds no email address; explicit messageKeys that contain one are masked.`

  static exitCodes: ExitCodes = [0, 1, 3, 64]

  static examples = [
    {description: 'The first 50 records', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Rejected messages of one send', command: '<%= config.bin %> <%= command.id %> --send release-4-2-notes --status failed'},
    {description: 'Everything not sent, as JSON', command: '<%= config.bin %> <%= command.id %> --status notSent --limit 0 --json'},
  ]

  static flags = {
    status: Flags.string({description: 'Only records with this status or delivery event.', options: [...RECORD_FILTERS]}),
    limit: Flags.integer({description: 'At most this many rows (0: all).', default: 50, min: 0}),
    offset: Flags.integer({description: 'Skip this many rows first (paging).', default: 0, min: 0}),
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print the records as one JSON document.'}),
    ...sendFlag,
    ...stateFlags,
    ...sandboxStateFlag,
    ...envFlag,
  }

  async run(): Promise<StateListDocument> {
    const {flags} = await this.parse(StateList)
    const {location, data} = await readState({state: flags.state ?? (flags.sandbox ? SANDBOX_STATE : undefined), workspace: flags.workspace, envName: flags.env, cwd: process.cwd(), env: process.env})
    const emptyNote = emptyStateNote({state: flags.state, sandbox: flags.sandbox, cwd: process.cwd(), env: process.env}, data)
    if (emptyNote !== undefined) this.note(emptyNote)
    const all = filterRecords(data, {sends: flags.send, status: flags.status as RecordFilter | undefined})
    const records = all.slice(flags.offset, flags.limit === 0 ? undefined : flags.offset + flags.limit)
    const doc: StateListDocument = {state: location, total: all.length, offset: flags.offset, records}
    if (!this.jsonEnabled()) process.stdout.write(renderRecordList({records, total: all.length, offset: flags.offset, location}, {paint: this.paint(process.stdout)}))
    return doc
  }
}
