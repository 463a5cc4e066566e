import * as fs from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {executePlan} from '../../src/apply/execute.js'
import {buildPlan} from '../../src/plan/build.js'
import {startSandbox, type Sandbox} from '../../src/sandbox/server.js'
import {createSfmcClient} from '../../src/sfmc/client.js'
import {makeLockOwner} from '../../src/state/lock.js'
import {openStateStore} from '../../src/state/open.js'
import type {MessageRecord, StateStore} from '../../src/state/types.js'
import {emptyState, makeSend, manyRecipients} from '../helpers/sends.js'

/**
 * Fencing in the executor with the file state on a real disk and the fake Marketing Cloud over 127.0.0.1: once the
 * lock is gone (removed, or taken over by another run), no batch writes pending records or makes its request, and
 * what the run learned after the loss is kept beside the state, never in the journal the new holder owns.
 */

const BATCH = 10
const RECIPIENTS = 50

let sandbox: Sandbox | undefined
let dir: string | undefined

afterEach(async () => {
  await sandbox?.close()
  if (dir) await rm(dir, {recursive: true, force: true})
  sandbox = undefined
  dir = undefined
})

async function setup(onSend: (count: number) => void) {
  let sends = 0
  sandbox = await startSandbox({
    unknownDefinitions: 'active',
    // Called right after the sandbox wrote its answer, before the client reads it.
    onRequest: (event) => {
      if (event.method === 'POST' && event.path.startsWith('/messaging/v1/email/messages')) onSend(++sends)
    },
  })
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-fencing-'))
  const statePath = path.join(dir, 'state.json')
  const store = await openStateStore({spec: statePath, cwd: dir, env: {}})
  const lock = await store.lock(makeLockOwner('apply'))
  const client = createSfmcClient({clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, authUrl: sandbox.authUrl})
  const plan = buildPlan([makeSend({recipients: manyRecipients(RECIPIENTS), batchSize: BATCH})], emptyState(), {stateLocation: statePath})
  const keysOf = (index: number) => plan.sends[0]!.batches[index]!.messages.map((m) => m.messageKey)
  return {statePath, lockDir: `${statePath}.lock`, store, lock, client, plan, keysOf}
}

/** Another run takes the lock over at once (the new directory may reuse the inode number of the old one). */
function takeOver(lockDir: string): void {
  fs.rmSync(lockDir, {recursive: true})
  fs.mkdirSync(lockDir, {mode: 0o700})
  fs.writeFileSync(path.join(lockDir, 'owner.json'), JSON.stringify({...makeLockOwner('plan --refresh'), token: 'another-run'}))
}

/** What the next run that takes the lock finds: the state with every journal (the side journal too) folded in. */
async function foldedState(statePath: string, lockDir: string): Promise<Map<string, MessageRecord>> {
  fs.rmSync(lockDir, {recursive: true, force: true})
  const next = await openStateStore({spec: statePath, cwd: path.dirname(statePath), env: {}})
  try {
    const lock = await next.lock(makeLockOwner('apply'))
    const state = await next.load()
    await lock.release()
    return state.messages
  } finally {
    await next.close()
  }
}

describe('fencing in the executor (file state)', () => {
  it('the lock directory removed while a request is in flight: its answer is kept aside, and no later batch records or sends', async () => {
    let lockDir = ''
    const t = await setup((count) => {
      if (count === 2) fs.rmSync(lockDir, {recursive: true})
    })
    lockDir = t.lockDir
    const result = await executePlan(t.plan, {client: t.client, store: t.store, clock: () => new Date()}, {parallelism: 1})
    await t.lock.release()
    await t.store.close()

    expect(result.fatal?.message).toMatch(/no longer holds the lock .*was removed/)
    expect(sandbox!.stats.sendRequests).toBe(2)
    expect(sandbox!.outbox()).toHaveLength(2 * BATCH)
    expect(result.notAttempted).toBe(RECIPIENTS - 2 * BATCH)
    const messages = await foldedState(t.statePath, t.lockDir)
    // Both answered batches are recorded accepted (the second from the side journal); the others left no record.
    for (const key of [...t.keysOf(0), ...t.keysOf(1)]) expect(messages.get(key)?.status).toBe('accepted')
    for (const index of [2, 3, 4]) for (const key of t.keysOf(index)) expect(messages.has(key)).toBe(false)
  })

  it('another run takes the lock between a batch\'s pending records and its request: that request is never made', async () => {
    const t = await setup(() => {})
    const third = new Set(t.keysOf(2))
    // The real store, with a look after each append: the third batch's pending records are durable, then the takeover.
    const watched = new Proxy(t.store, {
      get(target, property) {
        if (property === 'append') {
          return async (records: MessageRecord[]) => {
            await target.append(records)
            if (records[0]?.status === 'pending' && third.has(records[0].messageKey)) takeOver(t.lockDir)
          }
        }
        const value = Reflect.get(target, property) as unknown
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
      },
    }) as StateStore
    const result = await executePlan(t.plan, {client: t.client, store: watched, clock: () => new Date()}, {parallelism: 1})
    await t.lock.release()
    await t.store.close()

    expect(result.fatal?.message).toMatch(/no longer holds the lock .*now held by plan --refresh/)
    expect(sandbox!.stats.sendRequests).toBe(2)
    expect(sandbox!.outbox().map((m) => m.messageKey).sort()).toEqual([...t.keysOf(0), ...t.keysOf(1)].sort())
    // The new holder's lock is left alone when the run that lost it releases.
    expect(JSON.parse(fs.readFileSync(path.join(t.lockDir, 'owner.json'), 'utf8'))).toMatchObject({token: 'another-run'})
    const messages = await foldedState(t.statePath, t.lockDir)
    for (const key of [...t.keysOf(0), ...t.keysOf(1)]) expect(messages.get(key)?.status).toBe('accepted')
    // Written while the lock was still held: pending, so the next run sends them with the same keys.
    for (const key of third) expect(messages.get(key)?.status).toBe('pending')
    for (const index of [3, 4]) for (const key of t.keysOf(index)) expect(messages.has(key)).toBe(false)
  })
})
