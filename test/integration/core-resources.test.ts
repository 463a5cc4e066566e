import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {describe, expect, it as base} from 'vitest'

import {SANDBOX_STATE} from '../../src/core/connection.js'
import {stateSpec, withLock, withLockedStore, withStore} from '../../src/core/resources.js'
import {StateLockedError} from '../../src/errors.js'
import {makeLockOwner} from '../../src/state/lock.js'
import type {StateStore} from '../../src/state/types.js'

/** Each test gets a file state in its own temporary directory. */
const it = base.extend<{target: {state: string; cwd: string; env: NodeJS.ProcessEnv}}>({
  // eslint-disable-next-line no-empty-pattern
  target: async ({}, use) => {
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'mcsend-resources-'))
    await use({state: 'state.json', cwd, env: {}})
    await rm(cwd, {recursive: true, force: true})
  },
})

describe('core resource helpers', () => {

  it('stateSpec: --state wins, then the sandbox state with --sandbox, else undefined (MCSEND_STATE or the default)', () => {
    expect(stateSpec({state: 'x.json', sandbox: true})).toBe('x.json')
    expect(stateSpec({sandbox: true})).toBe(SANDBOX_STATE)
    expect(stateSpec({sandbox: false})).toBeUndefined()
  })

  it('withLockedStore holds the lock for the body only, and releases it when the body fails', async ({target}) => {
    const attempt = () => withLockedStore(target, makeLockOwner('second'), async () => 'got it')
    const failure = new Error('body failed')
    await expect(
      withLockedStore(target, makeLockOwner('first'), async () => {
        await expect(attempt()).rejects.toBeInstanceOf(StateLockedError)
        throw failure
      }),
    ).rejects.toBe(failure)
    await expect(attempt()).resolves.toBe('got it')
  })

  it('the body error wins over a failing release; a failing release alone is thrown', async ({target}) => {
    await withStore(target, async (real) => {
      const releaseFailure = new Error('release failed')
      const store: StateStore = Object.create(real, {
        lock: {value: async (owner: Parameters<StateStore['lock']>[0]) => {
          const lock = await real.lock(owner)
          return {release: async () => {
            await lock.release()
            throw releaseFailure
          }}
        }},
      })
      const bodyFailure = new Error('body failed')
      await expect(withLock(store, makeLockOwner('t'), async () => {
        throw bodyFailure
      })).rejects.toBe(bodyFailure)
      await expect(withLock(store, makeLockOwner('t'), async () => 'done')).rejects.toBe(releaseFailure)
    })
  })
})
