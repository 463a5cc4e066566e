import {describe, expect, it} from 'vitest'

import {
  SnapshotFormatError,
  SnapshotLineReader,
  canonicalRecord,
  isNotCanonical,
  parseSnapshotText,
  recordJson,
  recordProblem,
  redactFreeText,
  snapshotPieces,
} from '../../src/state/serialize.js'
import {sameHash, sha256Base64url} from '../../src/keys/hash.js'
import {guardRecord} from '../../src/state/guard.js'
import type {MessageRecord, StateData} from '../../src/state/types.js'
import {compileSchema} from '../helpers/schemas.js'
import {formatOneState, record, records, sendSnapshot} from '../helpers/state-file.js'

const meta = {lineage: 'lin-1', serial: 4, toolVersion: '0.1.0', updatedAt: '2026-11-26T12:00:00.000Z'}

function snapshotText(messages: MessageRecord[]): string {
  return [...snapshotPieces(meta, {notes: sendSnapshot()}, new Map(messages.map((m) => [m.messageKey, m])))].join('')
}

/** A state file as mcsend wrote it before format 2. */
function formatOneText(messages: MessageRecord[]): string {
  return formatOneState(messages, {...meta, sends: {notes: sendSnapshot()}})
}

/** Feeds text to the line reader the way forEachLine does. */
function readCanonical(text: string): StateData {
  const reader = new SnapshotLineReader()
  const lines = text.split('\n')
  const torn = lines.at(-1) !== ''
  lines.slice(0, -1).forEach((line, i) => reader.line(line, i + 1))
  return reader.finish(torn)
}

