import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {envFlag, lockTimeoutFlag, sendFlag, sourceRootFlag, stateFlags, variableFlags} from '../../cli/flags.js'
import {runRecover} from '../../core/recover.js'
import {ExitCode, UsageError, type ExitCodes} from '../../errors.js'
import {renderRecoverText, toRecoverDocument} from '../../render/recover-text.js'
import {DEFAULT_STATUS_RATE} from '../../status/pacer.js'

export default class StateRecover extends BaseCommand<typeof StateRecover> {
  static summary = 'Rebuild a lost state from what Marketing Cloud knows, without sending anything.'
  static description = `Plans the manifests against the state, then asks the status endpoint (GET /messaging/v1/email/messages/{messageKey}) about every planned key the state does not hold as accepted. A key Marketing Cloud knows is recorded as accepted with its delivery event (a message it did not send is recorded too, with the reason), exactly as apply would have recorded it, so the next apply does not send it again. A key it does not know was never sent, or was sent more than 3 days ago: the status endpoint sees no further back, so those are reported as unknown and apply would send them.

Requests are paced (--rate, slowed down further on HTTP 429); the state lock is held throughout, and what was found is written as it goes, so an interrupted run (Ctrl-C, exit 130) keeps its answers. Never sends.`

  static exitCodes: ExitCodes = [0, 1, 3, 5, 64, 130]

  static examples = [
    {description: 'The state file was deleted after an apply: rebuild it', command: '<%= config.bin %> <%= command.id %> sends/'},
    {description: 'One send, in an environment of mcsend.yaml, as JSON', command: '<%= config.bin %> <%= command.id %> sends/ --send release-4-2-notes --env prod --json'},
  ]

  static strict = false
  static args = {paths: Args.string({description: 'Manifest files or directories, as given to apply.'})}
  static flags = {
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print the report as one JSON document.'}),
    sandbox: Flags.boolean({description: 'Ask the built-in fake Marketing Cloud (what apply --sandbox sent; its own state).'}),
    rate: Flags.integer({description: 'Status requests per second at most.', default: DEFAULT_STATUS_RATE, min: 1, max: 50}),
    ...sendFlag,
    ...sourceRootFlag,
    ...envFlag,
    ...variableFlags,
    ...stateFlags,
    ...lockTimeoutFlag,
  }

  async run(): Promise<Record<string, unknown>> {
    const {argv, flags} = await this.parse(StateRecover)
    const paths = argv as string[]
    if (paths.length === 0) throw new UsageError('name the manifests whose keys to recover', 'pass the same manifest files or directories as to apply, e.g. `mcsend state recover sends/`')
    const controller = new AbortController()
    const onSigint = () => {
      this.note('\nInterrupted: no new status request will start; recording what was found so far.')
      controller.abort()
    }
    process.on('SIGINT', onSigint)
    const json = this.jsonEnabled()
    const progress = process.stderr.isTTY === true && !json
    let lastProgress = 0
    try {
      const report = await runRecover(
        {
          paths,
          sends: flags.send,
          state: flags.state,
          workspace: flags.workspace,
          sandbox: flags.sandbox,
          cwd: process.cwd(),
          env: process.env,
          sourceRoots: flags['source-root'],
          variables: {vars: flags.var, varFiles: flags['var-file']},
          envName: flags.env,
          lockTimeoutMs: flags['lock-timeout'],
          rate: flags.rate,
          signal: controller.signal,
        },
        {
          note: (m) => this.note(m),
          onProgress: (done, total) => {
            const now = Date.now()
            if (!progress || (now - lastProgress < 1000 && done < total)) return
            lastProgress = now
            process.stderr.write(`\rAsked ${done}/${total}${done === total ? '\n' : ''}`)
          },
        },
      )
      const doc = toRecoverDocument(report)
      if (!json) process.stdout.write(renderRecoverText(report, {paint: this.paint(process.stdout)}))
      if (report.error && !json) throw report.error
      if (report.error) {
        // The document carries the error; stdout must hold only that one document.
        this.note(`error: ${report.error.message}${report.error.hint ? `\nhint: ${report.error.hint}` : ''}`)
        this.exitWithDocument(report.error.exitCode, doc)
      }
      if (report.interrupted) this.exitWithDocument(ExitCode.interrupted, doc)
      return doc
    } finally {
      process.off('SIGINT', onSigint)
    }
  }
}
