import {describe, expect, it} from 'vitest'

import {buildPlan} from '../../src/plan/build.js'
import {hashAttributes, hashTo} from '../../src/keys/hash.js'
import {UsageError} from '../../src/errors.js'
import {resolveFormat} from '../../src/render/output-format.js'
import {MARKDOWN_BUDGET, MARKDOWN_MARKER, renderPlanMarkdown} from '../../src/render/plan-markdown.js'
import type {SendSnapshot} from '../../src/state/types.js'
import {emptyState, makeSend, manyRecipients, recipient, snapshotOf} from '../helpers/sends.js'
import {ciContextFromEnv} from '../../src/core/ci-context.js'
import {planFromSaved, toSavedPlan} from '../../src/core/saved-plan.js'
import type {Plan, PlanEnvironment} from '../../src/plan/types.js'

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

/** The last apply: revision 1, an older release version and another source digest. */
const snapshot = snapshotOf(send, {revision: 1, attributes: {ReleaseVersion: '4.1.0', Owner: 'owner@example.com'}, sources: [{file: 'sends/customers.csv', sha256: sha('a')}]})

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
    expect(lines[1]).toBe("### Merging sends 1,203 emails to the Marketing Cloud account of the apply job's credentials (this run has none, so it cannot name the tenant)")
    expect(md).toContain('**1,203 messages** in 4 requests across 2 sends. State: `.mcsend/state.json` (new). Email addresses are masked.')
    expect(md).toContain('| send | definitionKey | revision | to send | already sent | retry | drift | requests |')
    expect(md).toContain('| `release-4-2-notes` | `release-notes` | 2 | 1,200 | 0 | 0 | 0 | 3 |')
    expect(md).toContain('| `beta-invite` | `beta` | 1 | 3 | 0 | 0 | 0 | 1 |')
    expect(md).toContain('| **total** | | | **1,203** | **0** | **0** | **0** | **4** |')
    expect(md.match(/^#### .*$/gm)).toEqual(['#### `release-4-2-notes`: 1,200 to send in 3 requests', '#### `beta-invite`: 3 to send in 1 request'])
    expect(md).toContain('**Requests:** 3 requests: 2 of 500 messages and 1 of 200.')
    expect(md).toContain('**Requests:** 1 request of 3 messages.')
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

  it('keeps a 100,000-recipient plan short: its 2,000 requests in one line, nothing left out', () => {
    const big = makeSend({name: 'big', batchSize: 50, sources: [{file: 'big.csv', sha256: sha('c')}], recipients: manyRecipients(100_000)})
    const plan = buildPlan([big], emptyState(), opts)
    expect(plan.summary.requests).toBe(2000)
    const md = renderPlanMarkdown(plan, {showAddresses: false, sandbox: true, previous: {big: {...snapshot, name: 'big', batchSize: 2000}}})
    expect(md.length).toBeLessThanOrEqual(MARKDOWN_BUDGET)
    expect(md.split('\n')[0]).toBe(MARKDOWN_MARKER)
    expect(md).toContain('### Merging sends 100,000 emails to the sandbox')
    expect(md).toContain('| `big` | `test-def` | 1 | 100,000 | 0 | 0 | 0 | 2,000 |')
    // The requests in one line, not a row each: the whole plan fits without leaving anything out.
    expect(md).toContain('**Requests:** 2,000 requests of 50 messages.')
    expect(md).not.toContain('Left out')
    expect(md.length).toBeLessThan(5000)
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
    const blocks = (md.match(/^#### /gm) ?? []).length
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

describe('renderPlanMarkdown for the reviewer who approves the merge', () => {
  const first = (md: string) => md.split('\n')[1]
  const small = makeSend({name: 'notes', recipients: manyRecipients(12)})

  it('says in its first line what merging sends and to which target', () => {
    const plan = buildPlan([small], emptyState(), opts)
    const render = (o: Partial<Parameters<typeof renderPlanMarkdown>[1]>, p: Plan = plan) => first(renderPlanMarkdown(p, {showAddresses: false, previous: {}, ...o}))
    expect(render({sandbox: true})).toBe('### Merging sends 12 emails to the sandbox')
    expect(render({target: {kind: 'sandbox'}})).toBe('### Merging sends 12 emails to the sandbox')
    expect(render({target: {kind: 'marketing-cloud', authHost: 'mc123.auth.marketingcloudapis.com', accountId: '514009876'}})).toBe(
      '### Merging sends 12 emails to Marketing Cloud tenant `mc123.auth.marketingcloudapis.com`, business unit `514009876`',
    )
    expect(render({target: {kind: 'marketing-cloud', authHost: 'mc123.auth.marketingcloudapis.com'}})).toBe(
      "### Merging sends 12 emails to Marketing Cloud tenant `mc123.auth.marketingcloudapis.com`, the credentials' default business unit",
    )
    const environment: PlanEnvironment = {name: 'prod', tenant: 'mc-prod', accountId: '4242', protected: true}
    expect(render({}, {...plan, environment})).toBe('### Merging sends 12 emails to the protected environment `prod` (Marketing Cloud tenant `mc-prod`, business unit `4242`)')
    // The state's recorded target names the tenant by its auth host; the business unit from the environment fills in.
    expect(render({target: {kind: 'marketing-cloud', authHost: 'mc-prod.auth.marketingcloudapis.com'}}, {...plan, environment: {...environment, protected: false}})).toBe(
      '### Merging sends 12 emails to the environment `prod` (Marketing Cloud tenant `mc-prod.auth.marketingcloudapis.com`, business unit `4242`)',
    )
    expect(render({})).toBe("### Merging sends 12 emails to the Marketing Cloud account of the apply job's credentials (this run has none, so it cannot name the tenant)")
    // Hostile environment text from the project file is escaped like any other value.
    expect(render({}, {...plan, environment: {name: 'x <img src=y> @team', protected: false}})).toBe('### Merging sends 12 emails to the environment <code>x &lt;img src=y&gt; @&#8203;team</code>')
  })

  it('says plainly when merging sends nothing', () => {
    const plan = buildPlan([small], emptyState(), opts)
    const state = emptyState()
    state.lineage = 'L'
    for (const m of plan.sends[0]!.batches[0]!.messages) {
      state.messages.set(m.messageKey, {messageKey: m.messageKey, send: 'notes', revision: 1, status: 'accepted', at: '2025-06-01T10:00:00.000Z', contactHash: 'h', toHash: hashTo(m.to), attributesHash: hashAttributes({}, undefined)})
    }
    const md = renderPlanMarkdown(buildPlan([small], state, opts), {showAddresses: false, previous: {}, sandbox: true})
    expect(first(md)).toBe('### Merging sends nothing to the sandbox')
    expect(md).toContain('Nothing to send across 1 send (12 already sent).')
    expect(md).toContain('#### `notes`: nothing to send (12 already sent)')
    expect(md).toContain('**Requests:** none: every recipient was already sent.')
    const empty = renderPlanMarkdown(buildPlan([makeSend({name: 'empty', recipients: []})], emptyState(), opts), {showAddresses: false, previous: {}, sandbox: true})
    expect(first(empty)).toBe('### Merging sends nothing to the sandbox')
    expect(empty).toContain('**Recipients:** none.')
    expect(empty).toContain('**Requests:** none: the send has no recipients.')
    expectWellFormed(empty)
  })

  it('names the commit and links the CI run in GitHub Actions, and nothing from a malformed environment', () => {
    const plan = buildPlan([small], emptyState(), opts)
    const ci = ciContextFromEnv({GITHUB_SHA: 'abcdef0123456789abcdef0123456789abcdef01', GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/sends', GITHUB_RUN_ID: '99'})
    const md = renderPlanMarkdown(plan, {showAddresses: false, previous: {}, sandbox: true, ci})
    expect(md.split('\n').slice(1, 4)).toEqual(['### Merging sends 12 emails to the sandbox', '', 'Commit `abcdef012345` · [CI run](https://github.com/acme/sends/actions/runs/99)'])
    const hostile = ciContextFromEnv({GITHUB_SHA: '`x`', GITHUB_SERVER_URL: 'https://github.com<img src=x>', GITHUB_REPOSITORY: 'acme/sends', GITHUB_RUN_ID: '99', GITHUB_TOKEN: 'ghs_secret'})
    expect(hostile).toBeUndefined()
    const plain = renderPlanMarkdown(plan, {showAddresses: false, previous: {}, sandbox: true, ci: hostile})
    expect(plain).not.toMatch(/Commit|CI run|img|ghs_/)
  })

  it('shows the shared attributes and variables, masking addresses and cutting a long value', () => {
    const long = 'x'.repeat(500)
    const templated = makeSend({
      name: 'release-4-3-0',
      attributes: {ReleaseVersion: '4.3.0', ReplyTo: 'Support <support@example.com>', Seats: 25, Beta: false, Long: long},
      variables: {version: '4.3.0', owner: 'owner@example.com'},
      variableSources: {version: '--var', owner: 'default'},
      recipients: manyRecipients(2),
    })
    const md = renderPlanMarkdown(buildPlan([templated], emptyState(), opts), {showAddresses: false, previous: {}})
    expect(md).toContain('**Shared attributes** (the same in every email of this send):\n\n| attribute | value |\n|---|---|\n| `ReleaseVersion` | `4.3.0` |')
    expect(md).toContain('| `ReplyTo` | <code>Support &lt;s***@&#8203;example.com&gt;</code> |')
    expect(md).toContain('| `Seats` | 25 |')
    expect(md).toContain('| `Beta` | false |')
    expect(md).toContain(`| \`Long\` | <code>${'x'.repeat(120)}…</code> (500 characters) |`)
    expect(md).toContain('| variable | value | from |')
    expect(md).toContain('| `version` | `4.3.0` | `--var` |')
    expect(md).toContain('| `owner` | <code>o***@&#8203;example.com</code> | `default` |')
    expect(md).not.toMatch(/support@|owner@/)
    expectWellFormed(md)
  })

  it('counts the recipients of each source file and of the inline list', () => {
    const fromFile = (file: string, n: number, offset: number) => manyRecipients(n + offset).slice(offset).map((r) => ({...r, file}))
    const mixed = makeSend({
      name: 'mixed',
      sources: [{file: 'data/customers.csv', sha256: sha('a')}, {file: 'data/more.ndjson', sha256: sha('b')}],
      recipients: [...fromFile('data/customers.csv', 7, 0), ...fromFile('data/more.ndjson', 3, 7), recipient('partner-ops', 'ops@example.org')],
    })
    const plan = buildPlan([mixed], emptyState(), opts)
    expect(plan.sends[0]!.bySource).toEqual([
      {file: 'data/customers.csv', inline: false, total: 7, create: 7, retry: 0, noop: 0, drift: 0},
      {file: 'data/more.ndjson', inline: false, total: 3, create: 3, retry: 0, noop: 0, drift: 0},
      {file: 'sends/test.yaml', inline: true, total: 1, create: 1, retry: 0, noop: 0, drift: 0},
    ])
    const md = renderPlanMarkdown(plan, {showAddresses: false, previous: {}})
    expect(md).toContain(
      ['| source | recipients | to send | already sent |', '|---|--:|--:|--:|', '| `data/customers.csv` | 7 | 7 | 0 |', '| `data/more.ndjson` | 3 | 3 | 0 |', '| inline in `sends/test.yaml` | 1 | 1 | 0 |'].join('\n'),
    )
    // A plan saved before the counts were recorded: counted from its messages (all attributed to the manifest).
    const saved = toSavedPlan(plan, {manifests: [], toolVersion: 't', createdAt: 'now', sandbox: false, targets: [], previous: {}})
    expect(saved.sends[0]!.bySource).toEqual(plan.sends[0]!.bySource)
    const old = planFromSaved({...saved, sends: saved.sends.map(({bySource: _, ...rest}) => rest)})
    expect(renderPlanMarkdown(old, {showAddresses: false, previous: {}})).toContain('| inline in `sends/test.yaml` | 11 | 11 | 0 |')
  })

  it('samples recipients with their attributes, masked; messageKeys only in a collapsed block; no hash in the tables', () => {
    const withAttrs = makeSend({name: 'welcome', recipients: manyRecipients(600, (i) => ({FirstName: `Name${i}`, Manager: `boss${i}@example.com`}))})
    const plan = buildPlan([withAttrs], emptyState(), opts)
    const md = renderPlanMarkdown(plan, {showAddresses: false, previous: {}})
    expect(md).toContain(
      [
        '**Sample recipients** (5 of 600):',
        '',
        '| action | contactKey | to | FirstName | Manager |',
        '|---|---|---|---|---|',
        '| create | c0 | c***@&#8203;example.com | `Name0` | <code>b***@&#8203;example.com</code> |',
      ].join('\n'),
    )
    expect(md).toContain('… and 595 more recipients.')
    expect(md).not.toMatch(/c\d+@example|boss\d+@/)
    const keys = plan.sends[0]!.batches.flatMap((b) => b.messages.map((m) => m.messageKey))
    const details = [...md.matchAll(/<details><summary>messageKeys of these recipients<\/summary>([\s\S]*?)<\/details>/g)].map((m) => m[1]!)
    expect(details).toHaveLength(1)
    for (const key of keys.slice(0, 5)) expect(details[0]).toContain(`| \`${key}\` |`)
    // Outside that block no messageKey (nor any 43-character digest) appears.
    const outside = md.replace(/<details>[\s\S]*?<\/details>/g, '')
    expect(outside).not.toMatch(/[A-Za-z0-9_-]{43}/)
    expect(outside).toContain('**Requests:** 2 requests: 1 of 500 messages and 1 of 100.')
    expectWellFormed(md)
  })

  it('leaves the to column out of a saved plan\'s sample (no address is saved)', () => {
    const plan = buildPlan([small], emptyState(), opts)
    const saved = toSavedPlan(plan, {manifests: [], toolVersion: 't', createdAt: 'now', sandbox: true, targets: [], previous: {}})
    const md = renderPlanMarkdown(planFromSaved(saved), {showAddresses: false, previous: {}, sandbox: saved.sandbox})
    expect(md).toContain('| action | contactKey |\n|---|---|\n| create | c0 |')
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
