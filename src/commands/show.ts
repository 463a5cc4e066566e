import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../cli/base-command.js'
import {ciContextFromEnv} from '../core/ci-context.js'
import {UsageError, type ExitCodes} from '../errors.js'
import {planFromSaved, previousFromSaved, readSavedPlanFile} from '../core/saved-plan.js'
import {applyCommand} from '../render/apply-command.js'
import {renderPlanText} from '../render/plan-text.js'
import {OUTPUT_FORMATS, resolveFormat} from '../render/output-format.js'
import {streamWriter, writePlanJson} from '../render/plan-json.js'
import {renderPlanMarkdown} from '../render/plan-markdown.js'

export default class Show extends BaseCommand<typeof Show> {
  static summary = 'Render a saved plan (plan --out FILE) as text, JSON or Markdown.'
  static description = `Reads a plan saved by \`mcsend plan --out FILE\` and prints it, without reading the manifests or the state. A saved plan holds no email address, so addresses are masked and \`to\` is not shown. Whether it can still be applied is checked by \`mcsend apply FILE\`.`

  static exitCodes: ExitCodes = [0, 1, 3, 64]

  static examples = [
    {description: 'Review a saved plan', command: '<%= config.bin %> <%= command.id %> plan.json'},
    {description: 'Markdown for a pull-request comment', command: '<%= config.bin %> <%= command.id %> plan.json --format markdown'},
    {description: 'As JSON (schemas/plan.schema.json, like plan --json)', command: '<%= config.bin %> <%= command.id %> plan.json --json'},
  ]

  static args = {file: Args.string({description: 'A saved plan (plan --out FILE).'})}
  static flags = {
    format: Flags.option({helpGroup: 'OUTPUT', options: OUTPUT_FORMATS, description: 'Output: text (default), json (schemas/plan.schema.json) or markdown (a pull-request comment).'})(),
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Short for --format json.'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Show)
    const format = resolveFormat(flags)
    if (args.file === undefined) throw new UsageError('show needs the saved plan to render', 'pass a file written by `mcsend plan --out FILE`, e.g. `mcsend show plan.json`')
    const saved = await readSavedPlanFile(args.file, process.cwd())
    const plan = planFromSaved(saved)
    const mask = {showAddresses: false}
    if (format === 'json') {
      await writePlanJson(plan, streamWriter(process.stdout), mask)
    } else if (format === 'markdown') {
      process.stdout.write(renderPlanMarkdown(plan, {...mask, previous: previousFromSaved(saved), planFile: args.file, sandbox: saved.sandbox, target: saved.target, ci: ciContextFromEnv(process.env), toolVersion: saved.toolVersion}))
    } else {
      const paint = this.paint(process.stdout)
      const head = paint.dim(`Saved plan ${args.file}: made ${saved.createdAt} by mcsend ${saved.toolVersion} against ${saved.state.location} (${saved.state.lineage === '' ? 'new state' : `serial ${saved.state.serial}`})${saved.sandbox ? ', for the sandbox' : ''}.`)
      process.stdout.write(`${head}\n\n${renderPlanText(plan, {...mask, paint})}`)
      if (plan.summary.toSend > 0) this.note(`Apply exactly this plan with \`${applyCommand(args.file, saved.sandbox)}\`.`)
    }
  }
}
