import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {describe, expect, it} from 'vitest'

import {makeStateHasher} from '../../src/keys/keyed.js'

import {chooseBatchSize, chunk, MAX_BATCH_SIZE} from '../../src/plan/batch.js'
import {deriveMessageKey, MAX_MESSAGE_KEY_LENGTH} from '../../src/keys/message-key.js'

describe('deriveMessageKey', () => {
  it('is the documented formula: name.rREVISION. + base64url(sha256(name\\nrevision\\ncontactKey))', () => {
    const digest = createHash('sha256').update('release-4-2-notes\n1\nann-001').digest('base64url')
    expect(deriveMessageKey('release-4-2-notes', 1, 'ann-001')).toBe(`release-4-2-notes.r1.${digest}`)
  })

  it('matches the shell recipe in the README', () => {
    const out = execFileSync('sh', ['-c', "printf 'release-4-2-notes\\n1\\nann-001' | sha256sum | cut -d' ' -f1 | xxd -r -p | base64 | tr '+/' '-_' | tr -d '='"], {encoding: 'utf8'}).trim()
    expect(deriveMessageKey('release-4-2-notes', 1, 'ann-001')).toBe(`release-4-2-notes.r1.${out}`)
  })

  it('matches the keyed shell recipe in the README (HMAC-SHA-256 under MCSEND_STATE_KEY)', () => {
    const key = 'example-key-do-not-use-0123456789'
    const out = execFileSync('sh', ['-c', `printf 'release-4-2-notes\\n1\\nann-001' | openssl dgst -sha256 -hmac '${key}' -binary | base64 | tr '+/' '-_' | tr -d '='`], {encoding: 'utf8'}).trim()
    expect(out).toBe('JIsMCexZuctl91Oc4uMp9TjptXbNy147rg6058gUJgU')
    expect(makeStateHasher(key).messageKeyDeriver('release-4-2-notes', 1)('ann-001')).toBe(`release-4-2-notes.r1.${out}`)
  })

  it('is stable across calls', () => {
    const a = deriveMessageKey('n', 3, 'ck')
    for (let i = 0; i < 5; i++) expect(deriveMessageKey('n', 3, 'ck')).toBe(a)
  })

  it('changes with name, revision and contactKey', () => {
    const base = deriveMessageKey('send-a', 1, 'ck')
    expect(deriveMessageKey('send-b', 1, 'ck')).not.toBe(base)
    expect(deriveMessageKey('send-a', 2, 'ck')).not.toBe(base)
    expect(deriveMessageKey('send-a', 1, 'ck2')).not.toBe(base)
  })

  it('cannot be confused by separators inside the contactKey', () => {
    // name "a", revision 1, contactKey "1\nx" must differ from any other split of the same characters.
    expect(deriveMessageKey('a', 1, '1\nx')).not.toBe(deriveMessageKey('a', 11, 'x'))
  })

  it('never exceeds 100 characters, even for the longest names and contactKeys', () => {
    const key = deriveMessageKey('n'.repeat(40), 999_999, 'x'.repeat(5000))
    expect(key.length).toBeLessThanOrEqual(MAX_MESSAGE_KEY_LENGTH)
    expect(deriveMessageKey('n'.repeat(200), 1, 'x').length).toBe(MAX_MESSAGE_KEY_LENGTH)
  })

  it('keeps at least 128 bits of digest', () => {
    const key = deriveMessageKey('release', 1, 'x')
    const digest = key.split('.').at(-1)!
    expect(Buffer.from(digest, 'base64url').length * 8).toBeGreaterThanOrEqual(128)
  })
})

describe('batching', () => {
  it('defaults to 2000, 500 with attributes, or the manifest value capped at 2000', () => {
    expect(chooseBatchSize(undefined, false)).toBe(2000)
    expect(chooseBatchSize(undefined, true)).toBe(500)
    expect(chooseBatchSize(100, true)).toBe(100)
    expect(chooseBatchSize(5000, false)).toBe(MAX_BATCH_SIZE)
  })

  it('chunks in order with a short last batch', () => {
    const items = Array.from({length: 4501}, (_, i) => i)
    const batches = chunk(items, 2000)
    expect(batches.map((b) => b.length)).toEqual([2000, 2000, 501])
    expect(batches.flat()).toEqual(items)
  })

  it('rejects a zero size', () => {
    expect(() => chunk([1], 0)).toThrow(RangeError)
  })
})
