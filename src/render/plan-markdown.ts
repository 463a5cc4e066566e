import {createTwoFilesPatch} from 'diff'

import {applyCommand} from './apply-command.js'
import type {Plan, PlannedSend, SourceCount} from '../plan/types.js'
import type {SendSnapshot, StateTarget} from '../state/types.js'
import {formatAttributeValue, formatCount, plural} from '../text/format.js'
import {escapeMarkdown, escapeMarkdownMasked, escapeTerminal, maskValue, type MaskOptions} from '../privacy/index.js'
import {renamedWarning, sampleMessages} from './plan-text.js'
import {describeCanaryStep} from './canary-text.js'
import {renderProvenance, type CiContext} from './apply-markdown.js'

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
  /** The plan is for the sandbox (plan --sandbox; its apply command needs --sandbox). */
  sandbox?: boolean
  /** What the plan is for: the target the state recorded, or what the credentials say; absent: unknown here. */
  target?: StateTarget
  /** The commit and the CI run (GitHub Actions), printed under the title. */
  ci?: CiContext
  toolVersion?: string
  /**
   * How the state stores a snapshot value (a value holding an address as a hash): applied to both sides of the diff,
   * so an unchanged hashed value compares equal and a changed one shows as changed.
   */
  storable?: (value: string) => string
}

/**
 * How much detail each send gets; the renderer steps down until the whole comment fits the budget. The diff since
 * the last apply, the shared attributes and the sources are kept at every level (capped at `rows` rows each).
 */
interface Detail {
  /** Sample recipients per send. */
  samples: number
  /** The sample's messageKeys, in a collapsed block. */
  keys: boolean
  /** Rows of the attribute, variable and source tables (the rest are counted). */
  rows: number
}

const LEVELS: Detail[] = [
  {samples: 5, keys: true, rows: Number.POSITIVE_INFINITY},
  {samples: 3, keys: false, rows: Number.POSITIVE_INFINITY},
  {samples: 0, keys: false, rows: 20},
  {samples: 0, keys: false, rows: 5},
]

/** Per-recipient attribute columns of the sample table; more are counted under it. */
const SAMPLE_ATTRIBUTE_COLUMNS = 6
/** Code points of one attribute value shown (after masking); a longer value is cut with its length. */
const VALUE_LENGTH = 120

/**
 * The plan as GitHub-flavoured Markdown for a pull-request comment or a job summary, written for the reviewer who
 * approves the merge: a marker; a title saying what merging sends and to which target; the commit and CI run; one
 * summary row per send; then per send its diff since it was last applied, its shared attributes and variables, its
 * recipients per source, its requests in one line and a masked sample of recipients with their attributes (their
 * messageKeys collapsed). Never longer than the budget: details shrink first, then whole sends are left out with a
 * note; the title and the summary table are kept.
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
  const full = LEVELS[0]!
  const left: string[] = []
  const anyMessages = plan.sends.some((s) => s.counts.total > 0)
  if (anyMessages && level.samples < full.samples) left.push(level.samples === 0 ? 'sample recipients' : 'some sample recipients')
  if (anyMessages && !level.keys && level.samples > 0) left.push('the sample messageKeys')
  const cut = plan.sends.reduce((n, s) => n + Math.max(0, tableRows(s) - level.rows), 0)
  if (cut > 0) left.push(`${plural(cut, 'row')} of attribute, variable and source tables`)
  if (omittedBlocks > 0) left.push(`the details of ${plural(omittedBlocks, 'send')}`)
  if (left.length === 0) return ''
  return `> [!NOTE]\n> Left out to stay under GitHub's comment size limit: ${left.join(', ')}. The summary above is complete; \`mcsend show\` on the saved plan, or \`mcsend plan\`, prints everything.`
}

/** The rows a send's attribute, variable and source tables have in full. */
function tableRows(send: PlannedSend): number {
  return Object.keys(send.attributes).length + Object.keys(send.variables ?? {}).length + sourceCounts(send).length
}

function renderHead(plan: Plan, options: MarkdownOptions, maxLength = Number.POSITIVE_INFINITY): string {
  const s = plan.summary
  const lines = [MARKDOWN_MARKER, `### ${title(plan, options)}`, '']
  const provenance = renderProvenance(options.ci)
  if (provenance !== '') lines.push(provenance, '')
  const masked = options.showAddresses ? '' : ' Email addresses are masked.'
  lines.push(`${totals(plan)} State: ${code(plan.state.location, options)}${plan.state.lineage === '' ? ' (new)' : ` serial ${plan.state.serial}`}.${masked}`, '')
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
  if (warnings.length > 0) lines.push('', warnings.join('\n\n'))
  return lines.join('\n')
}

