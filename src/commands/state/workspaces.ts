import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../cli/base-command.js'
import {listWorkspaces, type WorkspaceList} from '../../core/state-admin.js'
import type {ExitCodes} from '../../errors.js'
import {renderWorkspaces} from '../../render/workspaces-text.js'

export default class StateWorkspaces extends BaseCommand<typeof StateWorkspaces> {
  static summary = 'List the workspaces of a PostgreSQL state.'
  static description = `Lists every workspace in the PostgreSQL state (--state or MCSEND_STATE, a postgres:// URL): its records, sends, serial and last change. Read-only: nothing is locked or written. A state file has no workspaces (exit 64).`

  static exitCodes: ExitCodes = [0, 1, 3, 64]

  static examples = [
    {description: 'The workspaces of the team state', command: 'MCSEND_STATE=postgres://mcsend@db.internal/sends <%= config.bin %> <%= command.id %>'},
    {description: 'As JSON', command: '<%= config.bin %> <%= command.id %> --state postgres://mcsend@db.internal/sends --json'},
  ]

  static flags = {
    state: Flags.string({description: 'The PostgreSQL state, a postgres:// URL. [default: $MCSEND_STATE]', helpValue: 'URL', helpGroup: 'STATE'}),
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print the workspaces as one JSON document.'}),
  }

  async run(): Promise<WorkspaceList> {
    const {flags} = await this.parse(StateWorkspaces)
    const list = await listWorkspaces({state: flags.state, env: process.env})
    if (!this.jsonEnabled()) process.stdout.write(renderWorkspaces(list))
    return list
  }
}
