import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {StateError, StateLockedError} from '../../src/errors.js'
import {openStateStore} from '../../src/state/open.js'
import type {LockOwner, MessageRecord, StateStore} from '../../src/state/types.js'
import {stateBackends} from '../helpers/backends.js'
import {record, sendSnapshot} from '../helpers/state-file.js'

/**
 * One contract for every state store, run against each backend as mcsend opens it (openStateStore, so through the
 * store guard): round trips, the guards, locking and fencing, folding what a crashed run left.
 */

function owner(operation: string): LockOwner {
  return {operation, who: 'tester@ci', pid: process.pid, host: os.hostname(), since: new Date().toISOString()}
}

const sorted = (records: Iterable<MessageRecord>) => [...records].sort((a, b) => (a.messageKey < b.messageKey ? -1 : 1))

for (const backend of stateBackends) {
  describe.skipIf(backend.skip)(`state store contract (${backend.name})`, () => {
    let dir: string
    let workspace: string | undefined
    const opened: StateStore[] = []

    async function open(): Promise<StateStore> {
      const store = await openStateStore({spec: backend.spec(dir), cwd: dir, env: {}, workspace})
      opened.push(store)
      return store
    }

    beforeEach(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-contract-'))
      workspace = backend.workspace()
    })
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close().catch(() => undefined)
      await backend.cleanup?.(workspace)
      await rm(dir, {recursive: true, force: true})
    })

    it('round-trips records, sends and metadata through append, commit and a fresh load, bumping the serial once per change', async () => {
      const store = await open()
      const lock = await store.lock(owner('apply'))
      const input = [record('amy', 'accepted', {requestId: 'req-1'}), record('bob', 'failed', {errorCode: 30005, errorMessage: 'rejected'}), record('cat')]
      await store.append(input)
      await store.putSend(sendSnapshot())
      await store.setMeta({target: {kind: 'marketing-cloud', authHost: 'mc1.auth.marketingcloudapis.com', accountId: '5140'}, keyFingerprint: 'sha256:fp'})
      await store.commit()
      await store.commit()
      await lock.release()
      const loaded = await (await open()).load()
      expect(loaded).toMatchObject({serial: 1, sends: {notes: sendSnapshot()}, target: {kind: 'marketing-cloud', authHost: 'mc1.auth.marketingcloudapis.com', accountId: '5140'}, keyFingerprint: 'sha256:fp'})
      expect(loaded.lineage).toMatch(/^[0-9a-f-]{36}$/)
      expect(sorted(loaded.messages.values())).toEqual(sorted(input))
    })

    it('guards every write: no address in a hash, a key or the metadata; free text redacted; malformed records refused', async () => {
      const store = await open()
      const lock = await store.lock(owner('apply'))
      await expect(store.append([{...record('amy'), toHash: 'amy@example.com'}])).rejects.toThrow(/toHash/)
      await expect(store.append([{...record('amy'), messageKey: 'amy@example.com'}])).rejects.toThrow(/messageKey/)
      await expect(store.append([{...record('amy'), status: 'sent' as never}])).rejects.toThrow(/status/)
      await expect(store.setMeta({target: {kind: 'marketing-cloud', authHost: 'amy@example.com'}})).rejects.toThrow(/authHost/)
      await store.append([
        record('bob', 'failed', {errorCode: 180008, errorMessage: 'Subscriber bob@example.com is unsubscribed'}),
        record('cat', 'accepted', {delivery: {event: 'notSent', statusCode: 24, statusMessage: 'excluded <cat@example.com>', checkedAt: '2026-11-26T11:00:00.000Z'}}),
      ])
      await store.commit()
      await lock.release()
      const raw = await backend.rawDump(dir, workspace)
      expect(raw).toContain('[redacted]')
      expect(raw).not.toContain('@')
      const loaded = await (await open()).load()
      expect(loaded.messages.size).toBe(2)
      expect(loaded.messages.get(record('bob').messageKey)?.errorMessage).toBe('Subscriber [redacted] is unsubscribed')
    })

    it('locks: a second locker is refused naming the holder; the holder fences itself once its lock is taken away', async () => {
      const a = await open()
      const b = await open()
      const lock = await a.lock(owner('apply'))
      await a.checkLock()
      const refused = await b.lock(owner('plan --refresh')).catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(StateLockedError)
      expect((refused as Error).message).toMatch(/apply/)
      await a.append([record('amy', 'accepted')])
      // The holder is declared gone (state unlock --force) and another run takes over.
      await b.unlock(true)
      const taken = await b.lock(owner('apply'))
      await expect(a.checkLock()).rejects.toBeInstanceOf(StateError)
      await expect(a.commit()).rejects.toThrow(/lost/)
      // What A learns after the loss is kept (never over B's newer records); B's commit holds everything.
      await a.append([record('bob', 'accepted')])
      await b.commit()
      await taken.release()
      await lock.release()
      const c = await open()
      const fold = await c.lock(owner('state unlock'))
      await fold.release()
      const keys = [...(await c.load()).messages.keys()].sort()
      expect(keys).toEqual([record('amy'), record('bob')].map((r) => r.messageKey).sort())
    })

    it('folds what a crashed run left: load shows it, the next command that takes the lock writes it', async () => {
      const crashed = await open()
      const lock = await crashed.lock(owner('apply'))
      await crashed.append([record('amy', 'accepted')])
      await crashed.commit()
      await crashed.append([record('bob', 'accepted')])
      // The process dies here: no commit; its lock goes with it.
      await lock.release()
      await crashed.close()

      const reader = await open()
      const view = await reader.load()
      expect(view.serial).toBe(2)
      expect(view.messages.size).toBe(2)
      const next = await open()
      const held = await next.lock(owner('apply'))
      expect((await next.load()).serial).toBe(2)
      await next.commit()
      await held.release()
      const after = await (await open()).load()
      expect(after.serial).toBe(2)
      expect(after.messages.size).toBe(2)
      expect(await (await open()).unfolded()).toBeUndefined()
    })
  })
}
