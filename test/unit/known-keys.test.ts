import {describe, expect, it} from 'vitest'

import {sampleKeys, unseenSends} from '../../src/core/known-keys.js'
import {buildPlan} from '../../src/plan/build.js'
import {recipientRecord} from '../helpers/records.js'
import {emptyState, makeSend, manyRecipients, stateWith} from '../helpers/sends.js'

const opts = {stateLocation: '.mcsend/state.json'}

describe('the empty-state check: which sends and which keys', () => {
  it('samples the first, the last and one between, or every key of a small send', () => {
    const plan = buildPlan([makeSend({recipients: manyRecipients(10)}), makeSend({name: 'small', recipients: manyRecipients(2)})], emptyState(), opts)
    const keys = plan.sends[0]!.batches.flatMap((b) => b.messages.map((m) => m.messageKey))
    expect(sampleKeys(plan.sends[0]!, 3)).toEqual([keys[0], keys[3], keys[9]])
    expect(sampleKeys(plan.sends[1]!, 3)).toHaveLength(2)
  })

  it('asks only about sends the state has never seen', () => {
    const sends = [makeSend({name: 'new-one', recipients: manyRecipients(3)}), makeSend({name: 'known', recipients: manyRecipients(3)})]
    // A state that recorded one message of `known` has seen it (a `state rm` of some keys leaves it seen too).
    const state = stateWith([recipientRecord({send: 'known', contactKey: 'c1', to: 'c1@example.com'}, {status: 'accepted', at: '2026-11-30T10:00:00.000Z'})])
    const plan = buildPlan(sends, state, opts)
    expect(unseenSends(plan, state).map((s) => s.name)).toEqual(['new-one'])
    const snapshot = {name: 'new-one', definitionKey: 'test-def', revision: 1, attributes: {}, batchSize: 2000, sources: [], appliedAt: '2026-11-30T10:00:00.000Z'}
    expect(unseenSends(plan, {...state, sends: {'new-one': snapshot}}).map((s) => s.name)).toEqual([])
  })
})
