import {createHash, createHmac} from 'node:crypto'
import {describe, expect, it} from 'vitest'

import {canonicalAttributesText, hashAttributes, hashContactKey, hashTo} from '../../src/keys/hash.js'
import {makeStateHasher} from '../../src/keys/keyed.js'

type Attributes = Readonly<Record<string, string | number | boolean>>

/** The state hashes as first written (hash.ts before it avoided the merged object and the Buffer): stored hashes are these. */
const reference = {
  text(shared: Attributes, own: Attributes | undefined): string {
    const merged: Attributes = own ? {...shared, ...own} : shared
    const keys = Object.keys(merged).sort()
    return `attributes\n${JSON.stringify(keys.map((k) => [k, merged[k]]))}`
  },
  hash: (input: string) => createHash('sha256').update(input, 'utf8').digest().subarray(0, 9).toString('base64url').slice(0, 11),
  hmac: (key: string, input: string) => createHmac('sha256', key).update(input, 'utf8').digest().subarray(0, 9).toString('base64url').slice(0, 11),
}

const tricky: Array<[string, Attributes, Attributes | undefined]> = [
  ['nothing', {}, undefined],
  ['an empty own object', {}, {}],
  ['shared only', {Release: '4.2.0', Count: 3}, undefined],
  ['own only', {}, {FirstName: 'Ann', Plan: 'pro'}],
  ['own overrides shared', {Plan: 'free', Release: '4.2'}, {Plan: 'pro'}],
  ['key order differs from sorted order', {}, {zeta: 'z', Alpha: 'a', beta: 'b', _u: 'u', '10': 'ten', '9': 'nine', '': 'empty'}],
  ['integer-like names (Object.keys puts them first, sort puts them by text)', {'2': 'x', b: 'y'}, {'10': 'z', a: 'w'}],
  ['unicode names and values', {'Prénom': 'Zoë', '名前': '太郎'}, {'Émoji': '😀 ok', 'Ω': 'ΩΩ'}],
  ['names sorted by UTF-16 code unit', {}, {'\u{1F600}': 'astral', '\uFFFF': 'bmp-last', 'é': 'latin'}],
  ['values JSON must escape', {}, {q: 'say "hi"', bs: 'a\\b', nl: 'line1\nline2', tab: '\t', nul: '\u0000', del: '\u007f', ls: '\u2028\u2029'}],
  ['lone surrogates', {}, {hi: 'x\ud800y', lo: '\udc00', pair: '\ud83d\ude00'}],
  ['names JSON must escape', {'a"b': 1}, {'c\\d': 2, 'e\nf': 3}],
  ['numbers', {}, {int: 42, neg: -7, zero: 0, negZero: -0, frac: 0.1 + 0.2, big: 1e21, small: 5e-7, max: Number.MAX_SAFE_INTEGER, nan: Number.NaN, inf: Number.POSITIVE_INFINITY}],
  ['booleans', {t: true}, {f: false, t2: true}],
  ['a value overridden by another type', {v: 'text', w: 1}, {v: 2, w: false}],
  ['__proto__ as a name', JSON.parse('{"__proto__": "shared"}') as Attributes, JSON.parse('{"__proto__": "own", "x": 1}') as Attributes],
  ['an own value undefined overrides the shared one', {a: 'shared'}, {a: undefined} as unknown as Attributes],
  ['a value that is not a manifest value', {}, {o: {nested: [1, 'x']}, n: null} as unknown as Attributes],
]

describe('canonicalAttributesText', () => {
  for (const [what, shared, own] of tricky) {
    it(`is the original text: ${what}`, () => {
      expect(canonicalAttributesText(shared, own)).toBe(reference.text(shared, own))
      // Again, through the layout kept from the call before.
      expect(canonicalAttributesText(shared, own)).toBe(reference.text(shared, own))
    })
  }

  it('is the original text when recipients of one layout alternate with others (the layout cache never leaks)', () => {
    const shared = {Release: '4.2', Plan: 'default'}
    const otherShared = {Release: '4.2', Plan: 'default'}
    const owns: Array<Attributes | undefined> = [{FirstName: 'Ann', Plan: 'pro'}, {Plan: 'team', FirstName: 'Bob'}, {FirstName: 'Cy'}, undefined, {}, {FirstName: 'Di', Plan: 'pro', Extra: true}]
    for (let round = 0; round < 3; round++) {
      for (const own of owns) {
        for (const s of [shared, otherShared, {}]) expect(canonicalAttributesText(s, own)).toBe(reference.text(s, own))
      }
    }
  })
})

describe('state hashes', () => {
  it('hashTo and hashContactKey are the first 11 characters of base64url(SHA-256) as before', () => {
    for (const value of ['ann@example.com', 'Zoë@exämple.org', '', 'x\ud800']) {
      expect(hashTo(value)).toBe(reference.hash(`to\n${value}`))
      expect(hashContactKey(value)).toBe(reference.hash(`contact\n${value}`))
    }
  })

  it('hashAttributes is the hash of the original text, with and without own attributes', () => {
    for (const [, shared, own] of tricky) expect(hashAttributes(shared, own)).toBe(reference.hash(reference.text(shared, own)))
  })

  it('keyed hashes are the HMAC of the same texts', () => {
    const key = 'example-key-do-not-use-0123456789'
    const hasher = makeStateHasher(key)
    for (const [, shared, own] of tricky) expect(hasher.hashAttributes(shared, own)).toBe(reference.hmac(key, reference.text(shared, own)))
    expect(hasher.hashTo('ann@example.com')).toBe(reference.hmac(key, 'to\nann@example.com'))
    expect(hasher.hashContactKey('ann-001')).toBe(reference.hmac(key, 'contact\nann-001'))
  })

  it('keeps the values stored states hold (digests computed by the version before this change)', () => {
    expect(hashTo('ann@example.com')).toBe('d8F8mDBn0Eh')
    expect(hashContactKey('ann-001')).toBe('5j98tkfuB5k')
    expect(hashAttributes({Release: '4.2'}, {FirstName: 'Ann'})).toBe('b_0Zs_FaeyM')
    expect(hashAttributes({}, {zeta: 'z', Alpha: 'a', '10': 'ten', q: 'say "hi"', n: -0.5, b: true})).toBe('VaPySOQZ7tm')
})
})
