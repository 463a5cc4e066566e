import {describe, expect, it} from 'vitest'

import {makePaint} from '../../src/render/paint.js'
import {buildPlan} from '../../src/plan/build.js'
import {maskAddresses} from '../../src/privacy/index.js'
import {writePlanJson} from '../../src/render/plan-json.js'
import {renderPlanText} from '../../src/render/plan-text.js'
import {emptyState, makeSend, manyRecipients, recipient} from '../helpers/sends.js'
import {compileSchema} from '../helpers/schemas.js'

const paint = makePaint(false)
const opts = {stateLocation: '.mcsend/state.json'}

async function planJson(plan: ReturnType<typeof buildPlan>, showAddresses = false): Promise<string> {
  let out = ''
  await writePlanJson(plan, (c) => {
    out += c
  }, {showAddresses})
  return out
}

describe('masking', () => {
  it('masks the local part of addresses and leaves other values alone', () => {
    expect(maskAddresses('ann@example.com')).toBe('a***@example.com')
    expect(maskAddresses('not-an-address')).toBe('not-an-address')
    expect(maskAddresses('x@y')).toBe('x@y')
  })
})

describe('renderPlanText', () => {
  const send = makeSend({
    name: 'release-4-2-notes',
    definitionKey: 'release-notes',
    attributes: {ReleaseVersion: '4.2.0', Owner: 'owner@example.com'},
    recipients: [recipient('ann@example.com', 'ann@example.com', {FirstName: 'Ann'}), ...manyRecipients(4499)],
  })

  it('shows the send, its requests and the closing line', () => {
    const text = renderPlanText(buildPlan([send], emptyState(), opts), {paint, showAddresses: false})
    expect(text).toContain('send release-4-2-notes')
    expect(text).toContain('definitionKey  release-notes')
    expect(text).toContain('ReleaseVersion="4.2.0"')
    expect(text).toContain('9 requests of up to 500: 500 x 9')
    // Every recipient of this send is inline (the helpers read none from a file).
    expect(text).toContain('  sources        inline (sends/test.yaml) 4,500\n')
    const mixed = makeSend({name: 'mixed', recipients: [...manyRecipients(3).map((r) => ({...r, file: 'data/customers.csv'})), recipient('ops')]})
    expect(renderPlanText(buildPlan([mixed], emptyState(), opts), {paint, showAddresses: false})).toContain('  sources        data/customers.csv 3, inline (sends/test.yaml) 1\n')
    expect(text.trim().split('\n').at(-1)).toBe('Plan: 4,500 messages to send in 9 requests across 1 send.')
  })

  it('masks addresses in recipients, contactKeys and attributes unless asked', () => {
    const masked = renderPlanText(buildPlan([send], emptyState(), opts), {paint, showAddresses: false})
    expect(masked).not.toContain('ann@example.com')
    expect(masked).not.toContain('owner@example.com')
    expect(masked).toContain('a***@example.com')
    const clear = renderPlanText(buildPlan([send], emptyState(), opts), {paint, showAddresses: true})
    expect(clear).toContain('ann@example.com')
  })

  it('says when there is nothing to send', () => {
    expect(renderPlanText(buildPlan([], emptyState(), opts), {paint, showAddresses: false})).toContain('Plan: nothing to send across 0 sends.')
  })
})

describe('writePlanJson', () => {
  const validate = compileSchema('plan')

  it('writes a document valid against schemas/plan.schema.json', async () => {
    const plan = buildPlan([makeSend({recipients: manyRecipients(2500)}), makeSend({name: 'other', recipients: manyRecipients(3)})], emptyState(), opts)
    const doc = JSON.parse(await planJson(plan))
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true)
    expect(doc.summary.toSend).toBe(2503)
    expect(doc.sends[0].batches.map((b: {size: number}) => b.size)).toEqual([2000, 500])
    expect(doc.sends[0].batches[1].messages).toHaveLength(500)
    expect(doc.sends[1].bySource).toEqual([{file: 'sends/test.yaml', inline: true, total: 3, create: 3, retry: 0, noop: 0, drift: 0}])
  })

  it('carries no address unless --show-addresses', async () => {
    const plan = buildPlan([makeSend({recipients: [recipient('ann@example.com', 'ann@example.com'), recipient('bob', 'bob@example.org')]})], emptyState(), opts)
    const masked = await planJson(plan)
    expect(masked).not.toMatch(/ann@example\.com|bob@example\.org/)
    const clear = JSON.parse(await planJson(plan, true))
    expect(validate(clear)).toBe(true)
    expect(clear.sends[0].batches[0].messages[1].to).toBe('bob@example.org')
  })

  it('streams in chunks for large plans and stays parseable', async () => {
    const plan = buildPlan([makeSend({recipients: manyRecipients(30_000)})], emptyState(), opts)
    const chunks: string[] = []
    await writePlanJson(plan, (c) => {
      chunks.push(c)
    }, {showAddresses: false})
    expect(chunks.length).toBeGreaterThan(1)
    expect(JSON.parse(chunks.join('')).summary.messages).toBe(30_000)
  })
})

describe('writePlanJson message encoding', () => {
  it('encodes every message exactly like JSON.stringify of its fields, including awkward characters', async () => {
    const r = recipient('quote"back\\slash\u2028', 'x@example.com')
    r.messageKey = 'explicit "key"\n'
    const plan = buildPlan([makeSend({recipients: [r, recipient('plain')]})], emptyState(), {stateLocation: 's'})
    let out = ''
    await writePlanJson(plan, (c) => {
      out += c
    }, {showAddresses: true})
    const messages = JSON.parse(out).sends[0].batches[0].messages
    expect(messages[0]).toEqual({messageKey: 'explicit "key"\n', contactKey: 'quote"back\\slash\u2028', action: 'create', to: 'x@example.com'})
    expect(messages[1].contactKey).toBe('plain')
  })
})

describe('renamed-send warning', () => {
  it('is shown in text, Markdown and JSON', async () => {
    const {renderPlanMarkdown} = await import('../../src/render/plan-markdown.js')
    const state = emptyState()
    const sources = [{file: 'people.csv', sha256: 'c'.repeat(64)}]
    state.sends.old = {name: 'old', definitionKey: 'test-def', revision: 1, attributes: {}, batchSize: 2000, sources, appliedAt: '2026-11-20T10:00:00Z'}
    const plan = buildPlan([makeSend({name: 'new', sources, recipients: manyRecipients(2)})], state, opts)
    expect(renderPlanText(plan, {paint, showAddresses: false})).toContain('warning: send new was never applied, but old (applied 2026-11-20T10:00:00Z)')
    expect(renderPlanMarkdown(plan, {showAddresses: false, previous: state.sends})).toContain('> [!WARNING]\n> send new was never applied, but old')
    const doc = JSON.parse(await planJson(plan))
    expect(doc.renamed).toEqual([{send: 'new', appliedAs: 'old', appliedAt: '2026-11-20T10:00:00Z'}])
    expect(compileSchema('plan')(doc)).toBe(true)
  })
})
