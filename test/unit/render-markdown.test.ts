import {describe, expect, it} from 'vitest'

import {buildPlan} from '../../src/plan/build.js'
import {hashAttributes, hashTo} from '../../src/keys/hash.js'
import {UsageError} from '../../src/errors.js'
import {resolveFormat} from '../../src/render/output-format.js'
import {MARKDOWN_BUDGET, MARKDOWN_MARKER, renderPlanMarkdown} from '../../src/render/plan-markdown.js'
import type {SendSnapshot} from '../../src/state/types.js'
import {emptyState, makeSend, manyRecipients, recipient} from '../helpers/sends.js'

const opts = {stateLocation: '.mcsend/state.json'}
const sha = (c: string) => c.repeat(64)

const send = makeSend({
  name: 'release-4-2-notes',
  definitionKey: 'release-notes',
  revision: 2,
  attributes: {ReleaseVersion: '4.2.0', Owner: 'owner@example.com'},
  batchSize: 500,
  sources: [{file: 'sends/customers.csv', sha256: sha('b')}],
  recipients: [recipient('ann@example.com', 'ann@example.com', {FirstName: 'Ann'}), ...manyRecipients(1199)],
})

const snapshot: SendSnapshot = {
  name: 'release-4-2-notes',
  definitionKey: 'release-notes',
  revision: 1,
  attributes: {ReleaseVersion: '4.1.0', Owner: 'owner@example.com'},
  batchSize: 500,
  sources: [{file: 'sends/customers.csv', sha256: sha('a')}],
  appliedAt: '2025-06-01T10:00:00.000Z',
}

/** The body of every ```diff fence. */
function diffBlocks(md: string): string[] {
  return [...md.matchAll(/^(`{3,})diff\n([\s\S]*?)\n\1$/gm)].map((m) => m[2]!)
}

/** Structural validity: balanced <details>, closed fences, table rows with the header's column count. */
function expectWellFormed(md: string): void {
  expect((md.match(/<details>/g) ?? []).length).toBe((md.match(/<\/details>/g) ?? []).length)
  expect((md.match(/^```/gm) ?? []).length % 2).toBe(0)
  const lines = md.split('\n')
  for (const [i, line] of lines.entries()) {
    if (/^\|[-:|]+\|$/.test(line)) {
      const cols = (lines[i - 1]!.match(/(?<!\\)\|/g) ?? []).length
      for (let j = i + 1; j < lines.length && lines[j]!.startsWith('|'); j++) expect((lines[j]!.match(/(?<!\\)\|/g) ?? []).length).toBe(cols)
    }
  }
}

