import {describe, expect, it} from 'vitest'

import {writeFileAtomically} from '../../src/state/file-io.js'
import {memVolume} from '../helpers/state-file.js'

describe('writeFileAtomically', () => {
  it('writes exactly the concatenated pieces, whatever their sizes and characters (chunk boundaries included)', async () => {
    const {volume, fs} = memVolume()
    const mib = 1 << 20
    const pieces = [
      'head\n',
      'a'.repeat(mib - 7),
      'é😀€', // crosses the first chunk's end, multi-byte
      'x'.repeat(3 * mib), // larger than a chunk
      ...Array.from({length: 5000}, (_, i) => `line ${i} ключ ✓ ${'z'.repeat(i % 300)}\n`),
      '',
      'ü'.repeat(mib), // 2 MiB of UTF-8
      'end\n',
    ]
    await writeFileAtomically(fs, '/s/state.json', pieces)
    expect(String(volume.readFileSync('/s/state.json', 'utf8'))).toBe(pieces.join(''))
    expect(volume.readdirSync('/s')).toEqual(['state.json'])
  })
})