/** What merging does, in one line: `Merging sends 12,000 emails to the environment `prod` (…)`. */
function title(plan: Plan, options: MarkdownOptions): string {
  const where = targetWords(plan, options)
  const n = plan.summary.toSend
  return n === 0 ? `Merging sends nothing to ${where}` : `Merging sends ${plural(n, 'email')} to ${where}`
}

/**
 * The target in words: the sandbox; the environment of the project file with its tenant and business unit; the
 * tenant (auth host) and business unit of the credentials; or, without credentials, that this run cannot name it.
 */
function targetWords(plan: Plan, options: MarkdownOptions): string {
  const t = options.target
  const e = plan.environment
  const env = e === undefined ? '' : `the ${e.protected ? 'protected ' : ''}environment ${code(e.name, options)}`
  if (options.sandbox || t?.kind === 'sandbox') return env === '' ? 'the sandbox' : `the sandbox (${env})`
  const tenant = t?.kind === 'marketing-cloud' ? t.authHost : e?.tenant
  const unit = t?.kind === 'marketing-cloud' ? (t.accountId ?? e?.accountId) : e?.accountId
  const parts: string[] = []
  if (tenant !== undefined) parts.push(`Marketing Cloud tenant ${code(tenant, options)}`)
  if (unit !== undefined) parts.push(`business unit ${code(unit, options)}`)
  else if (tenant !== undefined) parts.push("the credentials' default business unit")
  const account = parts.join(', ')
  if (env !== '') return account === '' ? env : `${env} (${account})`
  if (account !== '') return account
  return "the Marketing Cloud account of the apply job's credentials (this run has none, so it cannot name the tenant)"
}

/** `100,001 messages in 201 requests across 1 send (3 retries, 600 already sent).` */
function totals(plan: Plan): string {
  const s = plan.summary
  const sends = plural(s.sends, 'send')
  const suppressed = s.suppressed !== undefined && s.suppressed > 0 ? `${formatCount(s.suppressed)} suppressed` : undefined
  if (s.toSend === 0) {
    const extra = [s.noop > 0 ? `${formatCount(s.noop)} already sent` : undefined, suppressed].filter((x) => x !== undefined)
    return `Nothing to send across ${sends}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}.`
  }
  const extra: string[] = []
  if (s.retry > 0) extra.push(`${plural(s.retry, 'retry', 'retries')}`)
  if (s.noop > 0) extra.push(`${formatCount(s.noop)} already sent`)
  if (s.drift > 0) extra.push(`${formatCount(s.drift)} drifted, not re-sent`)
  if (suppressed !== undefined) extra.push(suppressed)
  return `**${plural(s.toSend, 'message')}** in ${plural(s.requests, 'request')} across ${sends}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}.`
}

function renderFoot(plan: Plan, options: MarkdownOptions): string {
  const parts: string[] = []
  if (options.planFile !== undefined && plan.summary.toSend > 0) parts.push(`Apply exactly this plan with ${code(applyCommand(options.planFile, options.sandbox), {showAddresses: true})}.`)
  parts.push(`<sub>mcsend${options.toolVersion === undefined ? '' : ` ${escapeMarkdown(options.toolVersion)}`}</sub>`)
  return parts.join(' ')
}

function renderSendDetails(send: PlannedSend, level: Detail, diff: string[], options: MaskOptions): string {
  const c = send.counts
  const what = c.toSend === 0 ? `nothing to send${c.noop > 0 ? ` (${formatCount(c.noop)} already sent)` : ''}` : `${formatCount(c.toSend)} to send in ${plural(c.requests, 'request')}`
  const out = [`#### ${code(send.name, options)}: ${what}`, '']
  out.push(`${code(send.file, options)} line ${send.line} · definitionKey ${code(send.definitionKey, options)} · revision ${send.revision}`, '')
  out.push(...diff, '')
  out.push(...renderAttributes(send, level, options), '')
  out.push(...renderSources(send, level, options), '')
  if (send.suppression !== undefined) out.push(...renderSuppression(send, level, options), '')
  out.push(renderRequests(send))
  // The canary is its own step: a reviewer sees that these go first and that the rest waits for them.
  if (send.canary !== undefined) out.push('', `**Canary step:** ${escapeMarkdown(describeCanaryStep(send.canary).replace(/^canary: /, ''))}.`)
  if (level.samples > 0) out.push(...renderSample(send, level, options))
  return out.join('\n')
}

