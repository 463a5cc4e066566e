import {BEYOND_REACH_REASON, type CanaryOutcome, type CanaryRecipient, type CanaryReport} from '../apply/canary.js'
import type {PlannedCanary} from '../plan/types.js'
import {escapeTerminal, maskValue, type MaskOptions} from '../privacy/index.js'
import {formatDuration, formatTimeout} from '../text/duration.js'
import {formatCount, plural} from '../text/format.js'
import type {Paint} from './paint.js'

/** One line describing a send's canary step in a plan: `canary: 2 seed recipients first, then wait up to 10m for "sent"`. */
export function describeCanaryStep(canary: PlannedCanary): string {
  const who = canary.from === 'seeds' ? plural(canary.size, 'seed recipient') : `the first ${plural(canary.size, 'recipient')}`
  const earlier = canary.toSend < canary.size ? ` (${formatCount(canary.size - canary.toSend)} accepted before: awaited again, not re-sent)` : ''
  return `canary: ${who} first in ${plural(canary.batches, 'request')}${earlier}, then wait up to ${formatTimeout(canary.timeoutMs)} until each is ${canary.await}; the rest only after that`
}

/** What happened to one canary message, in words: `sent`, `queued (still waiting)`, `not sent: 24 ListDetectiveExclusion`. */
export function describeCanaryRecipient(r: CanaryRecipient): string {
  if (r.state === 'failed') {
    if (r.event === 'rejected') return r.reason ?? 'rejected'
    return `${r.event === 'notSent' ? 'not sent' : 'failed'}${r.reason === undefined ? '' : `: ${r.reason}`}`
  }
  if (r.state === 'reached') return r.event === 'sent' ? 'sent' : 'accepted (queued)'
  if (r.event === 'queued') return 'queued (not sent yet)'
  if (r.event === 'notFound') return 'not known to the status endpoint yet'
  return 'no answer yet'
}

/** The headline of a canary report: passed, failed (naming the reason codes) or timed out. */
export function canaryHeadline(report: CanaryReport): string {
  const total = report.recipients.length
  if (report.verdict === 'passed') return `Canary passed: ${total === 1 ? 'the message' : `all ${formatCount(total)} messages`} reached what ${total === 1 ? 'it awaits' : 'they await'}.`
  if (report.verdict === 'failed') {
    const failed = report.recipients.filter((r) => r.state === 'failed')
    if (failed.every((r) => r.reason === BEYOND_REACH_REASON)) {
      return `Canary cannot be judged: ${formatCount(failed.length)} of ${formatCount(total)} accepted more than 3 days ago, and Marketing Cloud no longer reports ${failed.length === 1 ? 'it' : 'them'} (\`mcsend status\` records delivery while it does). --skip-canary sends the rest without waiting.`
    }
    const reasons = [...new Set(report.recipients.filter((r) => r.state === 'failed').map((r) => r.reason ?? describeCanaryRecipient(r)))]
    return `Canary failed: ${formatCount(report.failed)} of ${formatCount(total)} not sent (${reasons.join('; ')}).`
  }
  return `Canary timed out after ${formatDuration(report.waitedMs / 1000)}: ${formatCount(report.waiting)} of ${formatCount(total)} not there yet.`
}

/** The report after the wait: one line per canary message (addresses masked), then the headline. */
export function renderCanaryReport(report: CanaryReport, options: MaskOptions & {paint: Paint}): string {
  const {paint} = options
  const safe = (value: string) => escapeTerminal(maskValue(value, options))
  const lines = [paint.bold('Canary outcome:')]
  for (const r of report.recipients) {
    const mark = r.state === 'reached' ? paint.green('ok     ') : r.state === 'failed' ? paint.red('FAILED ') : paint.yellow('waiting')
    const to = r.to === '' ? '' : `  ${safe(r.to)}`
    lines.push(`  ${mark}  ${safe(r.send)}  ${safe(r.contactKey)}${to}  ${paint.dim(`awaits ${r.await}`)}  ${safe(describeCanaryRecipient(r))}${r.earlier ? paint.dim('  (accepted before)') : ''}`)
  }
  // The headline names the reasons, which are Marketing Cloud's text: masked and escaped like the lines above.
  const head = safe(canaryHeadline(report))
  lines.push(report.verdict === 'passed' ? paint.green(head) : paint.red(head))
  return `${lines.join('\n')}\n`
}

/** The line after a canary that stopped apply, or the loud one for --skip-canary. */
export function canaryOutcomeLine(outcome: CanaryOutcome): string {
  if (outcome.skipped) return `--skip-canary: the canary (${plural(outcome.messages, 'message')}) is not awaited; every request is sent at once.`
  if (outcome.continued) return `After the canary: sent the other ${plural(outcome.report.rest.messages, 'message')}.`
  const n = outcome.report.rest.messages
  const rest = `the other ${plural(n, 'message')} in ${plural(outcome.report.rest.requests, 'request')} ${n === 1 ? 'was' : 'were'} not sent`
  return outcome.stoppedBy === 'person' ? `Stopped after the canary on your answer: ${rest}.` : `Stopped after the canary: ${rest}.`
}

/** The canary report as JSON (an apply event): addresses masked unless --show-addresses, `to` only then. */
export function canaryReportJson(report: CanaryReport, options: MaskOptions): Record<string, unknown> {
  return {
    verdict: report.verdict,
    reached: report.reached,
    failed: report.failed,
    waiting: report.waiting,
    waitedMs: report.waitedMs,
    rest: report.rest,
    recipients: report.recipients.map((r) => ({
      send: r.send,
      messageKey: r.messageKey,
      contactKey: maskValue(r.contactKey, options),
      ...(options.showAddresses && r.to !== '' ? {to: r.to} : {}),
      await: r.await,
      state: r.state,
      event: r.event,
      ...(r.reason === undefined ? {} : {reason: maskValue(r.reason, options)}),
      ...(r.statusCode === undefined ? {} : {statusCode: r.statusCode}),
      earlier: r.earlier,
    })),
  }
}
