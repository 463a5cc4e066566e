import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {confirmTyped, needsConfirmation} from '../cli/confirm.js'
import {makeProgress} from '../cli/progress.js'
import {BaseCommand} from '../cli/base-command.js'
import {manifestInputs, planFlags, stateInputs} from '../cli/flags.js'
import {refuseNonInteractive, runApply} from '../core/apply.js'
import {ciContextFromEnv} from '../core/ci-context.js'
import {SANDBOX_STATE} from '../core/connection.js'
import {ExitCode, UsageError, type ExitCodes} from '../errors.js'
import {isSavedPlanArgument} from '../core/saved-plan.js'
import {renderApplySummary} from '../render/apply-text.js'
import {OUTPUT_FORMATS, resolveFormat} from '../render/output-format.js'
import {escapeTerminal} from '../privacy/index.js'
import {plural} from '../text/format.js'
import {canaryMessageCount, hasCanary} from '../apply/canary.js'
import type {Plan} from '../plan/types.js'

export default class Apply extends BaseCommand<typeof Apply> {
  static summary = 'Send the planned messages, exactly once, recording each outcome in the state.'
  static description = `Plans as \`mcsend plan\` does, shows the plan, takes the state lock, checks the credentials and that each send definition exists and is Active, and only then asks for approval, naming the target: type yes to send (or pass --auto-approve; anything else cancels with exit 1). Then it sends the batches with bounded concurrency. Each batch's messageKeys are written to the state as pending before the request and as accepted or failed after it, so a re-run, a crash or a retry never sends the same message twice. Ctrl-C stops starting new batches, waits for those in flight and saves the state.

A send with a canary (manifest \`canary:\`) sends its canary requests first and waits for them through the status endpoint (paced), shows the outcome per canary recipient with addresses masked, then asks again (type yes). With --auto-approve the rest goes only when every canary message reached what the send awaits; when one was rejected or not sent (the reason code is named) or the timeout passed, apply stops with exit 4 and sends nothing more. --skip-canary sends everything at once, for emergencies, and says so loudly.

\`mcsend apply FILE\`, where FILE was written by \`mcsend plan --out FILE\`, sends exactly that plan without asking (the review was the approval). It refuses a stale plan with exit 5 and sends nothing: when the state changed since the plan (another apply ran), when a manifest or recipient file it read changed or is missing, or when the plan was written in another format version. Run it from the directory plan ran in.

Credentials come from MCSEND_CLIENT_ID, MCSEND_CLIENT_SECRET, MCSEND_SUBDOMAIN (or MCSEND_AUTH_URL) and optionally MCSEND_ACCOUNT_ID. --sandbox uses the built-in fake Marketing Cloud instead (its outbox is .mcsend/sandbox/outbox.ndjson) and, unless --state is given, its own state file (${SANDBOX_STATE}), so sandbox runs never mark real sends as done.`

  static exitCodes: ExitCodes = [0, 1, 3, 4, 5, 64, 130]

  static examples = [
    {description: 'Try the whole flow against the built-in sandbox', command: '<%= config.bin %> <%= command.id %> examples/release-notes.yaml --sandbox --auto-approve'},
    {description: 'Apply a reviewed, saved plan (no prompt; refused if stale)', command: '<%= config.bin %> plan sends/ --out plan.json && <%= config.bin %> <%= command.id %> plan.json'},
    {description: 'Send for real, with a prompt', command: 'MCSEND_CLIENT_ID=… MCSEND_CLIENT_SECRET=… MCSEND_SUBDOMAIN=… <%= config.bin %> <%= command.id %> sends/'},
    {description: 'A send with a canary: the seeds first, then (once they are sent) everyone else', command: '<%= config.bin %> <%= command.id %> examples/canary.yaml --sandbox --auto-approve'},
    {description: 'In CI: no prompt, events as JSON lines', command: '<%= config.bin %> <%= command.id %> sends/ --auto-approve --json'},
  ]

