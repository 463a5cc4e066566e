import {describeCanaryStep} from './canary-text.js'
import type {Paint} from './paint.js'
import type {Plan, PlanEnvironment, PlannedMessage, PlannedSend, RenamedSendWarning, SuppressionCount} from '../plan/types.js'
import {formatAttributeValue, formatCount, plural} from '../text/format.js'
import {escapeTerminal, maskAttributes, maskValue, type MaskOptions} from '../privacy/index.js'

export interface TextRenderOptions extends MaskOptions {
  paint: Paint
  /** How many sample recipients to show per send. */
  samples?: number
}

const SYMBOL = {create: '+', retry: '~', noop: '=', drift: '!'} as const

/** The human-readable plan: one block per send, then one closing line. */
export function renderPlanText(plan: Plan, options: TextRenderOptions): string {
  const out: string[] = []
  if (plan.environment !== undefined) out.push(options.paint.bold(describeEnvironment(plan.environment)), '')
  for (const send of plan.sends) out.push(...renderSend(send, options), '')
  out.push(...renderWarnings(plan, options))
  out.push(closingLine(plan, options.paint))
  return `${out.join('\n')}\n`
}

function renderSend(send: PlannedSend, options: TextRenderOptions): string[] {
  const {paint} = options
  const c = send.counts
  const lines = [`${paint.bold(`send ${escapeTerminal(send.name)}`)}  ${paint.dim(`(${escapeTerminal(maskValue(send.file, options))}:${send.line})`)}`]
  lines.push(`  definitionKey  ${terminalValue(send.definitionKey, options)}`)
  lines.push(`  revision       ${send.revision}`)
  const attrs = Object.entries(maskAttributes(send.attributes, options))
  lines.push(`  attributes     ${attrs.length === 0 ? paint.dim('(none)') : attrs.map(([k, v]) => escapeTerminal(`${k}=${formatAttributeValue(v)}`)).join(', ')}`)
  if (send.variables !== undefined) {
    const vars = Object.entries(maskAttributes(send.variables, options))
    const from = (name: string) => paint.dim(` (${escapeTerminal(maskValue(send.variableSources?.[name] ?? 'default', options))})`)
    lines.push(`  variables      ${vars.map(([k, v]) => `${escapeTerminal(`${k}=${formatAttributeValue(v)}`)}${from(k)}`).join(', ')}`)
  }
  const parts = [
    c.create > 0 ? paint.green(`${formatCount(c.create)} to create`) : undefined,
    c.retry > 0 ? paint.yellow(`${formatCount(c.retry)} to retry`) : undefined,
    c.noop > 0 ? `${formatCount(c.noop)} already sent` : undefined,
    c.drift > 0 ? paint.yellow(`${formatCount(c.drift)} drifted (not re-sent)`) : undefined,
  ].filter((x): x is string => x !== undefined)
  lines.push(`  messages       ${formatCount(c.total)}${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`)
  // Where the recipients came from: each file, and the inline list (named by its manifest).
  const sources = (send.bySource ?? []).map((s) => `${escapeTerminal(maskValue(s.inline ? `inline (${s.file})` : s.file, options))} ${formatCount(s.total)}`)
  if (sources.length > 0) lines.push(`  sources        ${sources.join(', ')}`)
  lines.push(...suppressionLines(send, options))
  if (send.batches.length === 0) {
    lines.push(`  requests       ${paint.dim('none: nothing to send')}`)
  } else {
    lines.push(`  requests       ${plural(send.batches.length, 'request')} of up to ${formatCount(send.batchSize)}: ${batchSizes(send)}`)
  }
  // The canary is its own step: its requests go first and apply waits for them before the others.
  if (send.canary !== undefined) lines.push(`  ${paint.cyan(describeCanaryStep(send.canary).replace(/^canary: /, 'canary         '))}`)
  const samples = sampleMessages(send, options.samples ?? 3)
  if (samples.length > 0) {
    lines.push('  sample')
    for (const m of samples) lines.push(`    ${symbol(m, paint)} ${describe(m, options)}`)
    const shown = samples.length
    const rest = c.total - shown
    if (rest > 0) lines.push(paint.dim(`    … and ${formatCount(rest)} more`))
  }
  return lines
}

/** One line per suppression source: how many it left out, and how many of those were sent before it named them. */
export function suppressionLines(send: PlannedSend, options: TextRenderOptions): string[] {
  const lines: string[] = []
  for (const [i, c] of (send.suppression ?? []).entries()) {
    const label = i === 0 ? '  suppressed     ' : '                 '
    lines.push(`${label}${describeSuppression(c, (f) => terminalValue(f, options))}`)
  }
  return lines
}

/** `3 by suppress/optout.csv (addresses, hashed; mcsend.yaml), 1 of them already sent before`. */
export function describeSuppression(c: SuppressionCount, file: (f: string) => string): string {
  const what = [c.match === 'to' ? 'addresses' : 'contactKeys', c.hashed ? 'hashed' : undefined, c.scope === 'project' ? 'for every send' : undefined].filter((x) => x !== undefined).join(', ')
  const sent = c.alreadySent > 0 ? `; ${formatCount(c.alreadySent)} of them already sent before they were suppressed` : ''
  return `${formatCount(c.suppressed)} by ${file(c.file)} (${what})${sent}`
}

