import {describe, expect, it} from 'vitest'

import {makePaint} from '../../src/render/paint.js'
import {renderStatusText} from '../../src/render/status-text.js'
import {
  NEVER_ACCEPTED_MESSAGE,
  STATUS_REACH_MS,
  deliveryFromStatus,
  selectForStatus,
  settlePending,
  summariseStatus,
} from '../../src/status/delivery.js'
import {MIN_STATUS_RATE, Pacer} from '../../src/status/pacer.js'
import type {MessageRecord} from '../../src/state/types.js'
import {testRecord} from '../helpers/records.js'

const NOW = new Date('2026-03-10T12:00:00.000Z')
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3600_000).toISOString()

function record(key: string, overrides: Partial<MessageRecord> = {}): MessageRecord {
  return testRecord(0, {messageKey: key, send: 'news', at: hoursAgo(1), ...overrides})
}

/** An accepted record whose delivery event is known (not sent: with its subscriber status code), checked at `checkedAt`. */
function delivered(key: string, event: 'queued' | 'sent' | 'notSent', checkedAt = 'x', statusCode?: number): MessageRecord {
  return record(key, {delivery: {event, ...(statusCode === undefined ? {} : {statusCode}), checkedAt}})
}

describe('deliveryFromStatus', () => {
  it('maps each event category and keeps the code only for notSent', () => {
    expect(deliveryFromStatus({eventCategoryType: 'TransactionalSendEvents.EmailQueued', timestamp: '2026-03-10T10:00:00.000Z'}, 'x')).toEqual({
      event: 'queued',
      at: '2026-03-10T10:00:00.000Z',
      checkedAt: 'x',
    })
    expect(deliveryFromStatus({eventCategoryType: 'TransactionalSendEvents.EmailSent', statusCode: 3}, 'x')).toEqual({event: 'sent', checkedAt: 'x'})
    expect(deliveryFromStatus({eventCategoryType: 'TransactionalSendEvents.EmailNotSent', statusCode: 24, statusMessage: 'ListDetectiveExclusion'}, 'x')).toEqual({
      event: 'notSent',
      statusCode: 24,
      statusMessage: 'ListDetectiveExclusion',
      checkedAt: 'x',
    })
    // Any 200 proves the message exists: an unknown category is kept with its raw name.
    expect(deliveryFromStatus({eventCategoryType: 'Something.Else'}, 'x')).toEqual({event: 'other', statusMessage: 'Something.Else', checkedAt: 'x'})
  })
})

describe('selectForStatus', () => {
  it('asks only accepted, non-final, young records of the chosen sends', () => {
    const records = [
      record('ask-1'),
      delivered('ask-queued', 'queued', hoursAgo(1)),
      delivered('final-sent', 'sent', hoursAgo(1)),
      delivered('final-not', 'notSent', hoursAgo(1), 24),
      record('old', {at: new Date(NOW.getTime() - STATUS_REACH_MS - 60_000).toISOString()}),
      record('pending', {status: 'pending'}),
      record('other-send', {send: 'other'}),
    ]
    const s = selectForStatus(records, {now: NOW, sends: new Set(['news'])})
    expect(s.ask.map((r) => r.messageKey)).toEqual(['ask-1', 'ask-queued'])
    expect(s.known.map((r) => r.messageKey)).toEqual(['final-sent', 'final-not'])
    expect(s.tooOld.map((r) => r.messageKey)).toEqual(['old'])
    expect(s.notAccepted.map((r) => r.messageKey)).toEqual(['pending'])
  })

  it('dates a message by its queued event when that is earlier than the record', () => {
    const r = record('k', {at: hoursAgo(1), delivery: {event: 'queued', at: hoursAgo(80), checkedAt: hoursAgo(1)}})
    expect(selectForStatus([r], {now: NOW}).tooOld).toHaveLength(1)
  })
})

describe('settlePending', () => {
  const pending = record('p', {status: 'pending', errorMessage: 'x'})
  it('found: accepted with the delivery event', () => {
    const settled = settlePending(pending, {eventCategoryType: 'TransactionalSendEvents.EmailQueued'}, NOW)
    expect(settled).toMatchObject({status: 'accepted', at: NOW.toISOString(), delivery: {event: 'queued'}})
    expect(settled).not.toHaveProperty('errorMessage')
  })
  it('not found: failed, so the plan retries it', () => {
    expect(settlePending(pending, undefined, NOW)).toMatchObject({status: 'failed', errorMessage: NEVER_ACCEPTED_MESSAGE})
  })
  it('leaves records that are not pending alone', () => {
    expect(settlePending(record('a'), undefined, NOW)).toBeUndefined()
  })
  it('an event category it does not know is accepted, with its raw name, not left pending', () => {
    expect(settlePending(pending, {eventCategoryType: 'TransactionalSendEvents.EmailBounced'}, NOW)).toMatchObject({status: 'accepted', delivery: {event: 'other', statusMessage: 'TransactionalSendEvents.EmailBounced'}})
  })
})

