import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../cli/base-command.js'
import {manifestInputs, stateInputs, statusRequestFlags} from '../../cli/flags.js'
import {runRecover} from '../../core/recover.js'
import {UsageError, type ExitCodes} from '../../errors.js'
import {renderRecoverText, toRecoverDocument} from '../../render/recover-text.js'

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
    ...statusRequestFlags,
  }

  async run(): Promise<Record<string, unknown>> {
    const {argv, flags} = await this.parse(StateRecover)
    const paths = argv as string[]
    if (paths.length === 0) throw new UsageError('name the manifests whose keys to recover', 'pass the same manifest files or directories as to apply, e.g. `mcsend state recover sends/`')
    const interrupt = this.interruptible('\nInterrupted: no new status request will start; recording what was found so far.')
    try {
      const report = await runRecover(
        {paths, sends: flags.send, sandbox: flags.sandbox, rate: flags.rate, ...manifestInputs(flags), ...stateInputs(flags), signal: interrupt.signal},
        {note: (m) => this.note(m), onProgress: this.progressLine('Asked')},
      )
      if (!this.jsonEnabled()) process.stdout.write(renderRecoverText(report, {paint: this.paint(process.stdout)}))
      return this.finishWithDocument(toRecoverDocument(report), report.error, report.interrupted)
    } finally {
      interrupt.release()
    }
  }
}
