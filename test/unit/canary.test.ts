import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {BEYOND_REACH_REASON, canaryVerdict, judgeAnswer, judgeBeyondReach, splitCanary, type CanaryRecipient} from '../../src/apply/canary.js'
import {loadManifests} from '../../src/manifest/load.js'
import type {Canary} from '../../src/manifest/types.js'
import {buildPlan} from '../../src/plan/build.js'
import {renderApplyMarkdown} from '../../src/render/apply-markdown.js'
import {canaryHeadline, describeCanaryStep} from '../../src/render/canary-text.js'
import {recipientRecord} from '../helpers/records.js'
import {emptyState, makeSend, manyRecipients, stateWith} from '../helpers/sends.js'

const opts = {stateLocation: '.mcsend/state.json'}
const seeds = (size: number, extra: Partial<Canary> = {}): Canary => ({from: 'seeds', size, await: 'sent', timeoutMs: 600_000, line: 5, column: 1, ...extra})

describe('canary in the manifest', () => {
  it('reads seeds ahead of the audience, or first N, with await and timeout (defaults: sent, 10m)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-canary-load-'))
    try {
      await writeFile(path.join(dir, 'seeds.csv'), 'contactKey,to\nqa-2,qa2@team.example.com\n')
      await writeFile(
        path.join(dir, 'a.yaml'),
        [
          'apiVersion: mcsend/v1',
          'kind: Send',
          'name: with-seeds',
          'definitionKey: d',
          'canary:',
          '  recipients:',
          '    - inline: [{contactKey: qa-1, to: qa1@team.example.com}]',
          '    - csv: ./seeds.csv',
          '  await: accepted',
          '  timeout: 1m30s',
          'recipients:',
          '  - inline: [{contactKey: a, to: a@example.com}, {contactKey: b, to: b@example.com}]',
          '---',
          'apiVersion: mcsend/v1',
          'kind: Send',
          'name: first-two',
          'definitionKey: d',
          'canary: {first: 2}',
          'recipients:',
          '  - inline: [{contactKey: a, to: a@example.com}, {contactKey: b, to: b@example.com}, {contactKey: c, to: c@example.com}]',
        ].join('\n'),
      )
      const result = await loadManifests(['a.yaml'], {fs, cwd: dir})
      expect(result.problems).toEqual([])
      const [withSeeds, firstTwo] = result.sends
      expect(withSeeds!.recipients.map((r) => r.contactKey)).toEqual(['qa-1', 'qa-2', 'a', 'b'])
      expect(withSeeds!.canary).toEqual({from: 'seeds', size: 2, await: 'accepted', timeoutMs: 90_000, line: 6, column: 3})
      expect(withSeeds!.sources.map((s) => s.file)).toEqual(['seeds.csv'])
      expect(firstTwo!.recipients.map((r) => r.contactKey)).toEqual(['a', 'b', 'c'])
      expect(firstTwo!.canary).toMatchObject({from: 'first', size: 2, await: 'sent', timeoutMs: 600_000})
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})

describe('the canary step in the plan', () => {
  it('sends the canary in its own leading requests, then the rest cut as usual', () => {
    const plan = buildPlan([makeSend({recipients: manyRecipients(7), batchSize: 3, canary: seeds(2)})], emptyState(), opts)
    const send = plan.sends[0]!
    expect(send.batches.map((b) => [b.index, b.canary === true, b.messages.map((m) => m.contactKey)])).toEqual([
      [1, true, ['c0', 'c1']],
      [2, false, ['c2', 'c3', 'c4']],
      [3, false, ['c5', 'c6']],
    ])
    expect(send.canary).toEqual({from: 'seeds', size: 2, await: 'sent', timeoutMs: 600_000, batches: 1, toSend: 2})
    expect(send.counts.requests).toBe(3)
    expect(describeCanaryStep(send.canary!)).toBe('canary: 2 seed recipients first in 1 request, then wait up to 10m until each is sent; the rest only after that')
  })

  it('awaits a canary accepted by an earlier run again without re-sending it; no step when nothing follows it', () => {
    const send = makeSend({recipients: manyRecipients(5), canary: seeds(2, {from: 'first'})})
    const accepted = ['c0', 'c1'].map((c) => recipientRecord({send: 'test-send', contactKey: c}))
    const resumed = buildPlan([send], stateWith(accepted), opts).sends[0]!
    expect(resumed.canary).toMatchObject({size: 2, toSend: 0, batches: 0})
    expect(resumed.batches.map((b) => b.canary === true)).toEqual([false])
    const split = splitCanary(buildPlan([send], stateWith(accepted), opts))
    expect(split.messages.map((m) => [m.contactKey, m.earlier])).toEqual([
      ['c0', true],
      ['c1', true],
    ])
    expect(split.canary.sends[0]!.batches).toEqual([])
    expect(split.rest.sends[0]!.batches.flatMap((b) => b.messages.map((m) => m.contactKey))).toEqual(['c2', 'c3', 'c4'])

    const all = ['c0', 'c1', 'c2', 'c3', 'c4'].map((c) => recipientRecord({send: 'test-send', contactKey: c}))
    expect(buildPlan([send], stateWith(all), opts).sends[0]!.canary).toBeUndefined()
    // A canary as large as the audience has nothing to guard: an ordinary send.
    const everyone = buildPlan([makeSend({recipients: manyRecipients(2), canary: seeds(5, {from: 'first'})})], emptyState(), opts).sends[0]!
    expect(everyone.canary).toBeUndefined()
    expect(everyone.batches.every((b) => b.canary === undefined)).toBe(true)
  })

  it('mixes canary messages sent now and accepted before (a retry of a rejected seed)', () => {
    const send = makeSend({recipients: manyRecipients(4), canary: seeds(2)})
    const records = [recipientRecord({send: 'test-send', contactKey: 'c0'}), recipientRecord({send: 'test-send', contactKey: 'c1'}, {status: 'failed', errorCode: 109106})]
    const split = splitCanary(buildPlan([send], stateWith(records), opts))
    expect(split.messages.map((m) => [m.contactKey, m.earlier])).toEqual([
      ['c1', false],
      ['c0', true],
    ])
    expect(split.canary.sends[0]!.batches.flatMap((b) => b.messages.map((m) => m.contactKey))).toEqual(['c1'])
  })
})

