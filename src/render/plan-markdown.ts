import {createTwoFilesPatch} from 'diff'

import {applyCommand} from './apply-command.js'
import type {Plan, PlannedSend} from '../plan/types.js'
import type {SendSnapshot} from '../state/types.js'
import {formatAttributeValue, formatCount, plural} from '../text/format.js'
import {escapeMarkdown, escapeMarkdownMasked, escapeTerminal, markdownCode, maskValue, type MaskOptions} from '../privacy/index.js'
import {renamedWarning, sampleMessages} from './plan-text.js'

/** Hidden first line of every Markdown plan, so a CI job can find and update its own pull-request comment. */
export const MARKDOWN_MARKER = '<!-- mcsend-plan -->'
/** GitHub rejects comments over 65,536 characters; stay well below it (the workflow may add a line or two). */
export const MARKDOWN_BUDGET = 60_000

export interface MarkdownOptions extends MaskOptions {
  /** Each send as last applied (`state.sends`), for the diff; absent: never applied. */
  previous: Readonly<Record<string, SendSnapshot | undefined>>
  /** Maximum length in characters. Default MARKDOWN_BUDGET. */
  budget?: number
  /** A saved plan's file name, to print the command that applies it. */
  planFile?: string
  /** The saved plan was made for the sandbox (its apply command needs --sandbox). */
  sandbox?: boolean
  toolVersion?: string
  /**
   * How the state stores a snapshot value (a value holding an address as a hash): applied to both sides of the diff,
   * so an unchanged hashed value compares equal and a changed one shows as changed.
   */
  storable?: (value: string) => string
}

/**
 * How much detail each send gets; the renderer steps down until the whole comment fits the budget. The diff since
 * the last apply is kept at every level (it is short: one line per shared attribute and source file).
 */
interface Detail {
  /** Requests listed one per row (the rest are counted). */
  batchRows: number
  samples: number
}

const LEVELS: Detail[] = [
  {batchRows: Number.POSITIVE_INFINITY, samples: 5},
  {batchRows: 20, samples: 5},
  {batchRows: 0, samples: 3},
  {batchRows: 0, samples: 0},
]

/**
 * The plan as GitHub-flavoured Markdown for a pull-request comment or a job summary: a marker, a title with the
 * totals, one summary row per send, then a collapsible block per send with its diff since it was last applied, its
 * requests and sample recipients. Never longer than the budget: details shrink first, then whole blocks are left
 * out with a note; the summary table is kept.
 */
export function renderPlanMarkdown(plan: Plan, options: MarkdownOptions): string {
  const budget = options.budget ?? MARKDOWN_BUDGET
  const head = renderHead(plan, options)
  const foot = renderFoot(plan, options)
  // The same at every level: computed once.
  const diffs = plan.sends.map((s) => renderDiff(s, options))
  for (const [i, level] of LEVELS.entries()) {
    const blocks = plan.sends.map((s, n) => renderSendDetails(s, level, diffs[n]!, options))
    const notes = i === 0 ? [] : [leftOutNote(plan, level, 0)]
    const doc = join(head, blocks, notes, foot)
    if (doc.length <= budget) return doc
  }
  // Still too long: keep whole blocks (at the smallest level) while they fit, and count the rest.
  const smallest = LEVELS.at(-1)!
  const kept: string[] = []
  let omitted = plan.sends.length
  const reserve = leftOutNote(plan, smallest, plan.sends.length).length + 4
  let used = join(head, [], [], foot).length + reserve
  for (const [n, send] of plan.sends.entries()) {
    const block = renderSendDetails(send, smallest, diffs[n]!, options)
    if (used + block.length + 2 > budget) break
    kept.push(block)
    used += block.length + 2
    omitted--
  }
  const doc = join(head, kept, [leftOutNote(plan, smallest, omitted)], foot)
  if (doc.length <= budget) return doc
  // The summary table alone is over budget (thousands of sends): keep as many rows as fit, and the totals.
  return join(renderHead(plan, options, budget - foot.length - 400), [], [leftOutNote(plan, smallest, plan.sends.length)], foot).slice(0, budget)
}

function join(head: string, blocks: string[], notes: string[], foot: string): string {
  return [head, ...blocks, ...notes, foot].filter((s) => s.length > 0).join('\n\n') + '\n'
}

function leftOutNote(plan: Plan, level: Detail, omittedBlocks: number): string {
  const left: string[] = []
  const requests = plan.sends.reduce((n, s) => n + Math.max(0, s.batches.length - level.batchRows), 0)
  if (requests > 0) left.push(`the list of ${plural(requests, 'request')}`)
  if (level.samples < LEVELS[0]!.samples) left.push(level.samples === 0 ? 'sample recipients' : 'some sample recipients')
  if (omittedBlocks > 0) left.push(`the details of ${plural(omittedBlocks, 'send')}`)
  if (left.length === 0) return ''
  return `> [!NOTE]\n> Left out to stay under GitHub's comment size limit: ${left.join(', ')}. The summary above is complete; \`mcsend show\` on the saved plan, or \`mcsend plan\`, prints everything.`
}