describe('renderPlanMarkdown', () => {
  it('starts with the marker and a title with the totals, then one summary row per send', () => {
    const other = makeSend({name: 'beta-invite', definitionKey: 'beta', recipients: manyRecipients(3)})
    const md = renderPlanMarkdown(buildPlan([send, other], emptyState(), opts), {showAddresses: false, previous: {}})
    const lines = md.split('\n')
    expect(lines[0]).toBe(MARKDOWN_MARKER)
    expect(lines[1]).toBe('### mcsend plan: 1,203 messages to send in 4 requests across 2 sends')
    expect(md).toContain('| send | definitionKey | revision | to send | already sent | retry | drift | requests |')
    expect(md).toContain('| `release-4-2-notes` | `release-notes` | 2 | 1,200 | 0 | 0 | 0 | 3 |')
    expect(md).toContain('| `beta-invite` | `beta` | 1 | 3 | 0 | 0 | 0 | 1 |')
    expect(md).toContain('| **total** | | | **1,203** | **0** | **0** | **0** | **4** |')
    expect((md.match(/<details><summary>/g) ?? []).length).toBe(2)
    expect(md).toContain('| 3 | 200 |')
    expectWellFormed(md)
  })

  it('counts already sent, retry and drift from the state', () => {
    const small = makeSend({name: 's', recipients: manyRecipients(3)})
    const first = buildPlan([small], emptyState(), opts)
    const [a, b, c] = first.sends[0]!.batches[0]!.messages
    const state = emptyState()
    state.lineage = 'L'
    state.serial = 4
    const base = {send: 's', revision: 1, at: '2025-06-01T10:00:00.000Z', contactHash: 'h'}
    // a: accepted with the same hashes (noop); b: failed (retry); c: accepted with another address hash (drift).
    state.messages.set(a!.messageKey, {...base, messageKey: a!.messageKey, status: 'accepted', toHash: hashTo(a!.to), attributesHash: hashAttributes({}, undefined)})
    state.messages.set(b!.messageKey, {...base, messageKey: b!.messageKey, status: 'failed', errorCode: 109106, errorMessage: 'bad', toHash: 'x', attributesHash: 'y'})
    state.messages.set(c!.messageKey, {...base, messageKey: c!.messageKey, status: 'accepted', toHash: 'other', attributesHash: hashAttributes({}, undefined)})
    const md = renderPlanMarkdown(buildPlan([small], state, opts), {showAddresses: false, previous: {}})
    expect(md).toContain('| `s` | `test-def` | 1 | 1 | 1 | 1 | 1 | 1 |')
    expect(md).toContain('serial 4')
    expect(md).toMatch(/1 message drifted/)
  })

  it('masks addresses in contactKeys, recipients and shared attributes unless --show-addresses', () => {
    const plan = buildPlan([send], emptyState(), opts)
    const masked = renderPlanMarkdown(plan, {showAddresses: false, previous: {[send.name]: snapshot}})
    expect(masked).not.toMatch(/ann@example\.com|owner@example\.com|c0@example\.com/)
    // The mention after the @ is broken with a zero-width space; the address reads as a***@example.com.
    expect(masked).toContain('a***@&#8203;example.com')
    expect(masked).toContain('Email addresses are masked.')
    const clear = renderPlanMarkdown(plan, {showAddresses: true, previous: {}})
    expect(clear).toContain('ann@&#8203;example.com')
  })

  it('diffs the send against its snapshot from the last apply', () => {
    const md = renderPlanMarkdown(buildPlan([send], emptyState(), opts), {showAddresses: false, previous: {[send.name]: snapshot}})
    expect(md).toContain('**Changes since last applied** (2025-06-01T10:00:00.000Z)')
    const [diff] = diffBlocks(md)
    expect(diff).toBeDefined()
    const lines = diff!.split('\n')
    expect(lines[0]).toMatch(/^--- release-4-2-notes \(applied 2025-06-01T10:00:00\.000Z\)/)
    expect(lines[1]).toMatch(/^\+\+\+ release-4-2-notes \(this plan\)/)
    expect(lines).toContain('-revision: 1')
    expect(lines).toContain('+revision: 2')
    expect(lines).toContain('-  ReleaseVersion: "4.1.0"')
    expect(lines).toContain('+  ReleaseVersion: "4.2.0"')
    expect(lines).toContain(`-  sends/customers.csv  sha256:${sha('a')}`)
    expect(lines).toContain(`+  sends/customers.csv  sha256:${sha('b')}`)
    expect(lines).toContain(' definitionKey: release-notes')
    expect(lines).toContain(' batchSize: 500')
    expect(lines).toContain('   Owner: "o***@example.com"')
  })

  it('says when a send was never applied, or did not change', () => {
    const plan = buildPlan([send], emptyState(), opts)
    expect(renderPlanMarkdown(plan, {showAddresses: false, previous: {}})).toContain('**Never applied:**')
    const same: SendSnapshot = {...snapshot, revision: 2, attributes: send.attributes, sources: send.sources}
    const md = renderPlanMarkdown(plan, {showAddresses: false, previous: {[send.name]: same}})
    expect(md).toContain('**No change** since it was last applied')
    expect(diffBlocks(md)).toHaveLength(0)
  })

  it('uses a longer fence when a value holds backticks, and escapes table cells', () => {
    const odd = makeSend({name: 'odd', attributes: {Note: 'a ``` b'}, recipients: [recipient('x|y<z>', 'x@example.com')]})
    const md = renderPlanMarkdown(buildPlan([odd], emptyState(), opts), {showAddresses: false, previous: {odd: {...snapshot, name: 'odd', attributes: {}}}})
    expect(md).toContain('````diff')
    expect(md).toContain('x&#124;y&lt;z&gt;')
    expectWellFormed(md)
  })

  it('stays under 60,000 characters for a 100,000-recipient plan, keeping the summary and saying what was cut', () => {
    const big = makeSend({name: 'big', batchSize: 50, sources: [{file: 'big.csv', sha256: sha('c')}], recipients: manyRecipients(100_000)})
    const plan = buildPlan([big], emptyState(), opts)
    expect(plan.summary.requests).toBe(2000)
    const md = renderPlanMarkdown(plan, {showAddresses: false, previous: {big: {...snapshot, name: 'big', batchSize: 2000}}})
    expect(md.length).toBeLessThanOrEqual(MARKDOWN_BUDGET)
    expect(md.split('\n')[0]).toBe(MARKDOWN_MARKER)
    expect(md).toContain('### mcsend plan: 100,000 messages to send in 2,000 requests across 1 send')
    expect(md).toContain('| `big` | `test-def` | 1 | 100,000 | 0 | 0 | 0 | 2,000 |')
    expect(md).toMatch(/Left out to stay under GitHub's comment size limit: the list of 1,980 requests/)
    expect(diffBlocks(md)).toHaveLength(1)
    expect(md).not.toContain('c0@example.com')
    expectWellFormed(md)
  })

  it('drops whole send blocks past the budget, and counts them', () => {
    const sends = Array.from({length: 400}, (_, i) =>
      makeSend({name: `send-${i}`, sources: [{file: `s${i}.csv`, sha256: sha('d')}], recipients: manyRecipients(250)}),
    )
    const previous = Object.fromEntries(sends.map((s) => [s.name, {...snapshot, name: s.name}]))
    const plan = buildPlan(sends, emptyState(), opts)
    expect(plan.summary.toSend).toBe(100_000)
    const md = renderPlanMarkdown(plan, {showAddresses: false, previous})
    expect(md.length).toBeLessThanOrEqual(MARKDOWN_BUDGET)
    // Every send keeps its summary row.
    for (const s of sends) expect(md).toContain(`| \`${s.name}\` |`)
    const blocks = (md.match(/<details><summary>/g) ?? []).length
    expect(blocks).toBeGreaterThan(0)
    expect(blocks).toBeLessThan(400)
    expect(md).toContain(`the details of ${400 - blocks} sends`)
    expectWellFormed(md)
  })

  it('shrinks the summary table only when it alone exceeds the budget', () => {
    const sends = Array.from({length: 300}, (_, i) => makeSend({name: `n-${i}`, recipients: manyRecipients(1)}))
    const md = renderPlanMarkdown(buildPlan(sends, emptyState(), opts), {showAddresses: false, previous: {}, budget: 5000})
    expect(md.length).toBeLessThanOrEqual(5000)
    expect(md).toMatch(/\| … \d+ more sends \(counted in the total\)/)
    expect(md).toContain('| **total** | | | **300** |')
  })
})

describe('resolveFormat', () => {
  it('takes --json as the short form of --format json and refuses a contradiction', () => {
    expect(resolveFormat({})).toBe('text')
    expect(resolveFormat({json: true})).toBe('json')
    expect(resolveFormat({format: 'markdown'})).toBe('markdown')
    expect(resolveFormat({json: true, format: 'json'})).toBe('json')
    expect(() => resolveFormat({json: true, format: 'markdown'})).toThrow(UsageError)
  })
})
