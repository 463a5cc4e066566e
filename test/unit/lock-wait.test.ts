import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {lockWithin} from '../../src/core/lock-wait.js'
import {StateError, StateLockedError} from '../../src/errors.js'
import {FileStateStore} from '../../src/state/file-store.js'
import {makeLockOwner} from '../../src/state/lock.js'
import {formatDuration, parseDuration} from '../../src/text/duration.js'

describe('parseDuration', () => {
  it('reads durations as terraform and kubectl write them, in milliseconds', () => {
    expect(parseDuration('30s')).toBe(30_000)
    expect(parseDuration('5m')).toBe(300_000)
    expect(parseDuration('1m30s')).toBe(90_000)
    expect(parseDuration('1.5h')).toBe(5_400_000)
    expect(parseDuration('250ms')).toBe(250)
    expect(parseDuration('0')).toBe(0)
    expect(parseDuration('45')).toBe(45_000)
    for (const bad of ['', 'soon', '5 m', '-1s', '1d', 's', '1m30']) expect(parseDuration(bad), bad).toBeUndefined()
  })

  it('formats them back, rounded up to the second', () => {
    expect(formatDuration(0.3)).toBe('1s')
    expect(formatDuration(120)).toBe('2m 00s')
  })
})

describe('lockWithin (a real file state, two stores)', () => {
  let dir: string
  const stores: FileStateStore[] = []
  const open = () => {
    const store = new FileStateStore({path: path.join(dir, 'state.json'), displayPath: 'state.json'})
    stores.push(store)
    return store
  }
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-lock-wait-'))
  })
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close().catch(() => undefined)
    await rm(dir, {recursive: true, force: true})
  })

  it('without a timeout refuses at once with the store\'s own error', async () => {
    const held = await open().lock(makeLockOwner('apply'))
    const waits: string[] = []
    const error = await lockWithin(open(), makeLockOwner('state rm'), {onWait: (e) => waits.push(e.message)}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StateLockedError)
    expect((error as Error).message).toMatch(/locked by apply/)
    expect(waits).toEqual([])
    await held.release()
  })

  it('waits while another run holds the lock and takes it once released', async () => {
    const held = await open().lock(makeLockOwner('apply'))
    const second = open()
    // The holder lets go when it hears the waiter is waiting: the outcome depends on that event, not on time.
    const lock = await lockWithin(second, makeLockOwner('state rm'), {timeoutMs: 60_000, onWait: () => void held.release()})
    expect((await second.lockInfo())?.owner.operation).toBe('state rm')
    await lock.release()
  })

  it('gives up after the timeout (on an injected clock), naming the holder and the wait', async () => {
    const held = await open().lock(makeLockOwner('apply'))
    let clock = 0
    const slept: number[] = []
    const sleep = (ms: number) => {
      slept.push(ms)
      clock += ms
      return Promise.resolve()
    }
    const error = await lockWithin(open(), makeLockOwner('state rm'), {timeoutMs: 5000, now: () => clock, sleep}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StateLockedError)
    expect((error as Error).message).toMatch(/locked by apply .*\(still locked after waiting 5s\)/)
    expect(slept.reduce((a, b) => a + b, 0)).toBe(5000)
    expect(Math.max(...slept)).toBeLessThanOrEqual(2000)
    await held.release()
  })

  it('passes any other error through at once', async () => {
    const failing = {lock: () => Promise.reject(new StateError('disk on fire'))}
    await expect(lockWithin(failing, makeLockOwner('apply'), {timeoutMs: 60_000})).rejects.toThrow('disk on fire')
  })
})
