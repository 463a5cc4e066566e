import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import {abortableSleep} from '../../src/text/duration.js'

describe('abortableSleep (the one wait apply and the canary share)', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  const settled = (p: Promise<void>) => {
    const seen = {done: false}
    void p.then(() => (seen.done = true))
    return seen
  }

  it('resolves once the time has passed, not before', async () => {
    const seen = settled(abortableSleep(1000))
    await vi.advanceTimersByTimeAsync(999)
    expect(seen.done).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(seen.done).toBe(true)
  })

  it('resolves when the signal aborts, and leaves no timer or listener behind', async () => {
    const controller = new AbortController()
    const seen = settled(abortableSleep(60_000, controller.signal))
    await vi.advanceTimersByTimeAsync(10)
    expect(seen.done).toBe(false)
    controller.abort()
    await vi.advanceTimersByTimeAsync(0)
    expect(seen.done).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('resolves at once when the signal has already aborted', async () => {
    const seen = settled(abortableSleep(60_000, AbortSignal.abort()))
    await vi.advanceTimersByTimeAsync(0)
    expect(seen.done).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('removes its abort listener when the time passes first', async () => {
    const controller = new AbortController()
    const remove = vi.spyOn(controller.signal, 'removeEventListener')
    const seen = settled(abortableSleep(5, controller.signal))
    await vi.advanceTimersByTimeAsync(5)
    expect(seen.done).toBe(true)
    expect(remove).toHaveBeenCalledWith('abort', expect.any(Function))
  })
})