describe('snapshot serialisation', () => {
  it('writes format 2: one group per batch (what its records share, once), one short line per record, keys sorted', () => {
    const later = '2026-11-26T11:00:00.000Z'
    const input = [
      ...records(5, 'accepted', 'z').map((r) => ({...r, at: later, requestId: 'req-2'})),
      record('zed'),
      record('amy', 'accepted', {requestId: 'req-1'}),
      record('ann', 'accepted', {requestId: 'req-1'}),
      record('bob', 'failed', {errorCode: 30005, errorMessage: 'bad'}),
    ]
    const text = snapshotText(input)
    const doc = JSON.parse(text) as {formatVersion: number; batches: {send: string; status: string; at: string; requestId?: string; keys: string[]}[]}
    expect(doc).toMatchObject({formatVersion: 2, lineage: 'lin-1', serial: 4, toolVersion: '0.1.0'})
    expect(doc).not.toHaveProperty('messages')
    // Ordered by send, revision and time: the later batch comes last.
    expect(doc.batches.map((b) => [b.status, b.requestId ?? null, b.keys.length])).toEqual([
      ['accepted', 'req-1', 2],
      ['failed', null, 1],
      ['pending', null, 1],
      ['accepted', 'req-2', 5],
    ])
    expect(doc.batches.at(-1)?.at).toBe(later)
    const lines = text.split('\n')
    const recordLines = lines.filter((l) => /^ {6}"[A-Za-z0-9_-]{33}/.test(l))
    expect(recordLines).toHaveLength(input.length)
    for (const line of recordLines) expect(Buffer.byteLength(line) + 1).toBeLessThanOrEqual(100)
    const keys = doc.batches.at(-1)!.keys.map((entry) => entry.slice(33))
    expect(keys).toEqual([...keys].sort())
    // A compact entry: the three hashes, then the key after `notes.r1.`.
    const amy = record('amy', 'accepted', {requestId: 'req-1'})
    expect(doc.batches[0]?.keys).toContain(amy.toHash + amy.attributesHash + amy.contactHash + amy.messageKey.slice('notes.r1.'.length))
    expect(text).not.toContain('"messageKey"')
    expect(text).not.toContain('"send":"notes","revision":1,"status":"accepted","at":"2026-11-26T10:00:00.000Z","requestId":"req-1","keys":["')
  })

  it('cuts the 22-character hashes of older states to the 11 characters mcsend computes now, which sameHash matches', () => {
    const long = {...record('amy', 'accepted'), toHash: sha256Base64url('to amy', 16), attributesHash: sha256Base64url('attrs amy', 16), contactHash: sha256Base64url('contact amy', 16)}
    const read = readCanonical(snapshotText([long])).messages.get(long.messageKey)!
    expect(read).toEqual({...long, toHash: long.toHash.slice(0, 11), attributesHash: long.attributesHash.slice(0, 11), contactHash: long.contactHash.slice(0, 11)})
    expect(sameHash(long.toHash, read.toHash)).toBe(true)
    expect(sameHash(read.toHash, long.toHash)).toBe(false) // a stored short hash against a longer one: no
    expect(sameHash(long.toHash, sha256Base64url('to amy', 9).slice(0, 11))).toBe(true)
    expect(sameHash(read.toHash, sha256Base64url('to amy', 9).slice(0, 11))).toBe(true)
  })

  it('keeps records without a compact form (a key of its own, other hashes, a delivery status) whole', () => {
    const input = [
      record('own', 'accepted', {messageKey: 'chosen-by-hand-1'}),
      record('short', 'accepted', {toHash: 'h1'}),
      record('seen', 'accepted', {delivery: {event: 'sent', at: '2026-11-26T10:05:00.000Z', checkedAt: '2026-11-26T10:10:00.000Z'}}),
    ]
    const text = snapshotText(input)
    expect(text).toContain('{"messageKey":"chosen-by-hand-1",')
    expect(text).toContain('"toHash":"h1"')
    expect(text).toMatch(/\{"m":"[A-Za-z0-9_-]{33}[^"]+","delivery":\{"event":"sent"/)
    const read = readCanonical(text)
    expect(read).toEqual(parseSnapshotText(text))
    for (const r of input) expect(read.messages.get(r.messageKey)).toEqual(r)
  })

  it('still reads format 1 (one record per messageKey), line by line and whole', () => {
    const input = [record('amy', 'accepted', {requestId: 'req-1'}), record('bob', 'failed', {errorCode: 30005, errorMessage: 'bad'})]
    const text = formatOneText(input)
    const streamed = readCanonical(text)
    expect(streamed).toEqual(parseSnapshotText(text))
    expect(streamed.formatVersion).toBe(1)
    expect([...streamed.messages.values()]).toEqual(input)
  })

  it('is deterministic whatever the insertion order', () => {
    const input = records(50)
    expect(snapshotText([...input].reverse())).toBe(snapshotText(input))
  })

  it('groups by every shared field, also when one time is shared by many different heads or a field holds a separator', () => {
    // Rejections of one batch share their time but not their message: more heads per time than are compared one by one.
    const rejected = Array.from({length: 40}, (_, i) => record(`r${i}`, 'failed', {requestId: 'req-1', errorCode: 30000 + (i % 20), errorMessage: `bad ${i % 25}`}))
    const odd = [
      record('s1', 'failed', {requestId: '\u0001', errorMessage: 'x'}),
      record('s2', 'failed', {errorMessage: 'x'}),
      record('s3', 'failed', {requestId: 'a\u0000b'}),
      record('s4', 'failed', {requestId: 'a', errorMessage: 'b'}),
      record('s5', 'accepted', {requestId: 'req-1', revision: 2, messageKey: 'notes.r2.k5'}),
    ]
    const input = [...rejected, ...odd, ...records(30, 'accepted', 'ok').map((r) => ({...r, requestId: 'req-1'}))]
    const text = snapshotText(input)
    const doc = JSON.parse(text) as {batches: {revision: number; status: string; requestId?: string; errorCode?: number; errorMessage?: string; keys: string[]}[]}
    const heads = doc.batches.map((b) => JSON.stringify([b.revision, b.status, b.requestId, b.errorCode, b.errorMessage]))
    expect(new Set(heads).size).toBe(heads.length)
    const read = readCanonical(text)
    expect(read.messages.size).toBe(input.length)
    for (const r of input) expect(read.messages.get(r.messageKey)).toEqual(r)
    expect(snapshotText([...input].reverse())).toBe(text)
  })

  it('reads its own layout line by line, and the same data as a whole-document parse', () => {
    const input = [record('amy', 'accepted', {requestId: 'r', delivery: {event: 'notSent', statusCode: 24, statusMessage: 'ListDetectiveExclusion', checkedAt: 'x'}}), ...records(20)]
    const text = snapshotText(input)
    const streamed = readCanonical(text)
    const whole = parseSnapshotText(text)
    expect(streamed.messages.size).toBe(21)
    expect(streamed).toEqual(whole)
    expect(streamed.messages.get(input[0]!.messageKey)).toEqual(input[0])
    expect(streamed.sends.notes).toEqual(sendSnapshot())
  })

  it('round-trips keys and text that need escaping through the line reader', () => {
    const odd = [
      record('q', 'failed', {messageKey: 'key "with" quotes \\ and \u00e9\u{1F600}', errorMessage: 'line one\nline "two"\ttab \ud800'}),
      record('u', 'accepted', {messageKey: 'ключ-\u2028'}),
    ]
    const text = snapshotText(odd)
    const read = readCanonical(text)
    expect(read).toEqual(parseSnapshotText(text))
    expect(read.messages.get(odd[0]!.messageKey)).toEqual(odd[0])
    expect(read.messages.get(odd[1]!.messageKey)).toEqual(odd[1])
  })

  it('sends a hand-formatted document to the whole-document parser', () => {
    const text = JSON.stringify(JSON.parse(snapshotText(records(3))), null, 2)
    expect(() => readCanonical(text)).toSatisfy((fn: () => unknown) => {
      try {
        fn()
        return false
      } catch (error) {
        return isNotCanonical(error)
      }
    })
    expect(parseSnapshotText(text).messages.size).toBe(3)
  })

  it('reports a bad record with its line', () => {
    const text = snapshotText(records(3)).replace('"status":"pending"', '"status":"sent"')
    const badLine = text.split('\n').findIndex((l) => l.includes('"status":"sent"')) + 1
    expect(badLine).toBeGreaterThan(10)
    try {
      readCanonical(text)
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(SnapshotFormatError)
      expect((error as SnapshotFormatError).line).toBe(badLine)
      expect((error as Error).message).toMatch(/status/)
    }
  })

  it('recognises a newer format and names the version that wrote it', () => {
    const text = snapshotText(records(1)).replace('"formatVersion": 2', '"formatVersion": 3').replace('"toolVersion": "0.1.0"', '"toolVersion": "3.0.0"')
    for (const read of [readCanonical, parseSnapshotText]) {
      try {
        read(text)
        expect.unreachable()
      } catch (error) {
        expect((error as SnapshotFormatError).newerFormat).toEqual({formatVersion: 3, toolVersion: '3.0.0'})
      }
    }
  })

  it('rejects text that is not JSON', () => {
    expect(() => parseSnapshotText('{"formatVersion": 1,')).toThrow(/not valid JSON/)
  })
})

describe('records', () => {
  it('refuses plaintext where a hash belongs', () => {
    expect(recordProblem(record('amy'))).toBeUndefined()
    expect(recordProblem({...record('amy'), toHash: 'amy@example.com'})).toMatch(/toHash/)
    expect(recordProblem({...record('amy'), contactHash: 'Amy Pond'})).toMatch(/contactHash/)
  })

  it('redacts address-like tokens from free text', () => {
    expect(redactFreeText('Invalid address amy@example.com in request')).toBe('Invalid address [redacted] in request')
    expect(guardRecord(record('a', 'failed', {errorMessage: 'to <b@c.d> refused'}), 'append').errorMessage).toBe('to [redacted] refused')
    expect(redactFreeText('nothing to hide')).toBe('nothing to hide')
  })

  it('checks by hand exactly what schemas/state.schema.json says about a record (the guard does not use ajv: 3x slower, see bench/state-validate.ts)', () => {
    const validate = compileSchema('state')
    const inSchema = (r: unknown) => validate({formatVersion: 1, lineage: 'l', serial: 1, updatedAt: '2026-11-26T12:00:00.000Z', sends: {}, messages: {k: r}})
    const {messageKey: _key, ...good} = record('amy', 'accepted', {requestId: 'r', errorCode: 1, errorMessage: 'm', delivery: {event: 'notSent', statusCode: 24, statusMessage: 's', at: '2026-11-26T12:00:00.000Z', checkedAt: '2026-11-26T12:00:00.000Z'}})
    const variants: unknown[] = [
      good,
      {...good, status: 'sent'},
      {...good, revision: 0},
      {...good, revision: 1.5},
      {...good, send: ''},
      {...good, toHash: 'amy@example.com'},
      {...good, attributesHash: 'has space'},
      {...good, contactHash: 7},
      {...good, errorCode: 'x'},
      {...good, requestId: 5},
      {...good, delivery: {event: 'bounced', checkedAt: 'x'}},
      {...good, delivery: {event: 'sent'}},
      {...good, delivery: {event: 'sent', checkedAt: '2026-11-26T12:00:00.000Z', statusCode: 'x'}},
    ]
    for (const v of variants) expect({v, byHand: recordProblem(v) === undefined}).toEqual({v, byHand: inSchema(v)})
  })

  it('drops unknown fields and keeps a canonical field order', () => {
    const messy = {contactHash: 'c1', toHash: 't1', attributesHash: 'a1', at: 'now', status: 'accepted', revision: 2, send: 's', messageKey: 'k', extra: 'x'}
    expect(recordJson(canonicalRecord(messy as MessageRecord), true)).toBe(
      '{"messageKey":"k","send":"s","revision":2,"status":"accepted","at":"now","toHash":"t1","attributesHash":"a1","contactHash":"c1"}',
    )
  })
})
