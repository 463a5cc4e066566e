import {describe, expect, it} from 'vitest'

import {refuseKnownKeys, sampleKeys, unseenSends} from '../../src/core/known-keys.js'
import {buildPlan} from '../../src/plan/build.js'
import type {MessageStatusResult, SfmcClient} from '../../src/sfmc/types.js'
import {Pacer} from '../../src/status/pacer.js'
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

  it('picks the same keys when the messages span many requests', () => {
    for (const [count, batchSize] of [[1, 1], [2, 1], [3, 2], [4, 1], [7, 3], [10, 3], [101, 7]] as const) {
      const plan = buildPlan([makeSend({recipients: manyRecipients(count), batchSize})], emptyState(), opts)
      const send = plan.sends[0]!
      const keys = send.batches.flatMap((b) => b.messages.map((m) => m.messageKey))
      const expected = count <= 3 ? keys : [keys[0], keys[Math.floor(count / 3)], keys[count - 1]]
      expect(sampleKeys(send, 3)).toEqual(expected)
    }
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

describe('the empty-state check: how it asks', () => {
  /** A client whose status answers wait until the test releases them; it records the keys asked. */
  function heldClient(answer: (key: string) => MessageStatusResult | undefined | Error) {
    const asked: string[] = []
    const held: (() => void)[] = []
    const client = {
      getMessageStatus: (key: string) =>
        new Promise<MessageStatusResult | undefined>((resolve, reject) => {
          asked.push(key)
          held.push(() => {
            const a = answer(key)
            if (a instanceof Error) reject(a)
            else resolve(a)
          })
        }),
    } as unknown as SfmcClient
    return {client, asked, release: () => held.splice(0).forEach((f) => f())}
  }
  /** A pacer on a clock that never moves on its own: it counts the slots taken, and sleeping moves the clock. */
  function countingPacer() {
    let now = 0
    let sleeps = 0
    const pacer = new Pacer(5, {now: () => now, sleep: async (ms) => void ((now += ms), sleeps++)})
    return {pacer, sleeps: () => sleeps}
  }
  const until = async (condition: () => boolean) => {
    while (!condition()) await new Promise((resolve) => setImmediate(resolve))
  }

  it("asks a send's sampled keys at once, on one slot of the pacer", async () => {
    const plan = buildPlan([makeSend({recipients: manyRecipients(10), batchSize: 4})], emptyState(), opts)
    const {client, asked, release} = heldClient(() => undefined)
    const {pacer, sleeps} = countingPacer()
    const check = refuseKnownKeys(plan, emptyState(), client, {note: () => undefined, pacer})
    // All three are in flight before any answer.
    await until(() => asked.length === 3)
    expect(asked).toEqual(sampleKeys(plan.sends[0]!, 3))
    release()
    await expect(check).resolves.toBeUndefined()
    expect(sleeps()).toBe(0)
  })

  it('paces one send after another', async () => {
    const sends = [makeSend({name: 'one', recipients: manyRecipients(3)}), makeSend({name: 'two', recipients: manyRecipients(3)})]
    const plan = buildPlan(sends, emptyState(), opts)
    const {client, asked, release} = heldClient(() => undefined)
    const {pacer, sleeps} = countingPacer()
    const check = refuseKnownKeys(plan, emptyState(), client, {note: () => undefined, pacer})
    await until(() => asked.length === 3)
    release()
    await until(() => asked.length === 6)
    release()
    await check
    expect(sleeps()).toBe(1)
  })

  it('refuses on a known key even when another of the sample could not be asked', async () => {
    const plan = buildPlan([makeSend({recipients: manyRecipients(10)})], emptyState(), opts)
    const [first, , last] = sampleKeys(plan.sends[0]!, 3)
    const queued: MessageStatusResult = {eventCategoryType: 'TransactionalSendEvents.EmailQueued'}
    const {client, asked, release} = heldClient((key) => (key === first ? queued : key === last ? new Error('HTTP 500') : undefined))
    const notes: string[] = []
    const check = refuseKnownKeys(plan, emptyState(), client, {note: (m) => notes.push(m), pacer: countingPacer().pacer})
    await until(() => asked.length === 3)
    release()
    await expect(check).rejects.toMatchObject({code: 'state_lost'})
    expect(notes).toEqual([])
  })

  it('only warns when the status route fails and no key is known', async () => {
    const plan = buildPlan([makeSend({recipients: manyRecipients(10)})], emptyState(), opts)
    const {client, asked, release} = heldClient(() => new Error('HTTP 500'))
    const notes: string[] = []
    const check = refuseKnownKeys(plan, emptyState(), client, {note: (m) => notes.push(m), pacer: countingPacer().pacer})
    await until(() => asked.length === 3)
    release()
    await expect(check).resolves.toBeUndefined()
    expect(notes).toHaveLength(1)
    expect(notes[0]).toContain('could not ask Marketing Cloud whether send test-send was sent before (HTTP 500)')
  })
})
