import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {envFlag, sendFlag, lockTimeoutFlag, sourceRootFlag, stateFlags, variableFlags} from '../cli/flags.js'
import {ExitCode, type ExitCodes} from '../errors.js'
import {toStatusDocument, type StatusDocument} from '../render/status-json.js'
import {renderStatusText} from '../render/status-text.js'
import {DEFAULT_STATUS_RATE} from '../status/pacer.js'
import {runStatus} from '../core/status.js'

export default class Status extends BaseCommand<typeof Status> {
  static summary = 'Ask Marketing Cloud what happened to the accepted messages, and record it in the state.'
  static description = `For each accepted message without a final delivery event, asks the status endpoint (GET /messaging/v1/email/messages/{messageKey}) whether it is still queued, was sent, or was not sent (with the subscriber status code, e.g. 24 ListDetectiveExclusion), and records the event with its time in UTC. Messages already known as sent or not sent are not asked again. The endpoint is rate-limited and only answers for 3 days: requests are paced (--rate, slowed down further on HTTP 429), and older messages are reported as "unknown (too old to query)", never guessed.

With manifest paths, only their sends are checked; without, every send in the state. The state is locked only while answers are written, so a status run never blocks an apply.`

  static exitCodes: ExitCodes = [0, 1, 3, 5, 64, 130]

  static examples = [
    {description: 'Delivery status of every send in the state', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'One send, machine-readable', command: '<%= config.bin %> <%= command.id %> sends/ --send release-4-2-notes --json'},
    {description: 'What the sandbox delivered', command: '<%= config.bin %> <%= command.id %> --sandbox'},
    {description: 'Gentler on a busy business unit', command: '<%= config.bin %> <%= command.id %> --rate 1'},
  ]

  static strict = false
  static args = {paths: Args.string({description: 'Manifest files or directories: only their sends. [default: every send in the state]'})}
  static flags = {
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print the result as one JSON document.'}),
    sandbox: Flags.boolean({description: 'Ask the built-in fake Marketing Cloud (what apply --sandbox sent; its own state).'}),
    rate: Flags.integer({description: `Status requests per second at most.`, default: DEFAULT_STATUS_RATE, min: 1, max: 50}),
    ...sendFlag,
    ...sourceRootFlag,
    ...envFlag,
    ...variableFlags,
    ...stateFlags,
    ...lockTimeoutFlag,
  }

  async run(): Promise<StatusDocument> {
    const {argv, flags} = await this.parse(Status)
    const controller = new AbortController()
    const onSigint = () => {
      this.note('\nInterrupted: no new status request will start; saving the answers received so far.')
      controller.abort()
    }
    process.on('SIGINT', onSigint)
    const json = this.jsonEnabled()
    const progress = process.stderr.isTTY === true && !json
    let lastProgress = 0
    try {
      const report = await runStatus(
        {
          paths: argv as string[],
          sends: flags.send,
          state: flags.state,
          workspace: flags.workspace,
          lockTimeoutMs: flags['lock-timeout'],
          sandbox: flags.sandbox,
          rate: flags.rate,
          variables: {vars: flags.var, varFiles: flags['var-file']},
          envName: flags.env,
          cwd: process.cwd(),
          env: process.env,
          sourceRoots: flags['source-root'],
          signal: controller.signal,
        },
        {
          note: (m) => this.note(m),
          onProgress: (done, total) => {
            const now = Date.now()
            if (!progress || (now - lastProgress < 1000 && done < total)) return
            lastProgress = now
            process.stderr.write(`\rChecked ${done}/${total}${done === total ? '\n' : ''}`)
          },
        },
      )
      const doc = toStatusDocument(report)
      if (!json) process.stdout.write(renderStatusText(report, {paint: this.paint(process.stdout)}))
      const error = report.error ?? report.saveError
      if (error && !json) throw error
      if (error) {
        // The document carries the error; stdout must hold only that one document.
        this.note(`error: ${error.message}${error.hint ? `\nhint: ${error.hint}` : ''}`)
        this.exitWithDocument(error.exitCode, doc)
      }
      if (report.interrupted) this.exitWithDocument(ExitCode.interrupted, doc)
      return doc
    } finally {
      process.off('SIGINT', onSigint)
    }
  }
}