/** One message sent and two not sent for code 24 (ListDetectiveExclusion): the base of the summaries below. */
function sentAndTwoListDetective(): MessageRecord[] {
  return [delivered('s1', 'sent'), delivered('n1', 'notSent', 'x', 24), delivered('n2', 'notSent', 'x', 24)]
}

describe('summariseStatus', () => {
  it('counts per send and groups not-sent reasons by code name', () => {
    const records = [
      ...sentAndTwoListDetective(),
      delivered('n3', 'notSent', 'x', 16),
      delivered('q1', 'queued'),
      record('old'),
      record('gone'),
      record('unasked'),
      record('p', {status: 'pending'}),
      record('f', {status: 'failed', send: 'other'}),
    ]
    const summary = summariseStatus(records, {tooOld: new Set(['old']), notFound: new Set(['gone'])})
    expect(summary.sends.map((s) => s.send)).toEqual(['news', 'other'])
    expect(summary.sends[0]).toEqual({send: 'news', total: 9, accepted: 8, pending: 1, failed: 0, queued: 1, sent: 1, notSent: 3, tooOld: 1, notFound: 1, unchecked: 1})
    expect(summary.totals.failed).toBe(1)
    expect(summary.notSentReasons).toEqual([
      {send: 'news', statusCode: 24, reason: '24 ListDetectiveExclusion', count: 2},
      {send: 'news', statusCode: 16, reason: '16 InvalidAttributeValue', count: 1},
    ])
  })
})

describe('renderStatusText', () => {
  it('prints counts per send, unknown (too old to query), and the not-sent reasons by code name', () => {
    const records = [...sentAndTwoListDetective(), record('old')]
    const summary = summariseStatus(records, {tooOld: new Set(['old']), notFound: new Set()})
    const report = {...summary, state: '.mcsend/state.json', checkedAt: NOW.toISOString(), asked: 3, alreadyKnown: 0, interrupted: false, unsaved: 0, backoffs: 0}
    const lines = renderStatusText(report, {paint: makePaint(false)}).split('\n')
    expect(lines).toContain('news  4 accepted: 1 sent, 2 not sent, 1 unknown (too old to query)')
    expect(lines).toContain('Not sent, by reason:')
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}news {2}24 {4}ListDetectiveExclusion {2}2$/))
    expect(lines).toContainEqual(expect.stringContaining('1 message accepted more than 3 days ago: unknown (too old to query)'))
  })
})

describe('Pacer', () => {
  function fakeTime() {
    let t = 0
    const sleeps: number[] = []
    return {
      deps: {now: () => t, sleep: async (ms: number) => void (sleeps.push(ms), (t += ms))},
      sleeps,
      advance: (ms: number) => void (t += ms),
    }
  }

  it('spaces requests 1/rate apart without bursting', async () => {
    const time = fakeTime()
    const pacer = new Pacer(5, time.deps)
    for (let i = 0; i < 4; i++) await pacer.take()
    expect(time.sleeps).toEqual([200, 200, 200])
  })

  it('halves the rate and waits out Retry-After on a 429, then earns it back', async () => {
    const time = fakeTime()
    const pacer = new Pacer(4, time.deps)
    await pacer.take()
    pacer.backOff(1000)
    expect(pacer.rate).toBe(2)
    await pacer.take()
    expect(time.sleeps).toEqual([1000])
    await pacer.take()
    expect(time.sleeps.at(-1)).toBe(500)
    for (let i = 0; i < 10; i++) pacer.succeeded()
    expect(pacer.rate).toBeCloseTo(2.4)
    for (let i = 0; i < 10; i++) pacer.backOff(0)
    expect(pacer.rate).toBe(MIN_STATUS_RATE)
    expect(pacer.backoffs).toBe(11)
  })

  it('rejects a nonsensical rate', () => {
    expect(() => new Pacer(0)).toThrow(RangeError)
  })
})
