import {describe, expect, it} from 'vitest'

import {findInvalidUtf8, Utf8Checker, type Utf8Error} from '../../src/manifest/strict-text.js'

/** The checker's verdict on `bytes` fed in chunks of `size` bytes. */
function checkInChunks(bytes: Uint8Array, size: number): Utf8Error | undefined {
  const checker = new Utf8Checker()
  for (let i = 0; i < bytes.length; i += size) if (!checker.push(bytes.subarray(i, i + size))) return checker.error
  return checker.end() ? undefined : checker.error
}

const CHUNK_SIZES = [1, 2, 3, 4, 5, 7, 64, 1 << 20]

describe('Utf8Checker', () => {
  it('accepts valid text of 1 to 4-byte sequences however it is cut into chunks', () => {
    const line = 'ascii, é ü ß, € ✓ 日本, 😀 𝄞\r\n'
    const bytes = Buffer.from(line.repeat(50))
    for (const size of CHUNK_SIZES) expect(checkInChunks(bytes, size), `chunks of ${size}`).toBeUndefined()
    expect(findInvalidUtf8(bytes)).toBeUndefined()
  })

  it('locates the first bad byte at the same line and column (UTF-16 units) whatever the chunk size', () => {
    // Line 3: "ab😀é" is 5 UTF-16 units, so the bad byte is at column 6.
    const bytes = Buffer.concat([Buffer.from('first line €\nsecond 日本\nab😀é'), Buffer.from([0xff]), Buffer.from('rest\nmore\n')])
    const expected = {offset: Buffer.byteLength('first line €\nsecond 日本\nab😀é'), line: 3, column: 6, byte: '0xff'}
    for (const size of CHUNK_SIZES) expect(checkInChunks(bytes, size), `chunks of ${size}`).toEqual(expected)
    expect(findInvalidUtf8(bytes)).toEqual(expected)
  })

  it('refuses what TextDecoder refuses: overlong forms, surrogates, code points above U+10FFFF, stray continuation bytes', () => {
    const cases: [number[], string][] = [
      [[0xc0, 0xaf], '0xc0'],
      [[0xe0, 0x80, 0xaf], '0xe0'],
      [[0xed, 0xa0, 0x80], '0xed'],
      [[0xf4, 0x90, 0x80, 0x80], '0xf4'],
      [[0xf8, 0x88, 0x80, 0x80, 0x80], '0xf8'],
      [[0x80], '0x80'],
      [[0xe2, 0x82, 0x41], '0xe2'],
    ]
    for (const [sequence, byte] of cases) {
      const bytes = Buffer.concat([Buffer.from('ok\nxy'), Buffer.from(sequence), Buffer.from('z\n')])
      expect(() => new TextDecoder('utf-8', {fatal: true}).decode(bytes)).toThrow()
      for (const size of CHUNK_SIZES) expect(checkInChunks(bytes, size), `${byte} in chunks of ${size}`).toEqual({offset: 5, line: 2, column: 3, byte})
    }
  })

  it('refuses a sequence cut off by the end of the input, even when it started in an earlier chunk', () => {
    const bytes = Buffer.concat([Buffer.from('a\n€'), Buffer.from([0xf0, 0x9f, 0x98])])
    for (const size of CHUNK_SIZES) expect(checkInChunks(bytes, size), `chunks of ${size}`).toEqual({offset: 5, line: 2, column: 2, byte: '0xf0'})
  })

  it('keeps counting lines past a line longer than a chunk', () => {
    const long = 'é'.repeat(5000)
    const bytes = Buffer.concat([Buffer.from(`x\n${long}\n${long}`), Buffer.from([0xc3, 0x28])])
    for (const size of [3, 1000, 4096]) expect(checkInChunks(bytes, size), `chunks of ${size}`).toEqual({offset: bytes.length - 2, line: 3, column: 5001, byte: '0xc3'})
  })
})
