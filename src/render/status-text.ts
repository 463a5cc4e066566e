import type {Paint} from './paint.js'
import type {StatusReport} from '../status/delivery.js'
import type {SendStatusCounts} from '../status/delivery.js'
import {escapeTerminal, maskAddresses} from '../privacy/index.js'
import {formatCount, plural} from '../text/format.js'
import {renderTable} from './state-table.js'

export interface StatusTextOptions {
  paint: Paint
}

/** Counts per send, then the not-sent reasons by code name, then what to do next. */
export function renderStatusText(report: StatusReport, options: StatusTextOptions): string {
  const {paint} = options
  const out: string[] = []
  if (report.sends.length === 0) {
    return `No messages in ${escapeTerminal(report.state)}: nothing to check.\n`
  }
  for (const s of report.sends) out.push(renderSendLine(s, paint))
  if (report.sends.length > 1) out.push(renderSendLine({send: 'total', ...report.totals}, paint))

  if (report.notSentReasons.length > 0) {
    out.push('', paint.bold('Not sent, by reason:'))
    const rows = report.notSentReasons.map((r) => {
      const [code, ...name] = r.reason.split(' ')
      const send = safe(r.send)
      return r.statusCode === undefined ? [send, '-', safe(r.reason), formatCount(r.count)] : [send, safe(code ?? ''), safe(name.join(' ')), formatCount(r.count)]
    })
    out.push(...renderTable(['SEND', 'CODE', 'REASON', 'MESSAGES'], rows, '  '))
  }

  const notes: string[] = []
  const t = report.totals
  if (t.tooOld > 0) notes.push(`${plural(t.tooOld, 'message')} accepted more than 3 days ago: unknown (too old to query); the status endpoint only answers for 3 days.`)
  if (t.notFound > 0) notes.push(`${plural(t.notFound, 'message')} recorded accepted, but Marketing Cloud does not know the key (never accepted, or older than its 3-day reach; another business unit? check MCSEND_ACCOUNT_ID).`)
  if (t.queued > 0) notes.push(`${plural(t.queued, 'message')} still queued: run \`mcsend status\` again later (a queued message can stay queued while its definition is Inactive).`)
  if (t.pending > 0) notes.push(`${plural(t.pending, 'message')} pending (left by an interrupted run): \`mcsend plan --refresh\` settles them.`)
  if (t.unchecked > 0) notes.push(`${plural(t.unchecked, 'message')} not checked in this run: run \`mcsend status\` again.`)
  if (report.unsaved > 0) notes.push(paint.yellow(`${plural(report.unsaved, 'answer')} not recorded: the state was locked by another run; the next \`mcsend status\` asks again.`))
  if (report.backoffs > 0) notes.push(`Marketing Cloud throttled the status requests ${plural(report.backoffs, 'time')}; the rate was lowered (see --rate).`)
  out.push('', `${paint.dim(`Checked ${formatCount(report.asked)} in this run; ${formatCount(report.alreadyKnown)} already known as sent or not sent (not asked again). State: ${escapeTerminal(report.state)}`)}`)
  if (notes.length > 0) out.push(...notes.map((n) => `note: ${n}`))
  return `${out.join('\n')}\n`
}

/** Text from the state (send names, reasons from Marketing Cloud): addresses masked, control characters escaped. */
function safe(text: string): string {
  return escapeTerminal(maskAddresses(text))
}

function renderSendLine(s: SendStatusCounts, paint: Paint): string {
  const parts: string[] = []
  if (s.sent > 0) parts.push(paint.green(`${formatCount(s.sent)} sent`))
  if (s.notSent > 0) parts.push(paint.red(`${formatCount(s.notSent)} not sent`))
  if (s.queued > 0) parts.push(paint.yellow(`${formatCount(s.queued)} queued`))
  if (s.tooOld > 0) parts.push(`${formatCount(s.tooOld)} unknown (too old to query)`)
  if (s.notFound > 0) parts.push(`${formatCount(s.notFound)} unknown (not found)`)
  if (s.unchecked > 0) parts.push(`${formatCount(s.unchecked)} not checked`)
  const rest: string[] = []
  if (s.pending > 0) rest.push(paint.yellow(`${formatCount(s.pending)} pending`))
  if (s.failed > 0) rest.push(paint.red(`${formatCount(s.failed)} rejected`))
  const accepted = `${formatCount(s.accepted)} accepted${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`
  return `${paint.bold(safe(s.send))}  ${accepted}${rest.length > 0 ? `; ${rest.join(', ')}` : ''}`
}