function renderHead(plan: Plan, options: MarkdownOptions, maxLength = Number.POSITIVE_INFINITY): string {
  const s = plan.summary
  const lines = [MARKDOWN_MARKER, `### ${title(plan)}`, '']
  const e = plan.environment
  if (e !== undefined) {
    const parts = [`**Environment** ${code(e.name, options)}`, e.tenant === undefined ? undefined : `tenant ${code(e.tenant, options)}`, e.accountId === undefined ? undefined : `business unit ${code(e.accountId, options)}`, e.protected ? 'protected' : undefined]
    lines.push(parts.filter((x) => x !== undefined).join(' · '), '')
  }
  lines.push('| send | definitionKey | revision | to send | already sent | retry | drift | requests |')
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|')
  const total = `| **total** | | | **${formatCount(s.toSend)}** | **${formatCount(s.noop)}** | **${formatCount(s.retry)}** | **${formatCount(s.drift)}** | **${formatCount(s.requests)}** |`
  let length = lines.join('\n').length + total.length + 200
  let shown = 0
  for (const send of plan.sends) {
    const c = send.counts
    const row = `| ${code(send.name, options)} | ${code(send.definitionKey, options)} | ${send.revision} | ${formatCount(c.toSend)} | ${formatCount(c.noop)} | ${formatCount(c.retry)} | ${formatCount(c.drift)} | ${formatCount(c.requests)} |`
    if (length + row.length + 1 > maxLength) break
    lines.push(row)
    length += row.length + 1
    shown++
  }
  if (shown < plan.sends.length) lines.push(`| … ${plural(plan.sends.length - shown, 'more send')} (counted in the total) | | | | | | | |`)
  if (plan.sends.length !== 1) lines.push(total)
  lines.push('')
  const warnings: string[] = []
  if (s.pending > 0) {
    warnings.push(`> [!WARNING]\n> ${plural(s.pending, 'message')} left pending by an interrupted run will be sent again with the same key; Marketing Cloud rejects a key it already accepted, so none is delivered twice.`)
  }
  for (const r of plan.renamed ?? []) {
    warnings.push(`> [!WARNING]\n> ${escapeMarkdown(renamedWarning(r).replace(/^warning: /, ''))}`)
  }
  if (s.drift > 0) {
    warnings.push(`> [!NOTE]\n> ${plural(s.drift, 'message')} drifted (address or attributes changed since they were sent); they are not re-sent. Bump \`revision\` to send again.`)
  }
  const masked = options.showAddresses ? '' : ' Email addresses are masked.'
  lines.push(`State: ${code(plan.state.location, options)}${plan.state.lineage === '' ? ' (new)' : ` serial ${plan.state.serial}`}.${masked}`)
  if (warnings.length > 0) lines.push('', warnings.join('\n\n'))
  return lines.join('\n')
}

function title(plan: Plan): string {
  const s = plan.summary
  if (s.toSend === 0) return `mcsend plan: nothing to send across ${plural(s.sends, 'send')}${s.noop > 0 ? ` (${formatCount(s.noop)} already sent)` : ''}`
  return `mcsend plan: ${plural(s.toSend, 'message')} to send in ${plural(s.requests, 'request')} across ${plural(s.sends, 'send')}`
}

function renderFoot(plan: Plan, options: MarkdownOptions): string {
  const parts: string[] = []
  if (options.planFile !== undefined && plan.summary.toSend > 0) parts.push(`Apply exactly this plan with ${code(applyCommand(options.planFile, options.sandbox), {showAddresses: true})}.`)
  parts.push(`<sub>mcsend${options.toolVersion === undefined ? '' : ` ${escapeMarkdown(options.toolVersion)}`}</sub>`)
  return parts.join(' ')
}

function renderSendDetails(send: PlannedSend, level: Detail, diff: string[], options: MaskOptions): string {
  const c = send.counts
  const what = c.toSend === 0 ? 'nothing to send' : `${formatCount(c.toSend)} to send in ${plural(c.requests, 'request')}`
  const out = [`<details><summary>${markdownCode(send.name)}: ${what} (${cell(send.file, options)}:${send.line})</summary>`, '']
  out.push(...diff, '')
  out.push(...renderBatches(send, level, options))
  if (level.samples > 0) {
    const samples = sampleMessages(send, level.samples)
    if (samples.length > 0) {
      out.push('', '| action | contactKey | to | messageKey |', '|---|---|---|---|')
      for (const m of samples) {
        const to = m.to === '' ? '' : cell(m.to, options)
        const reason = m.reason === undefined ? '' : ` (${cell(m.reason, options)})`
        out.push(`| ${m.action}${reason} | ${cell(m.contactKey, options)} | ${to} | ${code(m.messageKey, options)} |`)
      }
      if (c.total > samples.length) out.push('', `… and ${plural(c.total - samples.length, 'more recipient')}.`)
    }
  }
  out.push('', '</details>')
  return out.join('\n')
}

