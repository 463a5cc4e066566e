import type {Paint} from './paint.js'
import type {ApplyResult, Progress} from '../apply/execute.js'
import {codeName} from '../sfmc/codes.js'
import {formatDuration} from '../text/duration.js'
import {formatCount, plural} from '../text/format.js'
import {escapeTerminal, maskValue, type MaskOptions} from '../privacy/index.js'

export interface ApplySummaryOptions extends MaskOptions {
  paint: Paint
  stateLocation: string
  /** How many rejected recipients to list by name. */
  listRejected?: number
  /** The canary stopped the run: nothing after it was sent. */
  stoppedAfterCanary?: boolean
}

/** The closing report of an apply: counts, rejections grouped by code, and what to do next. */
export function renderApplySummary(result: ApplyResult, options: ApplySummaryOptions): string {
  const {paint} = options
  const lines: string[] = []
  const accepted = result.accepted + result.alreadyAccepted
  const parts = [paint.green(`${formatCount(accepted)} accepted`)]
  if (result.alreadyAccepted > 0) parts.push(`${formatCount(result.alreadyAccepted)} of them Marketing Cloud already had (109110): not re-delivered; bump revision to send again`)
  if (result.rejected > 0) parts.push(paint.red(`${formatCount(result.rejected)} rejected`))
  if (result.unknown > 0) parts.push(paint.yellow(`${formatCount(result.unknown)} unanswered (kept pending)`))
  if (result.notAttempted > 0) parts.push(paint.yellow(`${formatCount(result.notAttempted)} not attempted`))
  const head = result.interrupted ? 'Apply interrupted' : result.fatal ? 'Apply stopped' : options.stoppedAfterCanary ? 'Apply stopped after the canary' : 'Apply complete'
  lines.push(`${paint.bold(`${head}:`)} ${parts.join(', ')}.`)

  if (result.rejections.length > 0) {
    const byCode = new Map<string, number>()
    for (const r of result.rejections) {
      const key = r.errorCode === undefined ? 'no error code' : codeName(r.errorCode)
      byCode.set(key, (byCode.get(key) ?? 0) + 1)
    }
    lines.push('', `Rejected by Marketing Cloud (${formatCount(result.rejections.length)}):`)
    for (const [label, n] of [...byCode.entries()].sort((a, b) => b[1] - a[1])) lines.push(`  ${label}  ${paint.dim(`x${formatCount(n)}`)}`)
    const cap = options.listRejected ?? 10
    for (const r of result.rejections.slice(0, cap)) {
      const safe = (value: string) => escapeTerminal(maskValue(value, options))
      lines.push(`  ${paint.red('-')} ${safe(r.send)}  ${safe(r.contactKey)}  ${paint.dim(safe(r.messageKey))}  ${safe(r.errorMessage ?? '')}`)
    }
    if (result.rejections.length > cap) lines.push(paint.dim(`  … and ${formatCount(result.rejections.length - cap)} more (see \`mcsend plan\`: they show as retry)`))
  }
  lines.push('', paint.dim(`State saved to ${escapeTerminal(options.stateLocation)}.`))
  if (options.stoppedAfterCanary && !result.interrupted) {
    lines.push(paint.dim('Fix what the canary showed, then run the same apply again: it waits for the same canary (never re-sent) before the rest. --skip-canary sends the rest without it.'))
  } else if (result.interrupted || result.unknown > 0 || result.notAttempted > 0 || result.rejected > 0) {
    lines.push(paint.dim('Run the same apply again to send the rest: keys already accepted are never sent twice.'))
  }
  return `${lines.join('\n')}\n`
}

/** Throughput so far and the time left at that pace; undefined until a message is done and time has passed. */
export function progressPace(p: Progress, elapsedMs: number): {perSecond: number; etaSeconds: number} | undefined {
  if (p.messagesDone <= 0 || elapsedMs <= 0) return undefined
  const perSecond = p.messagesDone / (elapsedMs / 1000)
  return {perSecond, etaSeconds: Math.max(0, p.messagesTotal - p.messagesDone) / perSecond}
}

/** "1,234 msg/s" and "ETA 1m 05s" (or "-" while unknown), for the bar and the plain lines. */
export function formatPace(p: Progress, elapsedMs: number): {rate: string; eta: string} {
  const pace = progressPace(p, elapsedMs)
  if (pace === undefined) return {rate: '- msg/s', eta: '-'}
  const rate = pace.perSecond >= 10 ? formatCount(Math.round(pace.perSecond)) : pace.perSecond.toFixed(1)
  return {rate: `${rate} msg/s`, eta: p.messagesDone >= p.messagesTotal ? 'done' : formatDuration(pace.etaSeconds)}
}

/** One plain progress line (no terminal): batches, messages, rejections, and with `elapsedMs` the rate and ETA. */
export function renderProgressLine(p: Progress, elapsedMs?: number): string {
  const pct = p.messagesTotal === 0 ? 100 : Math.floor((p.messagesDone / p.messagesTotal) * 100)
  const line = `Batch ${formatCount(p.batchesDone)}/${formatCount(p.batchesTotal)}  ${formatCount(p.messagesDone)}/${formatCount(p.messagesTotal)} sent (${pct}%)  ${plural(p.rejected, 'rejection')}`
  if (elapsedMs === undefined) return line
  const pace = formatPace(p, elapsedMs)
  return `${line}  ${pace.rate}  ETA ${pace.eta}`
}
