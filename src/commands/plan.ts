import {emptyStateNote} from '../core/target.js'
import {appendFile} from 'node:fs/promises'

import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {ciContextFromEnv} from '../core/ci-context.js'
import {BaseCommand} from '../cli/base-command.js'
import {manifestInputs, planFlags} from '../cli/flags.js'
import {SANDBOX_STATE} from '../core/connection.js'
import {preparePlan} from '../core/plan.js'
import {ExitCode, formatWarnings, type ExitCodes} from '../errors.js'
import {previousSnapshots} from '../plan/build.js'
import {applyCommand} from '../render/apply-command.js'
import {OUTPUT_FORMATS, resolveFormat} from '../render/output-format.js'

export default class Plan extends BaseCommand<typeof Plan> {
  static summary = 'Show which messages would be sent, in which requests, and what was already sent.'
  static description = `Reads the manifests and the state and shows, per send, each message's action: create (never sent), retry (rejected before, or left pending by an interrupted run), noop (already accepted) or drift (accepted, but its address or attributes changed since; not re-sent). Nothing is sent. Email addresses are masked unless --show-addresses.

--out FILE saves the plan (no email addresses; safe as a CI artifact) for \`mcsend apply FILE\`, which sends exactly it, or refuses with exit 5 if the state or any file it read changed since. --format markdown prints a pull-request comment; when GITHUB_STEP_SUMMARY is set, the Markdown is also appended to that file, always with addresses masked (unless --no-step-summary).`

  static exitCodes: ExitCodes = [0, 1, 2, 3, 5, 64]

  static examples = [
    {description: 'Plan every manifest below the current directory', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Plan one send of a manifest', command: '<%= config.bin %> <%= command.id %> examples/release-notes.yaml --send release-4-2-notes'},
    {description: 'Save the plan for review, then apply exactly it', command: '<%= config.bin %> <%= command.id %> sends/ --out plan.json && <%= config.bin %> apply plan.json'},
    {description: 'In CI: a Markdown comment, and exit 2 when something would be sent', command: '<%= config.bin %> <%= command.id %> sends/ --out plan.json --format markdown --detailed-exitcode'},
    {description: 'Plan the next release of a templated manifest', command: '<%= config.bin %> <%= command.id %> examples/release-announcement.yaml --var version=4.3.0 --var version_slug=4-3-0'},
    {description: 'Machine-readable plan (schemas/plan.schema.json)', command: '<%= config.bin %> <%= command.id %> examples --json > plan.json'},
  ]

  static strict = false
  static args = {paths: Args.string({description: 'Manifest files or directories. [default: .]'})}
  static flags = {
    format: Flags.option({helpGroup: 'OUTPUT', options: OUTPUT_FORMATS, description: 'Output: text (default), json (schemas/plan.schema.json) or markdown (a pull-request comment).'})(),
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Short for --format json.'}),
    out: Flags.file({description: 'Also save the plan to FILE (schemas/saved-plan.schema.json), for `mcsend apply FILE`.', helpValue: 'FILE'}),
    'detailed-exitcode': Flags.boolean({description: 'Exit 0 when there is nothing to send, 2 when there is; any other code is an error.'}),
    'no-step-summary': Flags.boolean({helpGroup: 'OUTPUT', description: 'Do not append the Markdown plan to $GITHUB_STEP_SUMMARY (done by default when it is set).'}),
    refresh: Flags.boolean({description: 'First ask Marketing Cloud about keys left pending by an interrupted run and record the answers (takes the state lock briefly).'}),
    sandbox: Flags.boolean({description: `Plan against the sandbox's state (${SANDBOX_STATE}) unless --state is given, as \`apply --sandbox\` would.`}),
    ...planFlags,
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Plan)
    const format = resolveFormat(flags)
    // Modules only some runs need are loaded when used: starting up costs less for every other run.
    if (flags.refresh) {
      const {refreshStatePending} = await import('../core/refresh.js')
      await refreshStatePending({sandbox: flags.sandbox, state: flags.state, workspace: flags.workspace, envName: flags.env, lockTimeoutMs: flags['lock-timeout'], sends: flags.send, cwd: process.cwd(), env: process.env, note: (m) => this.note(m)})
    }
    const prepared = await preparePlan({paths: argv as string[], targets: flags.send, sandbox: flags.sandbox, ...manifestInputs(flags), state: flags.state, workspace: flags.workspace})
    const {plan, state} = prepared
    const emptyNote = emptyStateNote({state: flags.state, sandbox: flags.sandbox, cwd: process.cwd(), env: process.env}, state)
    if (emptyNote !== undefined) this.note(emptyNote)
    for (const line of formatWarnings(prepared.warnings)) this.note(line)
    const previous = previousSnapshots(plan.sends, state.sends)
    const mask = {showAddresses: flags['show-addresses']}
    if (flags.out !== undefined) {
      const {writePlanFile} = await import('../core/saved-plan.js')
      await writePlanFile(flags.out, process.cwd(), plan, {
        manifests: prepared.manifests,
        toolVersion: this.config.version,
        createdAt: new Date().toISOString(),
        sandbox: flags.sandbox,
        target: prepared.target,
        targets: flags.send ?? [],
        previous,
        storable: prepared.storable,
        ...(prepared.environment === undefined ? {} : {project: prepared.environment.project}),
      })
      this.note(`Saved the plan to ${flags.out}; apply exactly it with \`${applyCommand(flags.out, flags.sandbox)}\`.`)
    }
    const rendered = new Map<boolean, string>()
    const markdown = async (showAddresses: boolean): Promise<string> => {
      const done = rendered.get(showAddresses)
      if (done !== undefined) return done
      const {renderPlanMarkdown} = await import('../render/plan-markdown.js')
      const text = renderPlanMarkdown(plan, {showAddresses, previous, storable: prepared.storable, planFile: flags.out, sandbox: flags.sandbox, target: prepared.target, ci: ciContextFromEnv(process.env), toolVersion: this.config.version})
      rendered.set(showAddresses, text)
      return text
    }
    if (format === 'json') {
      const {streamWriter, writePlanJson} = await import('../render/plan-json.js')
      await writePlanJson(plan, streamWriter(process.stdout), mask)
    } else if (format === 'markdown') process.stdout.write(await markdown(mask.showAddresses))
    else {
      const {renderPlanText} = await import('../render/plan-text.js')
      process.stdout.write(renderPlanText(plan, {...mask, paint: this.paint(process.stdout)}))
    }

    const summaryFile = process.env.GITHUB_STEP_SUMMARY
    if (summaryFile && !flags['no-step-summary']) {
      try {
        // The step summary outlives the log and is shown to everyone who can see the run: always masked, even
        // with --show-addresses (which is for the person at the terminal).
        await appendFile(summaryFile, `${await markdown(false)}\n`)
      } catch (error) {
        this.note(`warning: could not append the plan to GITHUB_STEP_SUMMARY: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
      }
    }
    if (flags['detailed-exitcode'] && plan.summary.toSend > 0) this.exit(ExitCode.changesPresent)
  }
}
