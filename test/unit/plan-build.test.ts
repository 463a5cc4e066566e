import {describe, expect, it} from 'vitest'

import {buildPlan, previousSnapshots} from '../../src/plan/build.js'
import type {MessageRecord} from '../../src/state/types.js'
import {recipientRecord} from '../helpers/records.js'
import {emptyState, makeSend, manyRecipients, recipient, stateWith} from '../helpers/sends.js'

const opts = {stateLocation: '.mcsend/state.json'}

function record(send: string, contactKey: string, status: MessageRecord['status'], to = `${contactKey}@example.com`, extra: Partial<MessageRecord> = {}): MessageRecord {
  return recipientRecord({send, contactKey, to}, {status, at: '2026-11-26T10:00:00.000Z', ...extra})
}

describe('buildPlan', () => {
  it('plans every recipient as create against an empty state, in manifest order', () => {
    const plan = buildPlan([makeSend({recipients: manyRecipients(4500)})], emptyState(), opts)
    const [send] = plan.sends
    expect(send!.batches.map((b) => b.messages.length)).toEqual([2000, 2000, 500])
    expect(send!.batches[0]!.messages[0]!.contactKey).toBe('c0')
    expect(send!.batches[2]!.messages.at(-1)!.contactKey).toBe('c4499')
    expect(plan.summary).toMatchObject({sends: 1, messages: 4500, create: 4500, toSend: 4500, requests: 3, noop: 0})
    expect(send!.batches.flatMap((b) => b.messages).every((m) => m.action === 'create')).toBe(true)
  })

  it('uses 500 per request when any recipient carries attributes, or the manifest batchSize', () => {
    const withAttrs = manyRecipients(1200, (i): Record<string, string> => (i === 7 ? {FirstName: 'Ann'} : {}))
    expect(buildPlan([makeSend({recipients: withAttrs})], emptyState(), opts).sends[0]!.batchSize).toBe(500)
    expect(buildPlan([makeSend({recipients: manyRecipients(10), batchSize: 3})], emptyState(), opts).sends[0]!.batches.map((b) => b.messages.length)).toEqual([3, 3, 3, 1])
  })

  it('keys do not depend on order, attributes, address or definitionKey', () => {
    const a = buildPlan([makeSend({recipients: [recipient('x', 'x@example.com', {A: 1}), recipient('y')]})], emptyState(), opts)
    const b = buildPlan(
      [makeSend({definitionKey: 'other', recipients: [recipient('y', 'new@example.org'), recipient('x', 'changed@example.com', {A: 2})]})],
      emptyState(),
      opts,
    )
    const keys = (p: typeof a) => Object.fromEntries(p.sends[0]!.batches.flatMap((x) => x.messages).map((m) => [m.contactKey, m.messageKey]))
    expect(keys(a)).toEqual(keys(b))
  })

  it('uses an explicit messageKey as given', () => {
    const r = recipient('x')
    r.messageKey = 'my-own-key'
    const plan = buildPlan([makeSend({recipients: [r]})], emptyState(), opts)
    expect(plan.sends[0]!.batches[0]!.messages[0]!.messageKey).toBe('my-own-key')
  })

  it('marks accepted as noop, failed and pending as retry, changed address or attributes as drift', () => {
    const send = makeSend({recipients: [recipient('ok'), recipient('bad'), recipient('lost'), recipient('moved', 'moved-new@example.com'), recipient('attrs', 'attrs@example.com', {Plan: 'pro'}), recipient('new')]})
    const state = stateWith([
      record('test-send', 'ok', 'accepted'),
      record('test-send', 'bad', 'failed', undefined, {errorCode: 109106, errorMessage: 'MCMS_UTM_Validation_MissingRequiredField_to: Invalid subscriber'}),
      record('test-send', 'lost', 'pending'),
      record('test-send', 'moved', 'accepted'),
      record('test-send', 'attrs', 'accepted'),
    ])
    const plan = buildPlan([send], state, opts)
    const byKey = Object.fromEntries([...plan.sends[0]!.batches.flatMap((b) => b.messages), ...plan.sends[0]!.unchanged].map((m) => [m.contactKey, m]))
    expect(byKey.ok!.action).toBe('noop')
    expect(byKey.bad!.action).toBe('retry')
    expect(byKey.bad!.reason).toContain('109106')
    expect(byKey.lost!.action).toBe('retry')
    expect(byKey.lost!.reason).toContain('pending')
    expect(byKey.moved!.action).toBe('drift')
    expect(byKey.moved!.reason).toContain('to changed')
    expect(byKey.attrs!.action).toBe('drift')
    expect(byKey.attrs!.reason).toContain('attributes changed')
    expect(byKey.new!.action).toBe('create')
    expect(plan.summary).toMatchObject({create: 1, retry: 2, noop: 1, drift: 2, toSend: 3, requests: 1, pending: 1})
    // Only create and retry are sent.
    expect(plan.sends[0]!.batches[0]!.messages.map((m) => m.contactKey)).toEqual(['bad', 'lost', 'new'])
  })

  it('has nothing to send when everything was accepted', () => {
    const recipients = manyRecipients(5)
    const state = stateWith(recipients.map((r) => record('test-send', r.contactKey, 'accepted', r.to)))
    const plan = buildPlan([makeSend({recipients})], state, opts)
    expect(plan.summary.toSend).toBe(0)
    expect(plan.summary.requests).toBe(0)
    expect(plan.sends[0]!.batches).toEqual([])
  })

  it('a revision bump plans everyone again', () => {
    const recipients = manyRecipients(3)
    const state = stateWith(recipients.map((r) => record('test-send', r.contactKey, 'accepted', r.to)))
    expect(buildPlan([makeSend({recipients, revision: 2})], state, opts).summary.create).toBe(3)
  })

  it('limits the plan to targeted sends', () => {
    const plan = buildPlan([makeSend({name: 'a', recipients: manyRecipients(2)}), makeSend({name: 'b', recipients: manyRecipients(3)})], emptyState(), {...opts, targets: ['b']})
    expect(plan.sends.map((s) => s.name)).toEqual(['b'])
    expect(plan.summary.messages).toBe(3)
  })

  it('records the state it was computed against', () => {
    const plan = buildPlan([], stateWith([]), opts)
    expect(plan.state).toEqual({location: '.mcsend/state.json', lineage: 'test-lineage', serial: 3})
  })
})