  static strict = false
  static args = {paths: Args.string({description: 'Manifest files or directories [default: .], or one saved plan (plan --out FILE).'})}
  static flags = {
    'auto-approve': Flags.boolean({description: 'Send without asking for approval (required when the shell is not interactive).'}),
    parallelism: Flags.integer({description: 'How many requests may be in flight at once.', default: 4, min: 1, max: 16}),
    sandbox: Flags.boolean({description: 'Send to the built-in fake Marketing Cloud instead (no account needed).'}),
    refresh: Flags.boolean({description: 'First ask Marketing Cloud about keys left pending by an interrupted run: accepted ones are not re-sent.'}),
    'skip-canary': Flags.boolean({description: 'Emergencies only: send the canary with everything else at once, without waiting for it (printed as a warning on stderr, in --json and in the Markdown result).'}),
    'allow-inactive': Flags.boolean({description: 'Send even if the send definition is Inactive (Marketing Cloud queues the messages for up to 3 days).'}),
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print one JSON object per line: the plan summary, each batch, the final summary.'}),
    format: Flags.option({options: OUTPUT_FORMATS, helpGroup: 'OUTPUT', description: 'Output: text (default), json (as --json) or markdown (the result, for a comment on the merge; the plan goes to stderr).'})(),
    ...planFlags,
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Apply)
    const format = resolveFormat(flags)
    const json = format === 'json'
    const markdown = format === 'markdown'
    const mask = {showAddresses: flags['show-addresses']}
    const emit = (obj: object) => this.logJson(obj)

    const controller = new AbortController()
    const progress = await makeProgress(process.stderr, json)
    let interrupts = 0
    const onSigint = () => {
      interrupts++
      // The bar redraws its line: finish it for good before printing anything else.
      progress.stop(true)
      if (interrupts === 1) {
        this.note('Interrupted: no new batch will start; waiting for the requests in flight (Ctrl-C again to stop waiting).')
        controller.abort()
      } else {
        this.note('Stopping now; batches still in flight stay pending and the next apply settles them.')
        process.exit(ExitCode.interrupted)
      }
    }
    process.on('SIGINT', onSigint)
    process.on('SIGTERM', onSigint)