function batchSizes(send: PlannedSend): string {
  const sizes = send.batches.map((b) => b.messages.length)
  // Runs of equal sizes collapse: "2,000 x 49, 1,234".
  const runs: string[] = []
  let i = 0
  while (i < sizes.length) {
    let j = i
    while (j + 1 < sizes.length && sizes[j + 1] === sizes[i]) j++
    const n = j - i + 1
    runs.push(n > 1 ? `${formatCount(sizes[i]!)} x ${n}` : formatCount(sizes[i]!))
    i = j + 1
  }
  return runs.join(', ')
}

/** The first `n` messages of a send: those to send first, then unchanged ones. */
export function sampleMessages(send: PlannedSend, n: number): PlannedMessage[] {
  const out: PlannedMessage[] = []
  for (const b of send.batches) {
    for (const m of b.messages) {
      if (out.length >= n) return out
      out.push(m)
    }
  }
  for (const m of send.unchanged) {
    if (out.length >= n) break
    out.push(m)
  }
  return out
}

function symbol(m: PlannedMessage, paint: Paint): string {
  const s = SYMBOL[m.action]
  if (m.action === 'create') return paint.green(s)
  if (m.action === 'noop') return paint.dim(s)
  return paint.yellow(s)
}

/** A value from a manifest, a data file or the state, for a terminal: addresses masked, control characters escaped. */
export function terminalValue(value: string, options: MaskOptions): string {
  return escapeTerminal(maskValue(value, options))
}

function describe(m: PlannedMessage, options: TextRenderOptions): string {
  // A saved plan holds no address: `to` is empty there.
  const contact = terminalValue(m.contactKey, options)
  const who = m.to === '' ? contact : `${contact} <${terminalValue(m.to, options)}>`
  const reason = m.reason ? options.paint.dim(` (${terminalValue(m.reason, options)})`) : ''
  return `${m.action.padEnd(6)} ${who}  ${options.paint.dim(terminalValue(m.messageKey, options))}${reason}`
}

function renderWarnings(plan: Plan, options: TextRenderOptions): string[] {
  const lines: string[] = []
  if (plan.summary.pending > 0) {
    lines.push(
      options.paint.yellow(
        `warning: ${plural(plan.summary.pending, 'message')} left pending by an interrupted run will be sent again with the same key; Marketing Cloud rejects a key it already accepted within 72 h, so none is delivered twice. Run with --refresh to ask Marketing Cloud which of them it accepted.`,
      ),
      '',
    )
  }
  for (const r of plan.renamed ?? []) {
    lines.push(options.paint.yellow(escapeTerminal(renamedWarning(r))), '')
  }
  if (plan.summary.drift > 0) {
    lines.push(options.paint.yellow(`note: ${plural(plan.summary.drift, 'message')} drifted since they were sent; they are not re-sent (bump revision to send again).`), '')
  }
  return lines
}

export function renamedWarning(r: RenamedSendWarning): string {
  return `warning: send ${r.send} was never applied, but ${r.appliedAs} (applied ${r.appliedAt}) has the same definitionKey and recipient file. If ${r.send} is ${r.appliedAs} renamed, every recipient would get the email again: keep the old name to send only to new recipients.`
}

/** `environment prod: tenant mc-prod, business unit 123456 (protected)`, for plans and prompts. */
export function describeEnvironment(e: PlanEnvironment): string {
  const parts = [e.tenant === undefined ? undefined : `tenant ${e.tenant}`, e.accountId === undefined ? undefined : `business unit ${e.accountId}`].filter((x) => x !== undefined)
  // The project file is repository content: shown escaped like any other.
  return escapeTerminal(`environment ${e.name}${parts.length === 0 ? '' : `: ${parts.join(', ')}`}${e.protected ? ' (protected)' : ''}`)
}

export function closingLine(plan: Plan, paint: Paint): string {
  const s = plan.summary
  const sends = plural(s.sends, 'send')
  const suppressed = s.suppressed !== undefined && s.suppressed > 0 ? `${formatCount(s.suppressed)} suppressed` : undefined
  if (s.toSend === 0) {
    const extra = [s.noop > 0 ? `${formatCount(s.noop)} already sent` : undefined, suppressed].filter((x) => x !== undefined)
    return paint.bold(`Plan: nothing to send across ${sends}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}.`)
  }
  const extra: string[] = []
  if (s.retry > 0) extra.push(`${formatCount(s.retry)} retries`)
  if (s.noop > 0) extra.push(`${formatCount(s.noop)} already sent`)
  if (s.drift > 0) extra.push(`${formatCount(s.drift)} drifted`)
  if (suppressed !== undefined) extra.push(suppressed)
  return paint.bold(
    `Plan: ${plural(s.toSend, 'message')} to send in ${plural(s.requests, 'request')} across ${sends}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}.`,
  )
}
