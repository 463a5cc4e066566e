import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../cli/base-command.js'
import {CI_SYSTEMS, CSV_FILE, GITHUB_WORKFLOW, MANIFEST_FILE, scaffoldProject, type ScaffoldResult} from '../core/init.js'
import type {ExitCodes} from '../errors.js'
import {renderInitText} from '../render/init-text.js'

export default class Init extends BaseCommand<typeof Init> {
  static summary = 'Start a project: a sample send manifest, its recipients CSV and .gitignore entries.'
  static description = `Writes ${MANIFEST_FILE} (a send manifest with a schema comment, so editors with the YAML language server complete and check it) and ${CSV_FILE} (three sample recipients at example addresses) into DIR, and appends to the .gitignore of the current directory the sandbox directory (its outbox holds addresses in clear) and the state's lock and journal, never a line it already has: the next commands, run from here, create .mcsend/ here. Existing files are not overwritten (exit 3) unless --force.

--ci github also writes ${GITHUB_WORKFLOW}, the workflow of mcsend's examples/github-actions/ pointed at DIR: it plans and comments on pull requests and applies on merge to main.

The schema comment points at the schema of the mcsend that runs when it is installed in the project (npm install --save-dev mcsend), else at node_modules/mcsend/schemas/ of the nearest directory with a package.json, where such an install puts it.`

  static exitCodes: ExitCodes = [0, 1, 3, 64]

  static examples = [
    {description: 'Scaffold in the current directory', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Scaffold in a new directory', command: '<%= config.bin %> <%= command.id %> my-sends'},
    {description: 'Scaffold sends/ and a GitHub Actions workflow for it', command: '<%= config.bin %> <%= command.id %> sends --ci github'},
  ]

  static args = {dir: Args.string({description: 'Directory to scaffold the manifest and CSV in (created if missing). [default: .]'})}
  static flags = {
    force: Flags.boolean({description: 'Overwrite existing files of the same names.'}),
    ci: Flags.option({options: CI_SYSTEMS, description: `Also write a CI workflow: github writes ${GITHUB_WORKFLOW} (plan and comment on pull requests, apply on merge).`})(),
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print what was written as one JSON document.'}),
  }

  async run(): Promise<ScaffoldResult> {
    const {args, flags} = await this.parse(Init)
    const result = await scaffoldProject({dir: args.dir ?? '.', cwd: process.cwd(), force: flags.force, ci: flags.ci})
    if (!this.jsonEnabled()) process.stdout.write(renderInitText(result))
    return result
  }
}
