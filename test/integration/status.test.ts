import {afterEach, describe, expect, it} from 'vitest'
import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {startSandbox, type Sandbox, type SandboxOptions} from '../../src/sandbox/server.js'
import {createSfmcClient} from '../../src/sfmc/client.js'
import {openStateStore} from '../../src/state/open.js'
import {runStatus, type StatusOptions} from '../../src/core/status.js'
import {stateBackends} from '../helpers/backends.js'
import {recipientRecord} from '../helpers/records.js'
import {credentialsEnv} from '../helpers/sandbox-process.js'

const DAY = 24 * 3600 * 1000
const RETRY = {retry: {limit: 8, baseDelayMs: 5, maxDelayMs: 50, maxRetryAfterMs: 1500}}

for (const backend of stateBackends) {
  describe.skipIf(backend.skip)(`mcsend status against the fake (${backend.name} state)`, () => {
    let sandbox: Sandbox
    let dir: string
    let spec: string
    let workspace: string | undefined
    let businessNow = Date.now()

    async function setup(options: SandboxOptions = {}) {
      businessNow = Date.now()
      sandbox = await startSandbox({clock: () => businessNow, ...options})
      dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-status-'))
      spec = backend.spec(dir)
      workspace = backend.workspace()
    }

    afterEach(async () => {
      await sandbox?.close()
      await rm(dir, {recursive: true, force: true})
      await backend.cleanup?.(workspace)
    })

    const env = () => (credentialsEnv(sandbox))

    /** What an apply does: the fake accepts the keys, and the state records them as accepted at `at`. */
    async function accept(send: string, contacts: string[], at = new Date(businessNow)): Promise<string[]> {
      const client = createSfmcClient({clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, authUrl: sandbox.authUrl})
      const recipients = contacts.map((c) => ({contactKey: c, to: `${c}@example.com`, messageKey: `${send}.${c}`}))
      const result = await client.sendBatch({definitionKey: 'release-notes', recipients})
      expect(result.outcomes.every((o) => o.accepted)).toBe(true)
      const records = recipients.map((r) => recipientRecord({send, ...r}, {at: at.toISOString(), requestId: result.requestId}))
      await withStore(async (store) => {
        const lock = await store.lock({operation: 'test', who: 'test', pid: process.pid, host: os.hostname(), since: new Date().toISOString()})
        await store.append(records)
        await store.commit()
        await lock.release()
      })
      return recipients.map((r) => r.messageKey)
    }

    async function withStore<T>(fn: (store: Awaited<ReturnType<typeof openStateStore>>) => Promise<T>): Promise<T> {
      const store = await openStateStore({spec, cwd: dir, env: {}, workspace})
      try {
        return await fn(store)
      } finally {
        await store.close()
      }
    }

    const status = (overrides: Partial<StatusOptions> = {}) =>
      runStatus({paths: [], state: spec, workspace, sandbox: false, rate: 50, cwd: dir, env: env(), clientOptions: RETRY, ...overrides}, {note: () => {}})

    it('records queued first, then sent and notSent with the code name; final keys are never asked again', async () => {
      const outcome = (key: string) => (key.includes('bad') ? {event: 'notSent' as const, statusCode: 24, statusMessage: 'ListDetectiveExclusion'} : {event: 'sent' as const})
      await setup({statusModel: {queuedMs: 60_000, outcome}})
      await accept('news', ['ann', 'bob', 'bad-1', 'bad-2'])
      await accept('promo', ['cy'])

      const first = await status()
      expect(first.asked).toBe(5)
      expect(sandbox.stats.statusRequests).toBe(5)
      expect(first.sends.find((s) => s.send === 'news')).toMatchObject({accepted: 4, queued: 4, sent: 0, notSent: 0})
      let state = await withStore((s) => s.load())
      const queued = state.messages.get('news.ann')!.delivery!
      expect(queued.event).toBe('queued')
      expect(queued.at).toMatch(/Z$/)
      // The fake's CST timestamp converted to UTC lands on the acceptance time (to the second).
      expect(Math.abs(Date.parse(queued.at!) - businessNow)).toBeLessThan(1000)

      businessNow += 2 * 60_000
      const second = await status()
      expect(second.asked).toBe(5)
      expect(second.sends.find((s) => s.send === 'news')).toMatchObject({sent: 2, notSent: 2, queued: 0})
      expect(second.notSentReasons).toEqual([{send: 'news', statusCode: 24, reason: '24 ListDetectiveExclusion', count: 2}])
      state = await withStore((s) => s.load())
      expect(state.messages.get('news.bad-1')!.delivery).toMatchObject({event: 'notSent', statusCode: 24, statusMessage: 'ListDetectiveExclusion'})
      expect(state.messages.get('news.ann')!.delivery).toMatchObject({event: 'sent'})
      expect(state.messages.get('news.ann')!.status).toBe('accepted')

      const before = sandbox.stats.statusRequests
      const third = await status()
      expect(third.asked).toBe(0)
      expect(third.alreadyKnown).toBe(5)
      expect(sandbox.stats.statusRequests).toBe(before)
    })

    it('only the sends asked for', async () => {
      await setup()
      await accept('news', ['ann'])
      await accept('promo', ['bob', 'cy'])
      const report = await status({sends: ['promo']})
      expect(report.asked).toBe(2)
      expect(report.sends.map((s) => s.send)).toEqual(['promo'])
      const state = await withStore((s) => s.load())
      expect(state.messages.get('news.ann')!.delivery).toBeUndefined()
    })

    it('messages older than 3 days: unknown (too old to query), not asked, not guessed', async () => {
      await setup()
      businessNow = Date.now() - 4 * DAY
      await accept('old', ['ann', 'bob'], new Date(businessNow))
      businessNow = Date.now()
      await accept('new', ['cy'])
      const report = await status()
      expect(report.asked).toBe(1)
      expect(sandbox.stats.statusRequests).toBe(1)
      expect(report.sends.find((s) => s.send === 'old')).toMatchObject({accepted: 2, tooOld: 2, sent: 0})
      const state = await withStore((s) => s.load())
      expect(state.messages.get('old.ann')!.delivery).toBeUndefined()
      expect(state.messages.get('new.cy')!.delivery?.event).toBe('sent')
    })

    it('while another run holds the lock: the answers are not written, and the report names the holder', async () => {
      await setup()
      await accept('news', ['ann', 'bob'])
      await withStore(async (holder) => {
        const lock = await holder.lock({operation: 'apply', who: 'test', pid: process.pid, host: os.hostname(), since: new Date().toISOString()})
        try {
          const report = await status()
          expect(report.asked).toBe(2)
          expect(report.unsaved).toBe(2)
          expect(report.saveError).toMatchObject({code: 'state_locked', message: expect.stringContaining('locked by apply')})
        } finally {
          await lock.release()
        }
      })
      const state = await withStore((s) => s.load())
      expect(state.messages.get('news.ann')!.delivery).toBeUndefined()
      expect(state.messages.get('news.bob')!.delivery).toBeUndefined()
    })

    it('without credentials or --sandbox: the same error as apply, before touching anything', async () => {
      await setup()
      await expect(status({env: {}})).rejects.toMatchObject({code: 'missing_credentials', message: 'no Marketing Cloud credentials'})
      expect(sandbox.stats.tokenRequests).toBe(0)
    })

    if (backend.name === 'file') {
      it('backs off on 429 from the status route and still gets every answer', async () => {
        await setup({statusRateLimit: {requests: 2, perMs: 1000}})
        const keys = await accept('news', ['a', 'b', 'c', 'd', 'e', 'f'])
        const started = Date.now()
        const report = await status({rate: 20})
        expect(report.asked).toBe(keys.length)
        expect(report.backoffs).toBeGreaterThan(0)
        expect(Date.now() - started).toBeGreaterThanOrEqual(900)
        expect(report.sends[0]).toMatchObject({sent: 6})
        // Every throttled request was retried: more requests than keys, all answered in the end.
        expect(sandbox.stats.statusRequests).toBeGreaterThan(keys.length)
      })
    }
  })
}
