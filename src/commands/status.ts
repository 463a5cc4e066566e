import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../cli/base-command.js'
import {manifestInputs, stateInputs, statusRequestFlags} from '../cli/flags.js'
import type {ExitCodes} from '../errors.js'
import {toStatusDocument, type StatusDocument} from '../render/status-json.js'
import {renderStatusText} from '../render/status-text.js'
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
    ...statusRequestFlags,
  }

  async run(): Promise<StatusDocument> {
    const {argv, flags} = await this.parse(Status)
    const interrupt = this.interruptible('\nInterrupted: no new status request will start; saving the answers received so far.')
    try {
      const report = await runStatus(
        {paths: argv as string[], sends: flags.send, sandbox: flags.sandbox, rate: flags.rate, ...manifestInputs(flags), ...stateInputs(flags), signal: interrupt.signal},
        {note: (m) => this.note(m), onProgress: this.progressLine('Checked')},
      )
      if (!this.jsonEnabled()) process.stdout.write(renderStatusText(report, {paint: this.paint(process.stdout)}))
      return this.finishWithDocument(toStatusDocument(report), report.error ?? report.saveError, report.interrupted)
    } finally {
      interrupt.release()
    }
  }
}
