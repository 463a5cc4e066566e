import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../cli/base-command.js'
import type {ExitCodes} from '../../errors.js'
import type {TransferDocument} from '../../core/transfer.js'
import {runTransfer, transferFlags} from './push.js'

export default class StatePull extends BaseCommand<typeof StatePull> {
  static summary = 'Copy a PostgreSQL state workspace into a local state file.'
  static description = `Copies the whole state (every message record and send snapshot) from a workspace of a PostgreSQL state into a state file, for example to inspect it, keep a backup or leave the shared database. Both ends are locked while copying.

The destination file is replaced. It is refused, unless --force, when it holds a different state (another lineage, and not empty) or a newer one (higher serial), or when the source workspace is empty. The URL may also come from MCSEND_STATE, which keeps the password out of the shell history (PGPASSWORD and ~/.pgpass work too).`

  static exitCodes: ExitCodes = [0, 1, 3, 5, 64]

  static examples = [
    {description: 'Pull the team state into .mcsend/state.json', command: 'MCSEND_STATE=postgres://mcsend@db.internal/mcsend <%= config.bin %> <%= command.id %>'},
    {description: 'Back up the "production" workspace to a file', command: '<%= config.bin %> <%= command.id %> --from postgres://mcsend@db.internal/mcsend --workspace production --to backup/state.json'},
    {description: 'Overwrite a local file that holds another state, machine-readable result', command: '<%= config.bin %> <%= command.id %> --from postgres://mcsend@db.internal/mcsend --force --json'},
  ]

  static flags = {
    from: Flags.string({description: 'PostgreSQL state to copy. [default: $MCSEND_STATE if a postgres:// URL]', helpValue: 'URL'}),
    to: Flags.string({description: 'State file to replace. [default: $MCSEND_STATE if a file, else .mcsend/state.json]', helpValue: 'FILE'}),
    ...transferFlags,
  }

  async run(): Promise<TransferDocument> {
    const {flags} = await this.parse(StatePull)
    return runTransfer('pull', flags, {note: (m) => this.note(m), jsonEnabled: () => this.jsonEnabled()})
  }
}