    // The canary's question names the target the approval named.
    let approvedTarget = ''
    // The word that approved the run approves the rest after the canary: a protected environment's name, or yes.
    let approvalWord = 'yes'
    // The renderers load when a run needs them: `--json` never renders text, a run without a canary no canary report.
    const planText = () => import('../render/plan-text.js')
    const canaryText = () => import('../render/canary-text.js')
    const warnSkippedCanary = async (plan: Plan) => {
      if (!flags['skip-canary'] || !hasCanary(plan)) return
      const {canaryOutcomeLine} = await canaryText()
      const line = canaryOutcomeLine({skipped: true, messages: canaryMessageCount(plan)})
      process.stderr.write(`${this.paint(process.stderr).yellow(`WARNING: ${line}`)}\n`)
      if (json) emit({type: 'canary_skipped', messages: canaryMessageCount(plan)})
    }
    const paths = argv as string[]
    const planFile = (await isSavedPlanArgument(paths, process.cwd())) ? paths[0] : undefined
    if (planFile === undefined && paths.some((p) => /\.json$/i.test(p)) && paths.length > 1) {
      throw new UsageError('apply takes either manifests or one saved plan', 'pass the saved plan (plan --out FILE) on its own')
    }
    try {
      const outcome = await runApply(
        {
          paths,
          planFile,
          ...manifestInputs(flags),
          ...stateInputs(flags),
          targets: flags.send,
          sandbox: flags.sandbox,
          parallelism: flags.parallelism,
          allowInactive: flags['allow-inactive'],
          refresh: flags.refresh,
          skipCanary: flags['skip-canary'],
          signal: controller.signal,
        },
        {
          showPlan: async (plan) => {
            if (json) emit({type: 'plan', formatVersion: plan.formatVersion, state: plan.state, summary: plan.summary, ...(planFile === undefined ? {} : {savedPlan: planFile})})
            else {
              const {renderPlanText} = await planText()
              if (markdown) process.stderr.write(renderPlanText(plan, {...mask, paint: this.paint(process.stderr)}))
              else process.stdout.write(renderPlanText(plan, {...mask, paint: this.paint(process.stdout)}))
            }
            await warnSkippedCanary(plan)
          },
          approve: async (plan, target) => {
            approvedTarget = target
            if (plan.environment?.protected === true) approvalWord = plan.environment.name
            if (flags['auto-approve']) return true
            if (needsConfirmation(false)) refuseNonInteractive()
            // A protected environment is approved by typing its name, any other target by typing yes.
            const e = plan.environment
            const {describeEnvironment} = await planText()
            const where = e === undefined ? escapeTerminal(target) : `${escapeTerminal(target)}, ${describeEnvironment(e)}`
            return confirmTyped(`Send ${plural(plan.summary.toSend, 'message')} in ${plural(plan.summary.requests, 'request')} to ${where}?`, e?.protected === true ? e.name : 'yes')
          },
          note: (m) => {
            progress.stop()
            this.note(m)
          },
          onEvent: json ? (e) => emit(e) : undefined,
          onProgress: (p) => progress.update(p),
          afterCanary: async (report) => {
            progress.stop()
            const {canaryReportJson, renderCanaryReport} = await canaryText()
            if (json) emit({type: 'canary', ...canaryReportJson(report, mask)})
            else process.stderr.write(renderCanaryReport(report, {...mask, paint: this.paint(process.stderr)}))
            // Without a person to ask (--auto-approve, a saved plan in CI), only a canary that passed lets the rest go.
            if (flags['auto-approve'] || needsConfirmation(false)) return report.verdict === 'passed'
            const rest = `${plural(report.rest.messages, 'message')} in ${plural(report.rest.requests, 'request')}`
            const where = approvedTarget === '' ? 'the same target' : escapeTerminal(approvedTarget)
            const question = report.verdict === 'passed' ? `Send the other ${rest} to ${where}?` : `The canary did not pass. Send the other ${rest} to ${where} anyway?`
            return confirmTyped(question, approvalWord)
          },
        },
      )
      progress.stop()
      if (outcome.cancelled) {
        if (json) emit({type: 'cancelled'})
        else this.note('Apply cancelled; nothing was sent.')
        this.exit(outcome.exitCode)
      }
      if (!outcome.result) {
        if (json) emit({type: 'summary', accepted: 0, alreadyAccepted: 0, rejected: 0, unknown: 0, notAttempted: 0, exitCode: 0})
        else if (markdown) process.stdout.write(`${(await import('../render/apply-markdown.js')).APPLY_MARKDOWN_MARKER}\n### mcsend apply: nothing to send\n`)
        else this.log('Nothing to send.')
        return
      }
      const r = outcome.result
      const canary = outcome.canary
      const stoppedAfterCanary = canary !== undefined && !canary.skipped && !canary.continued
      if (canary !== undefined && !canary.skipped && !json) {
        const line = (await canaryText()).canaryOutcomeLine(canary)
        process.stderr.write(`${canary.continued ? line : this.paint(process.stderr).red(line)}\n`)
      }
      if (json) {
        emit({
          type: 'summary',
          accepted: r.accepted,
          alreadyAccepted: r.alreadyAccepted,
          rejected: r.rejected,
          unknown: r.unknown,
          notAttempted: r.notAttempted,
          interrupted: r.interrupted,
          error: r.fatal ? {code: r.fatal.code, message: r.fatal.message} : undefined,
          state: outcome.stateLocation,
          ...(canary === undefined ? {} : {canary: canary.skipped ? {skipped: true, messages: canary.messages} : {skipped: false, verdict: canary.report.verdict, continued: canary.continued, ...(canary.stoppedBy === undefined ? {} : {stoppedBy: canary.stoppedBy})}}),
          exitCode: outcome.exitCode,
        })
      } else if (markdown) {
        const {renderApplyMarkdown} = await import('../render/apply-markdown.js')
        process.stderr.write(renderApplySummary(r, {...mask, paint: this.paint(process.stderr), stateLocation: outcome.stateLocation, stoppedAfterCanary}))
        process.stdout.write(renderApplyMarkdown(r, {target: outcome.target ?? '', stateLocation: outcome.stateLocation, ci: ciContextFromEnv(process.env), ...(canary === undefined ? {} : {canary})}))
      } else {
        process.stdout.write(renderApplySummary(r, {...mask, paint: this.paint(process.stdout), stateLocation: outcome.stateLocation, stoppedAfterCanary}))
      }
      if (r.fatal && !r.interrupted) throw r.fatal
      if (outcome.exitCode !== ExitCode.ok) this.exit(outcome.exitCode)
    } finally {
      progress.stop()
      process.off('SIGINT', onSigint)
      process.off('SIGTERM', onSigint)
    }
  }
}