describe('renamed sends', () => {
  const sources = [{file: 'people.csv', sha256: 'a'.repeat(64)}]
  const applied = {
    name: 'old-name',
    definitionKey: 'test-def',
    revision: 1,
    attributes: {},
    batchSize: 2000,
    sources,
    appliedAt: '2026-11-20T10:00:00.000Z',
  }

  it('flags a never-applied send that matches one applied under another name', () => {
    const state = stateWith([])
    state.sends['old-name'] = applied
    const plan = buildPlan([makeSend({name: 'new-name', sources, recipients: manyRecipients(3)})], state, opts)
    expect(plan.renamed).toEqual([{send: 'new-name', appliedAs: 'old-name', appliedAt: '2026-11-20T10:00:00.000Z'}])
  })

  it('does not flag a send applied under its own name, another definition, or other recipient files', () => {
    const state = stateWith([])
    state.sends['old-name'] = applied
    state.sends['same-name'] = {...applied, name: 'same-name'}
    expect(buildPlan([makeSend({name: 'same-name', sources, recipients: manyRecipients(3)})], state, opts).renamed).toBeUndefined()
    expect(buildPlan([makeSend({name: 'x', definitionKey: 'other', sources, recipients: manyRecipients(3)})], state, opts).renamed).toBeUndefined()
    expect(buildPlan([makeSend({name: 'x', sources: [{file: 'people.csv', sha256: 'b'.repeat(64)}], recipients: manyRecipients(3)})], state, opts).renamed).toBeUndefined()
  })

  it('does not flag a copy whose original is still declared, even when only the copy is planned (--send)', () => {
    const state = stateWith([])
    state.sends['old-name'] = applied
    const original = makeSend({name: 'old-name', sources, recipients: manyRecipients(3)})
    const copy = makeSend({name: 'new-name', sources, recipients: manyRecipients(3)})
    expect(buildPlan([original, copy], state, opts).renamed).toBeUndefined()
    expect(buildPlan([original, copy], state, {...opts, targets: ['new-name']}).renamed).toBeUndefined()
    // The original gone from the manifests: now it looks like a rename.
    expect(buildPlan([copy], state, opts).renamed).toEqual([{send: 'new-name', appliedAs: 'old-name', appliedAt: applied.appliedAt}])
  })

  it('does not flag the next release of a templated name, but does flag a changed template', () => {
    const template = 'release-${{ vars.version_slug }}'
    const state = stateWith([])
    state.sends['release-4-3-0'] = {...applied, name: 'release-4-3-0', nameTemplate: template}
    const next = makeSend({name: 'release-4-4-0', nameTemplate: template, sources, recipients: manyRecipients(3)})
    expect(buildPlan([next], state, opts).renamed).toBeUndefined()
    const renamed = makeSend({name: 'announce-4-4-0', nameTemplate: 'announce-${{ vars.version_slug }}', sources, recipients: manyRecipients(3)})
    expect(buildPlan([renamed], state, opts).renamed).toEqual([{send: 'announce-4-4-0', appliedAs: 'release-4-3-0', appliedAt: applied.appliedAt}])
  })
})

describe('previousSnapshots', () => {
  it('compares a new release with the latest applied send of the same name template', () => {
    const template = 'release-${{ vars.version_slug }}'
    const snap = (name: string, appliedAt: string) => ({name, definitionKey: 'd', revision: 1, attributes: {}, batchSize: 2000, sources: [], appliedAt, nameTemplate: template})
    const applied = {'release-4-2-0': snap('release-4-2-0', '2026-10-01T00:00:00.000Z'), 'release-4-3-0': snap('release-4-3-0', '2026-11-01T00:00:00.000Z'), other: {...snap('other', '2026-12-01T00:00:00.000Z'), nameTemplate: undefined}}
    const plan = buildPlan([makeSend({name: 'release-4-4-0', nameTemplate: template, recipients: manyRecipients(1)}), makeSend({name: 'release-4-3-0', nameTemplate: template, recipients: manyRecipients(1)}), makeSend({name: 'fresh', recipients: manyRecipients(1)})], stateWith([]), opts)
    const previous = previousSnapshots(plan.sends, applied)
    expect(previous['release-4-4-0']?.name).toBe('release-4-3-0')
    expect(previous['release-4-3-0']?.name).toBe('release-4-3-0')
    expect(previous.fresh).toBeUndefined()
  })
})