describe('judging the canary', () => {
  const r = (state: CanaryRecipient['state'], extra: Partial<CanaryRecipient> = {}): CanaryRecipient => ({send: 's', messageKey: 'k', contactKey: 'c', to: '', await: 'sent', earlier: false, state, event: 'sent', ...extra})

  it('sent reaches either await; queued reaches only accepted; notSent and other events fail with their reason; 404 waits', () => {
    expect(judgeAnswer('sent', {event: 'sent'})).toEqual({state: 'reached', event: 'sent'})
    expect(judgeAnswer('sent', {event: 'queued'})).toEqual({state: 'waiting', event: 'queued'})
    expect(judgeAnswer('accepted', {event: 'queued'})).toEqual({state: 'reached', event: 'queued'})
    expect(judgeAnswer('accepted', {event: 'notSent', statusCode: 24, reason: '24 ListDetectiveExclusion'})).toEqual({state: 'failed', event: 'notSent', statusCode: 24, reason: '24 ListDetectiveExclusion'})
    expect(judgeAnswer('sent', {event: 'other', reason: 'TransactionalSendEvents.EmailBounced'})).toEqual({state: 'failed', event: 'other', reason: 'TransactionalSendEvents.EmailBounced'})
    expect(judgeAnswer('accepted', undefined)).toEqual({state: 'waiting', event: 'notFound'})
  })

  it('beyond the status reach: a recorded final event decides at once; none, or queued while sent is awaited, fails naming --skip-canary', () => {
    expect(judgeBeyondReach('sent', {event: 'sent'})).toEqual({state: 'reached', event: 'sent'})
    expect(judgeBeyondReach('accepted', {event: 'queued'})).toEqual({state: 'reached', event: 'queued'})
    expect(judgeBeyondReach('sent', {event: 'notSent', statusCode: 24, reason: '24 ListDetectiveExclusion'})).toEqual({state: 'failed', event: 'notSent', statusCode: 24, reason: '24 ListDetectiveExclusion'})
    const gone = {state: 'failed', event: 'notFound', reason: BEYOND_REACH_REASON}
    expect(judgeBeyondReach('sent', undefined)).toEqual(gone)
    expect(judgeBeyondReach('sent', {event: 'queued'})).toEqual(gone)
    expect(BEYOND_REACH_REASON).toContain('--skip-canary')
    const recipients = [r('reached'), r('failed', {event: 'notFound', reason: BEYOND_REACH_REASON, earlier: true})]
    expect(canaryHeadline({verdict: 'failed', recipients, reached: 1, failed: 1, waiting: 0, waitedMs: 0, rest: {messages: 5, requests: 1}})).toBe(
      'Canary cannot be judged: 1 of 2 accepted more than 3 days ago, and Marketing Cloud no longer reports it (`mcsend status` records delivery while it does). --skip-canary sends the rest without waiting.',
    )
  })

  it('any failure fails, else anything waiting is a timeout, else it passed', () => {
    expect(canaryVerdict([r('reached'), r('failed'), r('waiting')])).toBe('failed')
    expect(canaryVerdict([r('reached'), r('waiting')])).toBe('timedOut')
    expect(canaryVerdict([r('reached'), r('reached')])).toBe('passed')
    const failed = [r('reached'), r('failed', {event: 'notSent', reason: '24 ListDetectiveExclusion'})]
    expect(canaryHeadline({verdict: 'failed', recipients: failed, reached: 1, failed: 1, waiting: 0, waitedMs: 300, rest: {messages: 5, requests: 1}})).toBe(
      'Canary failed: 1 of 2 not sent (24 ListDetectiveExclusion).',
    )
  })
})

describe('the canary in the apply Markdown', () => {
  const result = {accepted: 8, alreadyAccepted: 0, rejected: 0, unknown: 0, notAttempted: 0, rejections: [], interrupted: false, batches: {total: 2, done: 2}}

  it('warns when --skip-canary sent everything at once', () => {
    const md = renderApplyMarkdown(result, {target: 'the built-in sandbox', stateLocation: 'state.json', canary: {skipped: true, messages: 2}})
    expect(md).toContain('> [!WARNING]\n> &#45;-skip-canary: the canary &#40;2 messages&#41; is not awaited; every request is sent at once.')
  })

  it('says the canary passed and the rest followed', () => {
    const report = {verdict: 'passed' as const, recipients: [], reached: 2, failed: 0, waiting: 0, waitedMs: 10, rest: {messages: 6, requests: 1}}
    const md = renderApplyMarkdown(result, {target: 'the built-in sandbox', stateLocation: 'state.json', canary: {skipped: false, report, continued: true}})
    expect(md).toContain('### mcsend apply complete')
    expect(md).toContain('**Canary:** Canary passed')
    expect(md).toContain('After the canary: sent the other 6 messages.')
  })
})
