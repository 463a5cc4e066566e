import {describe, expect, it} from 'vitest'

import {FirstSeenIndex} from '../../src/manifest/recipients.js'

/** Feeds `keys` in order; returns, per key, the index of its first occurrence or -1 when it is the first. */
function firsts(keys: readonly string[], hash?: (key: string, seed: number) => number): number[] {
  const index = new FirstSeenIndex((i) => keys[i]!, hash)
  return keys.map((key, i) => index.firstOrAdd(key, i))
}

/** The answers a Map gives. */
function expected(keys: readonly string[]): number[] {
  const seen = new Map<string, number>()
  return keys.map((key, i) => {
    const first = seen.get(key)
    if (first !== undefined) return first
    seen.set(key, i)
    return -1
  })
}

describe('FirstSeenIndex', () => {
  it('answers as a Map does, through many growths, for keys that differ in length, case and script', () => {
    const keys: string[] = []
    for (let i = 0; i < 50_000; i++) keys.push(`cust-${i}`)
    for (let i = 0; i < 50_000; i += 7) keys.push(`cust-${i}`)
    keys.push('', '', 'Zoë', 'ZOË', 'zoë', 'Zoë', '😀', '😀', 'a'.repeat(300), 'a'.repeat(300))
    expect(firsts(keys)).toEqual(expected(keys))
  })

  it('keys that all collide (a hostile source) still get the right answers, through the Map it falls back to', () => {
    const keys = Array.from({length: 2000}, (_, i) => `k${i % 1500}`)
    expect(firsts(keys, () => 42)).toEqual(expected(keys))
  })

  it('equal hashes of different keys are told apart by the keys themselves', () => {
    const keys = ['a', 'b', 'c', 'a', 'c', 'd', 'b']
    expect(firsts(keys, (key) => key.charCodeAt(0) & 1)).toEqual(expected(keys))
  })
})
