import {Args, Flags} from '@oclif/core'
import path from 'node:path'

import {BaseCommand} from '../cli/base-command.js'
import {CSV_FILE, MANIFEST_FILE, scaffoldProject, type ScaffoldResult} from '../core/init.js'
import type {ExitCodes} from '../errors.js'

export default class Init extends BaseCommand<typeof Init> {
  static summary = 'Start a project: a sample send manifest, its recipients CSV and .gitignore entries.'
  static description = `Writes ${MANIFEST_FILE} (a send manifest with a schema comment, so editors with the YAML language server complete and check it), ${CSV_FILE} (three sample recipients at example addresses) and appends to .gitignore the sandbox directory and the state's lock and journal (never a line it already has). Existing files are not overwritten (exit 3) unless --force.

The schema comment points at node_modules/mcsend/schemas/manifest.schema.json of the nearest directory with a package.json: install mcsend as a dev dependency (npm install --save-dev mcsend) for editors to find it.`

  static exitCodes: ExitCodes = [0, 1, 3, 64]

  static examples = [
    {description: 'Scaffold in the current directory', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Scaffold in a new directory', command: '<%= config.bin %> <%= command.id %> my-sends'},
  ]

  static args = {dir: Args.string({description: 'Directory to scaffold in (created if missing). [default: .]'})}
  static flags = {force: Flags.boolean({description: 'Overwrite an existing manifest and CSV of the same names.'})}

  async run(): Promise<ScaffoldResult> {
    const {args, flags} = await this.parse(Init)
    const display = args.dir ?? '.'
    const result = await scaffoldProject(path.resolve(process.cwd(), display), {force: flags.force, display})
    const manifest = path.join(display, MANIFEST_FILE)
    const lines = [`Created ${result.created.join(' and ')}.`]
    if (result.gitignoreAdded.length > 0) lines.push(`${result.gitignoreCreated ? 'Created' : 'Updated'} ${path.join(display, '.gitignore')}: ${result.gitignoreAdded.join(', ')}.`)
    lines.push('', 'Next:', `  mcsend validate ${manifest}`, `  mcsend plan ${manifest}`, `  mcsend apply ${manifest} --sandbox`)
    process.stdout.write(`${lines.join('\n')}\n`)
    return result
  }
}
