import type {RecoverReport, RecoverSendCounts} from '../status/recover-report.js'
import {escapeTerminal} from '../privacy/index.js'
import {formatCount, plural} from '../text/format.js'
import type {Paint} from './paint.js'

/** The `state recover` report: per send, what the status endpoint knew; then what it means for the next apply. */
export function renderRecoverText(report: RecoverReport, options: {paint: Paint}): string {
  const {paint} = options
  const lines: string[] = [paint.bold(`Recovery into ${escapeTerminal(report.state)}`)]
  const row = (c: Omit<RecoverSendCounts, 'send'>) =>
    [
      `${formatCount(c.planned)} planned`,
      `${formatCount(c.alreadyRecorded)} already in the state`,
      `${formatCount(c.asked)} asked`,
      paint.green(`${formatCount(c.foundAccepted)} found accepted`),
      `${formatCount(c.foundNotSent)} found not sent`,
      `${formatCount(c.unknown)} unknown`,
      ...(c.unasked > 0 ? [paint.yellow(`${formatCount(c.unasked)} not asked`)] : []),
    ].join(', ')
  for (const c of report.sends) lines.push(`  send ${escapeTerminal(c.send)}: ${row(c)}`)
  if (report.sends.length > 1) lines.push(`  total: ${row(report.totals)}`)
  const t = report.totals
  const recorded = t.foundAccepted + t.foundNotSent
  lines.push('')
  lines.push(
    recorded > 0
      ? `Recorded ${plural(recorded, 'message')} as accepted (${formatCount(t.foundNotSent)} of them not sent by Marketing Cloud, with the reason): apply will not send them again.`
      : 'Recorded nothing: Marketing Cloud knows none of the planned keys.',
  )
  if (t.unknown > 0) {
    lines.push(
      paint.yellow(
        `${plural(t.unknown, 'key')} unknown to the status endpoint: never sent, or sent more than ${report.reachDays} days ago (it sees no further back). apply sends them.`,
      ),
    )
  }
  if (report.backoffs > 0) lines.push(paint.dim(`Marketing Cloud asked to slow down ${plural(report.backoffs, 'time')}.`))
  if (report.interrupted) lines.push(paint.yellow('Interrupted: what was found so far is recorded; run it again to ask about the rest.'))
  return `${lines.join('\n')}\n`
}

/** The JSON document of `state recover --json` (schemas/state-recover.schema.json). */
export function toRecoverDocument(report: RecoverReport): Record<string, unknown> {
  return {
    state: report.state,
    sends: report.sends,
    totals: report.totals,
    interrupted: report.interrupted,
    backoffs: report.backoffs,
    reachDays: report.reachDays,
    ...(report.error === undefined ? {} : {error: {code: report.error.code, message: report.error.message}}),
  }
}
