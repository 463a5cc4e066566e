import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../cli/base-command.js'
import {envFlag, variableFlags} from '../cli/flags.js'
import {runDoctor, type DoctorReport} from '../core/doctor.js'
import {ExitCode, type ExitCodes} from '../errors.js'
import {renderDoctor} from '../render/doctor-text.js'

export default class Doctor extends BaseCommand<typeof Doctor> {
  static summary = 'Check the connection to Marketing Cloud and the send definitions, without sending anything.'
  static description = `Checks what apply needs, as \`gh auth status\` does for gh: the credentials in the environment (MCSEND_CLIENT_ID, MCSEND_CLIENT_SECRET, MCSEND_SUBDOMAIN or MCSEND_AUTH_URL, MCSEND_ACCOUNT_ID), that a token is issued, that the REST host it names belongs to the same tenant, which business unit it acts on and, for the manifests given, that each send definition exists and is Active. It sends nothing and prints no secret. --env checks an environment of mcsend.yaml (its tenant, business unit and credential variables) as apply would use it; --var and --var-file give templated manifests their values. --sandbox checks the built-in sandbox instead.`

  static exitCodes: ExitCodes = [[0, 'everything checked is ready'], [1, 'a check failed (each is listed with a hint)'], 3, 64]

  static examples = [
    {description: 'Check the credentials and the definitions of the examples', command: 'MCSEND_CLIENT_ID=… MCSEND_CLIENT_SECRET=… MCSEND_SUBDOMAIN=… <%= config.bin %> <%= command.id %> examples/release-notes.yaml'},
    {description: 'The same against the built-in sandbox, as JSON', command: '<%= config.bin %> <%= command.id %> examples/release-notes.yaml --sandbox --json'},
    {description: 'The prod environment of mcsend.yaml and a templated manifest', command: '<%= config.bin %> <%= command.id %> examples/release-announcement.yaml --env prod --var version=4.3.0 --var version_slug=4-3-0'},
  ]

  static strict = false
  static args = {paths: Args.string({description: 'Manifest files or directories whose definitions to check (none: only the connection).'})}
  static flags = {
    sandbox: Flags.boolean({description: 'Check the built-in fake Marketing Cloud instead (no account needed).'}),
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print the checks as one JSON document.'}),
    ...envFlag,
    ...variableFlags,
  }

  async run(): Promise<DoctorReport> {
    const {argv, flags} = await this.parse(Doctor)
    const report = await runDoctor({paths: argv as string[], sandbox: flags.sandbox, env: process.env, cwd: process.cwd(), envName: flags.env, variables: {vars: flags.var, varFiles: flags['var-file']}})
    if (!this.jsonEnabled()) process.stdout.write(renderDoctor(report, this.paint(process.stdout)))
    if (!report.ok) this.exitWithDocument(ExitCode.error, report)
    return report
  }
}
