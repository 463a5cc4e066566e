import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../cli/base-command.js'
import {lockTimeoutFlag} from '../../cli/flags.js'
import type {ExitCodes} from '../../errors.js'
import {type TransferDirection, type TransferDocument, renderTransferText, toTransferDocument, transferState} from '../../core/transfer.js'

/** The flags `state push` and `state pull` share (their --from and --to differ: a file on one side, a URL on the other). */
export const transferFlags = {
  workspace: Flags.string({description: 'Workspace in the PostgreSQL state. [default: $MCSEND_WORKSPACE or "default"]'}),
  force: Flags.boolean({description: 'Overwrite even a destination that holds another or a newer state.'}),
  ...lockTimeoutFlag,
  json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print the result as one JSON document.'}),
}

/** The body of `state push` and `state pull`: copy, print the text result unless --json, return the document. */
export async function runTransfer(
  direction: TransferDirection,
  flags: {from?: string; to?: string; workspace?: string; force: boolean; 'lock-timeout'?: number},
  command: {note: (message: string) => void; jsonEnabled: () => boolean},
): Promise<TransferDocument> {
  const result = await transferState({
    direction,
    from: flags.from,
    to: flags.to,
    workspace: flags.workspace,
    force: flags.force,
    lockTimeoutMs: flags['lock-timeout'],
    note: (m) => command.note(m),
    cwd: process.cwd(),
    env: process.env,
  })
  if (!command.jsonEnabled()) process.stdout.write(renderTransferText(result))
  return toTransferDocument(result)
}

export default class StatePush extends BaseCommand<typeof StatePush> {
  static summary = 'Copy the local state file into a PostgreSQL state workspace.'
  static description = `Copies the whole state (every message record and send snapshot, with its lineage and serial) from a state file into a workspace of a PostgreSQL state, for example to move a team or CI onto a shared state. Both ends are locked while copying.

The destination is replaced. It is refused, unless --force, when it holds a different state (another lineage, and not empty) or a newer one (higher serial), or when the source is empty. The URL may also come from MCSEND_STATE, which keeps the password out of the shell history (PGPASSWORD and ~/.pgpass work too).`

  static exitCodes: ExitCodes = [0, 1, 3, 5, 64]

  static examples = [
    {description: 'Push .mcsend/state.json to the team database', command: 'MCSEND_STATE=postgres://mcsend@db.internal/mcsend <%= config.bin %> <%= command.id %>'},
    {description: 'Push a given file into the "production" workspace', command: '<%= config.bin %> <%= command.id %> --from ci/state.json --to postgres://mcsend@db.internal/mcsend --workspace production'},
    {description: 'Overwrite a workspace that holds another state, machine-readable result', command: '<%= config.bin %> <%= command.id %> --to postgres://mcsend@db.internal/mcsend --force --json'},
  ]

  static flags = {
    from: Flags.string({description: 'State file to copy. [default: $MCSEND_STATE if a file, else .mcsend/state.json]', helpValue: 'FILE'}),
    to: Flags.string({description: 'PostgreSQL state to replace. [default: $MCSEND_STATE if a postgres:// URL]', helpValue: 'URL'}),
    ...transferFlags,
  }

  async run(): Promise<TransferDocument> {
    const {flags} = await this.parse(StatePush)
    return runTransfer('push', flags, {note: (m) => this.note(m), jsonEnabled: () => this.jsonEnabled()})
  }
}