function renderBatches(send: PlannedSend, level: Detail, options: MaskOptions): string[] {
  if (send.batches.length === 0) return ['No request: every recipient was already sent.']
  const out = [`**Requests:** ${plural(send.batches.length, 'request')} of up to ${formatCount(send.batchSize)} messages.`]
  const rows = Math.min(send.batches.length, level.batchRows)
  if (rows > 0) {
    out.push('', '| request | messages | first messageKey | last messageKey |', '|--:|--:|---|---|')
    for (const b of send.batches.slice(0, rows)) {
      out.push(`| ${b.index} | ${formatCount(b.messages.length)} | ${code(b.messages[0]?.messageKey ?? '', options)} | ${code(b.messages.at(-1)?.messageKey ?? '', options)} |`)
    }
    if (send.batches.length > rows) out.push('', `… and ${plural(send.batches.length - rows, 'more request')}.`)
  }
  return out
}

/** The non-personal description of a send, one fact per line, as compared between two applies. */
function describeSendForDiff(s: Pick<SendSnapshot, 'name' | 'definitionKey' | 'revision' | 'attributes' | 'batchSize' | 'sources' | 'variables'>, options: MarkdownOptions): string {
  // Inside a code fence nothing is interpreted but control characters and line breaks: those are escaped.
  const stored = options.storable ?? ((value: string) => value)
  const safe = (value: string) => escapeTerminal(maskValue(stored(value), options))
  const storedEntries = (map: Readonly<Record<string, string | number | boolean>>) =>
    Object.entries(map)
      .map(([k, v]): [string, string | number | boolean] => [safe(k), typeof v === 'string' ? maskValue(stored(v), options) : v])
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const lines = [`name: ${safe(s.name)}`, `definitionKey: ${safe(s.definitionKey)}`, `revision: ${s.revision}`, `batchSize: ${s.batchSize}`]
  if (s.variables !== undefined) {
    lines.push('variables:')
    for (const [k, v] of storedEntries(s.variables)) lines.push(escapeTerminal(`  ${k}: ${formatAttributeValue(v)}`))
  }
  lines.push('attributes:')
  const attrs = storedEntries(s.attributes)
  if (attrs.length === 0) lines.push('  (none)')
  for (const [k, v] of attrs) lines.push(escapeTerminal(`  ${k}: ${formatAttributeValue(v)}`))
  lines.push('sources:')
  if (s.sources.length === 0) lines.push('  (inline only)')
  for (const d of s.sources) lines.push(`  ${safe(d.file)}  sha256:${safe(d.sha256)}`)
  return `${lines.join('\n')}\n`
}

function renderDiff(send: PlannedSend, options: MarkdownOptions): string[] {
  const before = options.previous[send.name]
  if (before === undefined) return ['**Never applied:** this is the first apply of this send.']
  if (before.name !== send.name) {
    // A new release of a templated send: compared with the last one applied (plan/build.ts previousSnapshots).
    const text = renderDiffBody(before, send, options)
    return [`**Never applied.** Changes since ${code(before.name, options)}, the last applied send named ${code(send.nameTemplate ?? '', options)} (${escapeMarkdown(before.appliedAt)}):`, '', ...text]
  }
  const oldText = describeSendForDiff(before, options)
  const newText = describeSendForDiff(send, options)
  if (oldText === newText) return [`**No change** since it was last applied (${escapeMarkdown(before.appliedAt)}).`]
  return [`**Changes since last applied** (${escapeMarkdown(before.appliedAt)}):`, '', ...renderDiffBody(before, send, options)]
}

function renderDiffBody(before: SendSnapshot, send: PlannedSend, options: MarkdownOptions): string[] {
  const oldText = describeSendForDiff(before, options)
  const newText = describeSendForDiff(send, options)
  const patch = createTwoFilesPatch(`${escapeTerminal(before.name)} (applied ${escapeTerminal(before.appliedAt)})`, `${escapeTerminal(send.name)} (this plan)`, oldText, newText, undefined, undefined, {context: 50})
  // Drop the `====` separator line; keep the ---/+++ headers and hunks.
  const body = patch.split('\n').filter((l) => !/^=+$/.test(l)).join('\n').trimEnd()
  const fence = fenceFor(body)
  return [`${fence}diff`, body, fence]
}

/** A code fence longer than any run of backticks inside (attribute values are user text). */
function fenceFor(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length))
  return '`'.repeat(Math.max(3, longest + 1))
}

/** Untrusted text in a table cell or a sentence: addresses masked, then escaped (no HTML, cell or line break, link, mention). */
function cell(s: string, options: MaskOptions): string {
  return escapeMarkdownMasked(s, options.showAddresses)
}

/** Characters that mean nothing in Markdown or HTML: such a value (slugs, derived messageKeys, paths) reads best as a code span. */
const PLAIN = /^[A-Za-z0-9._/-]+(?: [A-Za-z0-9._/-]+)*$/

/** Untrusted text as inline code: a code span when plain, else `<code>` around the escaped text (a backtick span could be closed from inside). */
function code(s: string, options: MaskOptions): string {
  return PLAIN.test(s) ? `\`${s}\`` : `<code>${escapeMarkdownMasked(s, options.showAddresses)}</code>`
}