function renderAttributes(send: PlannedSend, level: Detail, options: MaskOptions): string[] {
  const attrs = Object.entries(send.attributes)
  const out = attrs.length === 0 ? ['**Shared attributes:** none.'] : ['**Shared attributes** (the same in every email of this send):', '', '| attribute | value |', '|---|---|']
  for (const [k, v] of attrs.slice(0, level.rows)) out.push(`| ${code(shorten(k, options), options)} | ${value(v, options)} |`)
  if (attrs.length > level.rows) out.push('', `… and ${plural(attrs.length - level.rows, 'more attribute')}.`)
  const vars = Object.entries(send.variables ?? {})
  if (vars.length > 0) {
    out.push('', '**Variables:**', '', '| variable | value | from |', '|---|---|---|')
    for (const [k, v] of vars.slice(0, level.rows)) out.push(`| ${code(shorten(k, options), options)} | ${value(v, options)} | ${code(send.variableSources?.[k] ?? 'default', options)} |`)
    if (vars.length > level.rows) out.push('', `… and ${plural(vars.length - level.rows, 'more variable')}.`)
  }
  return out
}

/** Recipients per source: from the plan, or counted from the messages (a plan saved before it was recorded). */
function sourceCounts(send: PlannedSend): SourceCount[] {
  if (send.bySource !== undefined) return send.bySource
  const out = new Map<string, SourceCount>()
  for (const m of [...send.batches.flatMap((b) => b.messages), ...send.unchanged]) {
    let c = out.get(m.file)
    if (c === undefined) out.set(m.file, (c = {file: m.file, inline: m.file === send.file, total: 0, create: 0, retry: 0, noop: 0, drift: 0}))
    c.total++
    c[m.action]++
  }
  return [...out.values()]
}

function renderSources(send: PlannedSend, level: Detail, options: MaskOptions): string[] {
  const sources = sourceCounts(send)
  if (sources.length === 0) return ['**Recipients:** none.']
  const drift = send.counts.drift > 0
  const out = ['**Recipients by source:**', '', `| source | recipients | to send | already sent |${drift ? ' drifted |' : ''}`, `|---|--:|--:|--:|${drift ? '--:|' : ''}`]
  for (const s of sources.slice(0, level.rows)) {
    const where = s.inline ? `inline in ${code(s.file, options)}` : code(s.file, options)
    out.push(`| ${where} | ${formatCount(s.total)} | ${formatCount(s.create + s.retry)} | ${formatCount(s.noop)} |${drift ? ` ${formatCount(s.drift)} |` : ''}`)
  }
  if (sources.length > level.rows) {
    const rest = sources.slice(level.rows).reduce((n, s) => n + s.total, 0)
    out.push('', `… and ${plural(sources.length - level.rows, 'more source')} (${plural(rest, 'recipient')}).`)
  }
  return out
}

/** Per suppression source: how many recipients it left out (never sent), and how many of those were sent before. Counts only. */
function renderSuppression(send: PlannedSend, level: Detail, options: MaskOptions): string[] {
  const lists = send.suppression ?? []
  const out = ['**Suppressed** (left out of every request):', '', '| suppression source | lists | suppressed | of them sent before |', '|---|---|--:|--:|']
  for (const c of lists.slice(0, Math.max(1, level.rows))) {
    const what = [c.match === 'to' ? 'addresses' : 'contactKeys', c.hashed ? 'hashed' : undefined, c.scope === 'project' ? 'for every send' : undefined].filter((x) => x !== undefined).join(', ')
    out.push(`| ${code(c.file, options)} | ${what} | ${formatCount(c.suppressed)} | ${formatCount(c.alreadySent)} |`)
  }
  if (lists.length > Math.max(1, level.rows)) {
    const rest = lists.slice(Math.max(1, level.rows)).reduce((n, c) => n + c.suppressed, 0)
    out.push('', `… and ${plural(lists.length - Math.max(1, level.rows), 'more suppression source')} (${formatCount(rest)} suppressed).`)
  }
  return out
}

/** `**Requests:** 201 requests: 200 of 500 messages and 1 of 1.` — one line, never a row per request. */
function renderRequests(send: PlannedSend): string {
  if (send.batches.length === 0) return send.counts.total === 0 ? '**Requests:** none: the send has no recipients.' : '**Requests:** none: every recipient was already sent.'
  const bySize = new Map<number, number>()
  for (const b of send.batches) bySize.set(b.messages.length, (bySize.get(b.messages.length) ?? 0) + 1)
  const runs = [...bySize.entries()]
  const first = runs[0]!
  if (runs.length === 1) return `**Requests:** ${plural(first[1], 'request')} of ${plural(first[0], 'message')}.`
  const rest = runs.slice(1).map(([size, n]) => `${formatCount(n)} of ${formatCount(size)}`)
  return `**Requests:** ${plural(send.batches.length, 'request')}: ${formatCount(first[1])} of ${plural(first[0], 'message')} and ${rest.join(' and ')}.`
}

