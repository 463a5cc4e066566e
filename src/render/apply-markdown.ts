import type {CanaryOutcome} from '../apply/canary.js'
import type {ApplyResult} from '../apply/execute.js'
import {canaryHeadline, canaryOutcomeLine} from './canary-text.js'
import {escapeMarkdownMasked} from '../privacy/index.js'
import {codeName} from '../sfmc/codes.js'
import {formatCount, plural} from '../text/format.js'

/** Hidden first line of the apply result, so a workflow can find its own comment on the merge. */
export const APPLY_MARKDOWN_MARKER = '<!-- mcsend-apply -->'

/** Where a CI run came from (GitHub Actions): the commit and a link to the run. */
export interface CiContext {
  commit?: string
  runUrl?: string
}

export interface ApplyMarkdownOptions {
  /** Where the messages went, in words (the approval's target). */
  target: string
  stateLocation: string
  ci?: CiContext
  /** The canary step, when the plan had one: skipped (--skip-canary), or its verdict and whether the rest went. */
  canary?: CanaryOutcome
}

/**
 * The result of `apply --format markdown`, for a comment on the merge: what happened and where, then the counts
 * (accepted, rejected by code, pending) and what to do next. It holds no recipient: only counts, Marketing
 * Cloud's error code names and the run's own facts.
 */
export function renderApplyMarkdown(result: ApplyResult, options: ApplyMarkdownOptions): string {
  const accepted = result.accepted + result.alreadyAccepted
  const stopped = options.canary !== undefined && !options.canary.skipped && !options.canary.continued
  const head = result.interrupted ? 'interrupted' : result.fatal ? 'stopped' : stopped ? 'stopped after the canary' : result.rejected + result.unknown > 0 ? 'finished with problems' : 'complete'
  const lines = [APPLY_MARKDOWN_MARKER, `### mcsend apply ${head}: ${plural(accepted, 'message')} accepted by ${escapeText(options.target)}`]
  const provenance = renderProvenance(options.ci)
  if (provenance !== '') lines.push('', provenance)
  lines.push('', '| outcome | messages |', '|---|--:|')
  lines.push(`| accepted | ${formatCount(accepted)} |`)
  if (result.alreadyAccepted > 0) lines.push(`| of them accepted by an earlier attempt (not delivered twice) | ${formatCount(result.alreadyAccepted)} |`)
  lines.push(`| rejected | ${formatCount(result.rejected)} |`)
  lines.push(`| pending (no answer; the next apply settles them) | ${formatCount(result.unknown)} |`)
  if (result.notAttempted > 0) lines.push(`| not attempted | ${formatCount(result.notAttempted)} |`)
  if (result.rejections.length > 0) {
    const byCode = new Map<string, number>()
    for (const r of result.rejections) {
      const key = r.errorCode === undefined ? 'no error code' : codeName(r.errorCode)
      byCode.set(key, (byCode.get(key) ?? 0) + 1)
    }
    lines.push('', '**Rejected by code**', '', '| code | messages |', '|---|--:|')
    for (const [label, n] of [...byCode.entries()].sort((a, b) => b[1] - a[1])) lines.push(`| ${escapeText(label)} | ${formatCount(n)} |`)
  }
  lines.push(...renderCanary(options.canary))
  if (result.fatal) lines.push('', `> [!CAUTION]\n> ${escapeText(result.fatal.message)}`)
  const next = result.interrupted || result.unknown > 0 || result.notAttempted > 0 || result.rejected > 0
  lines.push('', `State: ${inlineCode(options.stateLocation)}.${next ? ' Run the same apply again to send the rest: keys already accepted are never sent twice.' : ''}`)
  return `${lines.join('\n')}\n`
}

/** The canary's verdict and reasons (codes only, no recipient), or the loud note that it was skipped. */
function renderCanary(canary: CanaryOutcome | undefined): string[] {
  if (canary === undefined) return []
  if (canary.skipped) return ['', `> [!WARNING]\n> ${escapeText(canaryOutcomeLine(canary))}`]
  const text = `**Canary:** ${escapeText(canaryHeadline(canary.report))} ${escapeText(canaryOutcomeLine(canary))}`
  return ['', canary.continued ? text : `> [!CAUTION]\n> ${text}`]
}

/** "Commit `abc1234` · [CI run](…)", or '' outside CI. */
export function renderProvenance(ci: CiContext | undefined): string {
  const parts: string[] = []
  if (ci?.commit) parts.push(`Commit ${inlineCode(ci.commit.slice(0, 12))}`)
  if (ci?.runUrl) parts.push(`[CI run](${ci.runUrl.replaceAll(')', '%29').replaceAll(' ', '%20')})`)
  return parts.join(' · ')
}

/** Untrusted text in a sentence or a table cell: addresses masked, then escaped by the privacy layer (no HTML, link, mention, cell or line break). */
function escapeText(s: string): string {
  return escapeMarkdownMasked(s, false)
}

/** Characters that mean nothing in Markdown or HTML: such a value (paths, commits) reads best as a code span. */
const PLAIN = /^[A-Za-z0-9._/-]+(?: [A-Za-z0-9._/-]+)*$/

/** Untrusted text as inline code: a code span when plain, else `<code>` around the escaped, masked text. */
function inlineCode(s: string): string {
  return PLAIN.test(s) ? `\`${s}\`` : `<code>${escapeText(s)}</code>`
}
