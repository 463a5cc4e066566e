import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {sendFlag, showAddressesFlag, stateFlags} from '../cli/flags.js'
import {preparePlan} from '../core/plan.js'
import {EXIT_CODE_HELP, ExitCode} from '../errors.js'
import {streamWriter, writePlanJson} from '../render/plan-json.js'
import {renderPlanText} from '../render/plan-text.js'

export default class Plan extends BaseCommand<typeof Plan> {
  static summary = 'Show which messages would be sent, in which requests, and what was already sent.'
  static description = `Reads the manifests and the state and shows, per send, each message's action: create (never sent), retry (rejected before, or left pending by an interrupted run), noop (already accepted) or drift (accepted, but its address or attributes changed since; not re-sent). Nothing is sent. Email addresses are masked unless --show-addresses.

EXIT CODES
${EXIT_CODE_HELP}`

  static examples = [
    {description: 'Plan every manifest below the current directory', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Plan one send of a manifest', command: '<%= config.bin %> <%= command.id %> examples/release-notes.yaml --send release-4-2-notes'},
    {description: 'Machine-readable plan (schemas/plan.schema.json)', command: '<%= config.bin %> <%= command.id %> examples --json > plan.json'},
    {description: 'In CI: exit 2 when something would be sent', command: '<%= config.bin %> <%= command.id %> sends/ --detailed-exitcode'},
  ]

  static strict = false
  static args = {paths: Args.string({description: 'Manifest files or directories. [default: .]'})}
  static flags = {
    json: Flags.boolean({description: 'Print the plan as one JSON document (schemas/plan.schema.json).'}),
    'detailed-exitcode': Flags.boolean({description: 'Exit 0 when there is nothing to send, 2 when there is, other codes on errors.'}),
    ...sendFlag,
    ...showAddressesFlag,
    ...stateFlags,
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Plan)
    const prepared = await preparePlan({
      paths: argv as string[],
      state: flags.state,
      workspace: flags.workspace,
      targets: flags.send,
      cwd: process.cwd(),
      env: process.env,
    })
    await prepared.store.close()
    const {plan} = prepared
    const mask = {showAddresses: flags['show-addresses']}
    if (flags.json) {
      await writePlanJson(plan, streamWriter(process.stdout), mask)
    } else {
      process.stdout.write(renderPlanText(plan, {...mask, paint: this.paint(process.stdout)}))
    }
    if (flags['detailed-exitcode'] && plan.summary.toSend > 0) this.exit(ExitCode.changesPresent)
  }
}