function renderSample(send: PlannedSend, level: Detail, options: MaskOptions): string[] {
  const samples = sampleMessages(send, level.samples)
  if (samples.length === 0) return []
  const c = send.counts
  // A saved plan holds no address: the `to` column is left out there.
  const withTo = samples.some((m) => m.to !== '')
  const names: string[] = []
  for (const m of samples) for (const k of Object.keys(m.attributes ?? {})) if (!names.includes(k)) names.push(k)
  const columns = names.slice(0, SAMPLE_ATTRIBUTE_COLUMNS)
  const header = ['action', 'contactKey', ...(withTo ? ['to'] : []), ...columns.map((k) => cell(shorten(k, options), options))]
  const out = ['', `**Sample recipients** (${formatCount(samples.length)} of ${formatCount(c.total)}):`, '', `| ${header.join(' | ')} |`, `|${header.map(() => '---|').join('')}`]
  for (const m of samples) {
    const reason = m.reason === undefined ? '' : ` (${cell(shorten(m.reason, options), options)})`
    const row = [`${m.action}${reason}`, cell(m.contactKey, options), ...(withTo ? [m.to === '' ? '' : cell(m.to, options)] : [])]
    for (const k of columns) {
      const v = m.attributes?.[k]
      row.push(v === undefined ? '' : value(v, options))
    }
    out.push(`| ${row.join(' | ')} |`)
  }
  if (names.length > columns.length) out.push('', `Per-recipient attributes not shown: ${plural(names.length - columns.length, 'more')}.`)
  if (c.total > samples.length) out.push('', `… and ${plural(c.total - samples.length, 'more recipient')}.`)
  if (level.keys) {
    out.push('', '<details><summary>messageKeys of these recipients</summary>', '', '| contactKey | messageKey |', '|---|---|')
    for (const m of samples) out.push(`| ${cell(m.contactKey, options)} | ${code(m.messageKey, options)} |`)
    out.push('', '</details>')
  }
  return out
}

/** An attribute value for a table cell: addresses masked, cut to VALUE_LENGTH; a code span when plain, else escaped. */
function value(v: string | number | boolean, options: MaskOptions): string {
  if (typeof v !== 'string') return String(v)
  if (v === '') return '(empty)'
  const {text, length} = cut(v, options)
  return `${code(text, options)}${length === undefined ? '' : ` (${formatCount(length)} characters)`}`
}

/** Short untrusted text (a name, a reason): masked and cut like a value, the length said inline. */
function shorten(text: string, options: MaskOptions): string {
  const shown = cut(text, options)
  return shown.length === undefined ? shown.text : `${shown.text} (${formatCount(shown.length)} characters)`
}

/** Masks first (no half address survives the cut), then cuts to VALUE_LENGTH code points; `length` of the original when cut. */
function cut(text: string, options: MaskOptions): {text: string; length?: number} {
  const masked = maskValue(text, options)
  if (masked.length <= VALUE_LENGTH) return {text: masked}
  const points = Array.from(masked)
  if (points.length <= VALUE_LENGTH) return {text: masked}
  return {text: `${points.slice(0, VALUE_LENGTH).join('')}…`, length: Array.from(text).length}
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
    const text = renderDiffBody(before, send, describeSendForDiff(before, options), describeSendForDiff(send, options))
    return [`**Never applied.** Changes since ${code(before.name, options)}, the last applied send named ${code(send.nameTemplate ?? '', options)} (${escapeMarkdown(before.appliedAt)}):`, '', ...text]
  }
  const oldText = describeSendForDiff(before, options)
  const newText = describeSendForDiff(send, options)
  if (oldText === newText) return [`**No change** since it was last applied (${escapeMarkdown(before.appliedAt)}).`]
  return [`**Changes since last applied** (${escapeMarkdown(before.appliedAt)}):`, '', ...renderDiffBody(before, send, oldText, newText)]
}

/** The unified diff of the two descriptions (describeSendForDiff), each built once by the caller. */
function renderDiffBody(before: SendSnapshot, send: PlannedSend, oldText: string, newText: string): string[] {
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
