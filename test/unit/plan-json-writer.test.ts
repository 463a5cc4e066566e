import {Writable} from 'node:stream'

import {describe, expect, it} from 'vitest'

import {streamWriter} from '../../src/render/plan-json.js'

describe('streamWriter', () => {
  it('goes on only once the chunk is written, even on a stream whose write() always returns true', async () => {
    const written: string[] = []
    const stream = new Writable({
      highWaterMark: 1 << 30,
      write(chunk: Buffer, _encoding, callback) {
        // Done on a later turn of the event loop, as a file or a pipe would be.
        setImmediate(() => {
          written.push(chunk.toString())
          callback()
        })
      },
    })
    const write = streamWriter(stream)
    for (const chunk of ['a', 'b', 'c']) {
      await write(chunk)
      expect(written.at(-1)).toBe(chunk)
    }
    expect(written).toEqual(['a', 'b', 'c'])
  })

  it('rejects when the stream fails', async () => {
    const stream = new Writable({write: (_chunk, _encoding, callback) => callback(new Error('EPIPE'))})
    stream.on('error', () => undefined)
    await expect(streamWriter(stream)('x')).rejects.toThrow('EPIPE')
  })
})
