import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../cli/base-command.js'
import {envFlag, manifestInputs, sourceRootFlag, variableFlags} from '../cli/flags.js'
import {ExitCode, formatWarnings, type ExitCodes, type Problem} from '../errors.js'
import {plural} from '../text/format.js'
import {throwIfProblems, validateManifests} from '../core/load.js'

export interface ValidateDocument {
  valid: boolean
  errors: {file: string; line: number | null; column: number | null; message: string; path: string | null; hint: string | null}[]
  omitted: number
  manifests: number
  sends: number
  recipients: number
  warnings: ValidateDocument['errors']
  strict: boolean
}

export default class Validate extends BaseCommand<typeof Validate> {
  static summary = 'Check send manifests offline and point at every mistake.'
  static description = `Reads every manifest (a directory means every *.yaml/*.yml below it) and its recipient sources, and reports each problem as file:line:column. Nothing is sent and Marketing Cloud is not contacted.`

  static exitCodes: ExitCodes = [0, 1, 3, 64]

  static examples = [
    {description: 'Validate every manifest below the current directory', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Validate one manifest and one directory', command: '<%= config.bin %> <%= command.id %> examples/release-notes.yaml sends/'},
    {description: 'Machine-readable result for CI', command: '<%= config.bin %> <%= command.id %> sends/ --json'},
    {description: 'In CI: an empty manifest or a source without recipients fails too', command: '<%= config.bin %> <%= command.id %> sends/ --strict'},
  ]

  static strict = false
  static args = {paths: Args.string({description: 'Manifest files or directories. [default: .]'})}
  static flags = {
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print the result as one JSON document.'}),
    strict: Flags.boolean({description: 'Treat warnings as errors: a manifest file without sends, a recipient source without recipients (exit 3).'}),
    ...envFlag,
    ...variableFlags,
    ...sourceRootFlag,
  }

  async run(): Promise<ValidateDocument> {
    const {argv, flags} = await this.parse(Validate)
    const paths = argv as string[]
    const result = await validateManifests(paths, manifestInputs(flags))
    const warnings = result.warnings ?? []
    // --strict: a warning is a problem like any other.
    if (flags.strict && warnings.length > 0) result.problems.push(...warnings)
    const toJson = (p: Problem) => ({file: p.file, line: p.line ?? null, column: p.column ?? null, message: p.message, path: p.path ?? null, hint: p.hint ?? null})
    const omitted = result.omittedProblems ?? 0
    const doc: ValidateDocument = {
      valid: result.problems.length === 0,
      errors: result.problems.map(toJson),
      omitted,
      manifests: result.manifests.length,
      sends: result.sends.length,
      recipients: result.sends.reduce((n, s) => n + s.recipients.length, 0),
      warnings: flags.strict ? [] : warnings.map(toJson),
      strict: flags.strict,
    }
    if (this.jsonEnabled()) {
      if (!doc.valid) this.exitWithDocument(ExitCode.invalidInput, doc)
      return doc
    }
    // The located list, the count of the rest and exit 3 are the shared invalid-input error's.
    throwIfProblems(result, 'fix each location above and run `mcsend validate` again')
    for (const line of formatWarnings(warnings)) this.note(line)
    const paint = this.paint(process.stdout)
    this.log(`${paint.green('ok')}: ${plural(doc.manifests, 'manifest file')} valid: ${plural(doc.sends, 'send')}, ${plural(doc.recipients, 'recipient')}`)
    return doc
  }
}
