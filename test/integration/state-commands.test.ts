import {mkdir, readFile, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {hashContactKey} from '../../src/keys/hash.js'
import {startSandbox, type Sandbox} from '../../src/sandbox/server.js'
import {openStateStore} from '../../src/state/open.js'
import type {MessageRecord, StateStore} from '../../src/state/types.js'
import {stateBackends} from '../helpers/backends.js'
import {recipientRecord} from '../helpers/records.js'
import {makeProject, runCli, startCli, waitFor, type Project} from '../helpers/project.js'
import {compileSchema} from '../helpers/schemas.js'
import {credentialsEnv} from '../helpers/sandbox-process.js'

function rec(messageKey: string, send: string, contactKey: string, overrides: Partial<MessageRecord> = {}): MessageRecord {
  return recipientRecord({send, contactKey, messageKey}, overrides)
}

const OWNER = {operation: 'test-holder', who: 'tester@here', pid: process.pid, host: os.hostname(), since: new Date().toISOString()}

for (const backend of stateBackends) {
  describe.skipIf(backend.skip)(`state commands (${backend.name} state)`, () => {
    let project: Project
    let spec: string
    let workspace: string | undefined
    let sandbox: Sandbox | undefined
    const open: StateStore[] = []

    async function setup(records: MessageRecord[]) {
      project = await makeProject({recipients: 300, batchSize: 20})
      spec = backend.spec(project.dir)
      workspace = backend.workspace()
      const store = await storeNow()
      const lock = await store.lock(OWNER)
      await store.append(records)
      await store.commit()
      await lock.release()
      await store.close()
    }

    async function storeNow(): Promise<StateStore> {
      const store = await openStateStore({spec, cwd: project.dir, env: {}, workspace})
      open.push(store)
      return store
    }

    async function load() {
      const store = await storeNow()
      return store.load()
    }

    const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      runCli([...args, '--state', spec, ...(workspace ? ['--workspace', workspace] : [])], {cwd: project.dir, env})

    afterEach(async () => {
      for (const store of open.splice(0)) await store.close().catch(() => undefined)
      await sandbox?.close()
      sandbox = undefined
      await project?.cleanup()
      await backend.cleanup?.(workspace)
    })

    const records = () => [
      rec('news.ann', 'news', 'ann@example.com', {delivery: {event: 'sent', checkedAt: '2026-03-01T11:00:00.000Z'}}),
      rec('news.bob', 'news', 'bob', {status: 'failed', errorCode: 109121, errorMessage: 'MCMS_UTM_Validation_InvalidValue_to: Invalid subscriber'}),
      rec('news.cy', 'news', 'cy', {status: 'pending'}),
      rec('promo.ann', 'promo', 'ann@example.com', {delivery: {event: 'notSent', statusCode: 24, statusMessage: 'ListDetectiveExclusion', checkedAt: '2026-03-01T11:00:00.000Z'}}),
      rec('promo.dan', 'promo', 'dan'),
    ]

    it('list: a table, filters by send and status or delivery event, paging, JSON', async () => {
      await setup(records())
      const text = await cli(['state', 'list'])
      expect(text.code, text.stderr).toBe(0)
      expect(text.stdout).toMatch(/^MESSAGEKEY\s+SEND\s+REV\s+STATUS\s+TIME \(UTC\)\s+ERROR\s+DELIVERY$/m)
      expect(text.stdout).toMatch(/news\.bob\s+news\s+1\s+failed\s+2026-03-01T10:00:00Z\s+109121\s+-/)
      expect(text.stdout).toMatch(/promo\.ann\s+promo\s+1\s+accepted\s+\S+\s+-\s+notSent 24 ListDetectiveExclusion/)

      const failed = JSON.parse((await cli(['state', 'list', '--status', 'failed', '--json'])).stdout)
      expect(failed.records.map((r: MessageRecord) => r.messageKey)).toEqual(['news.bob'])
      const notSent = JSON.parse((await cli(['state', 'list', '--status', 'notSent', '--json'])).stdout)
      expect(notSent.records.map((r: MessageRecord) => r.messageKey)).toEqual(['promo.ann'])
      const promo = JSON.parse((await cli(['state', 'list', '--send', 'promo', '--json'])).stdout)
      expect(promo.total).toBe(2)
      const page = await cli(['state', 'list', '--limit', '2', '--offset', '1'])
      expect(page.stdout).toContain('news.bob')
      expect(page.stdout).not.toContain('news.ann')
      expect(page.stdout).toContain('Showing 2-3 of 5 records; next page: --offset 3')
      // A flag value outside its options is invalid input (3, design.md), not a usage error.
      const bad = await cli(['state', 'list', '--status', 'lost'])
      expect(bad.code).toBe(3)
      expect(bad.stderr).toContain('--status')
    })

    it('show: one record; an unknown key exits 3 with a hint', async () => {
      await setup(records())
      const shown = await cli(['state', 'show', 'promo.ann', '--json'])
      expect(shown.code, shown.stderr).toBe(0)
      expect(JSON.parse(shown.stdout)).toMatchObject({messageKey: 'promo.ann', send: 'promo', delivery: {event: 'notSent', statusCode: 24}})
      const text = await cli(['state', 'show', 'news.bob'])
      expect(text.stdout).toMatch(/^errorCode\s+109121$/m)
      const missing = await cli(['state', 'show', 'nope'])
      expect(missing.code).toBe(3)
      expect(missing.stderr).toContain('hint: list the keys with `mcsend state list`')
    })

    it('rm: forgets keys or a whole send under the lock; needs --yes without a terminal', async () => {
      await setup(records())
      const refused = await cli(['state', 'rm', 'news.ann'])
      expect(refused.code).toBe(64)
      expect(refused.stderr).toContain('--yes')
      expect((await load()).messages.has('news.ann')).toBe(true)

      const one = await cli(['state', 'rm', 'news.ann', 'ghost', '--yes'])
      expect(one.code, one.stderr).toBe(0)
      expect(one.stdout).toContain('Removed 1 record')
      expect(one.stderr).toContain('warning: no record for ghost')
      let state = await load()
      expect(state.messages.has('news.ann')).toBe(false)
      expect(state.messages.size).toBe(4)

      const send = await cli(['state', 'rm', '--send', 'promo', '--yes', '--json'])
      expect(JSON.parse(send.stdout)).toMatchObject({removed: ['promo.ann', 'promo.dan']})
      state = await load()
      expect([...state.messages.keys()].sort()).toEqual(['news.bob', 'news.cy'])
      if (backend.name === 'file') {
        const raw = JSON.parse(await readFile(spec, 'utf8'))
        expect(raw.serial).toBe(state.serial)
        await expect(readFile(`${spec}.journal`)).rejects.toMatchObject({code: 'ENOENT'})
      }
      const none = await cli(['state', 'rm', 'ghost', '--yes'])
      expect(none.code).toBe(3)
    })

    it('forget: removes every record of a contact, never printing the address', async () => {
      await setup(records())
      const result = await cli(['state', 'forget', '--contact-key', 'ann@example.com', '--yes'])
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toContain('Removed 2 records of contact a***@example.com')
      expect(result.stdout + result.stderr).not.toContain('ann@example.com')
      expect(result.stdout).toContain('news.ann')
      expect(result.stdout).toContain('promo.ann')
      const state = await load()
      expect([...state.messages.values()].some((r) => r.contactHash === hashContactKey('ann@example.com'))).toBe(false)
      expect(state.messages.size).toBe(3)
      const again = await cli(['state', 'forget', '--contact-key', 'ann@example.com', '--yes'])
      expect(again.stdout).toContain('nothing removed')
    })

    it('unlock: not locked is fine; a live holder is refused (exit 5, named) unless --force', async () => {
      await setup(records())
      const free = await cli(['state', 'unlock'])
      expect(free.code, free.stderr).toBe(0)
      expect(free.stdout).toContain('is not locked')

      const holder = await storeNow()
      await holder.lock({...OWNER, operation: 'apply'})
      const refused = await cli(['state', 'unlock'])
      expect(refused.code).toBe(5)
      expect(refused.stderr).toMatch(/locked by .*apply/)
      expect(refused.stderr).toContain('--force')
      const forced = await cli(['state', 'unlock', '--force'])
      expect(forced.code, forced.stderr).toBe(0)
      expect(forced.stdout).toMatch(/Removed the lock .* held by apply \(pid \d+ on host/)
      expect(await (await storeNow()).lockInfo()).toBeUndefined()
    })

    if (backend.name === 'postgres') {
      it('workspaces: lists every workspace of the database with its records, read-only (state-workspaces schema)', async () => {
        await setup(records())
        const json = await runCli(['state', 'workspaces', '--json'], {cwd: project.dir, env: {MCSEND_STATE: spec}})
        expect(json.code, json.stderr).toBe(0)
        const doc = JSON.parse(json.stdout) as {state: string; workspaces: {workspace: string; messages: number; sends: number; serial: number}[]}
        const validate = compileSchema('state-workspaces')
        expect(validate(doc), JSON.stringify(validate.errors)).toBe(true)
        expect(doc.workspaces.find((w) => w.workspace === workspace)).toMatchObject({messages: 5, sends: 0, serial: 1})
        const names = doc.workspaces.map((w) => w.workspace)
        expect(names).toEqual([...names].sort())
        const text = await runCli(['state', 'workspaces', '--state', spec], {cwd: project.dir})
        expect(text.code, text.stderr).toBe(0)
        expect(text.stdout).toMatch(/^ {2}WORKSPACE +RECORDS +SENDS +SERIAL +UPDATED$/m)
        expect(text.stdout).toMatch(new RegExp(`^ {2}${workspace} +5 +0 +1 +\\d{4}-`, 'm'))
        // A state file has no workspaces.
        const file = await runCli(['state', 'workspaces', '--state', 'state.json'], {cwd: project.dir})
        expect(file.code).toBe(64)
        expect(file.stderr).toContain('hint: pass --state postgres://')
      })
    }

    if (backend.name === 'file') {
      it('unlock: removes the stale lock of a process that died, naming it', async () => {
        await setup(records())
        const lockDir = `${spec}.lock`
        await mkdir(lockDir)
        await writeFile(path.join(lockDir, 'owner.json'), JSON.stringify({operation: 'apply', who: 'gone@here', pid: 2 ** 22 + 12345, host: os.hostname(), since: '2026-03-01T10:00:00.000Z'}))
        const result = await cli(['state', 'unlock'])
        expect(result.code, result.stderr).toBe(0)
        expect(result.stdout).toContain('held by apply (pid 4206649 on host')
        expect(result.stdout).toContain('(stale)')
        await expect(readFile(path.join(lockDir, 'owner.json'))).rejects.toMatchObject({code: 'ENOENT'})
      })
    }

    it('show --contact-key: every record of one contact, found by its hash; the key masked when it is an address', async () => {
      await setup(records())
      const json = await cli(['state', 'show', '--contact-key', 'ann@example.com', '--json'])
      expect(json.code, json.stderr).toBe(0)
      const doc = JSON.parse(json.stdout) as {total: number; offset: number; records: MessageRecord[]}
      const validate = compileSchema('state-list')
      expect(validate(doc), JSON.stringify(validate.errors)).toBe(true)
      expect(doc.records.map((r) => r.messageKey)).toEqual(['news.ann', 'promo.ann'])
      const text = await cli(['state', 'show', '--contact-key', 'ann@example.com'])
      expect(text.code, text.stderr).toBe(0)
      expect(text.stdout).toContain('2 records of contactKey a***@example.com in ')
      expect(text.stdout).toMatch(/^messageKey +promo\.ann$/m)
      expect(text.stdout + text.stderr).not.toContain('ann@example.com')
      const none = await cli(['state', 'show', '--contact-key', 'nobody'])
      expect(none.code, none.stderr).toBe(0)
      expect(none.stdout).toContain('No records of contactKey nobody in ')
      const both = await cli(['state', 'show', 'news.ann', '--contact-key', 'ann@example.com'])
      expect(both.code).toBe(64)
      expect(both.stderr).toContain('give either a messageKey or --contact-key KEY')
    })

    it('--lock-timeout: rm waits for the holder to release the lock, then removes; a shorter wait is refused with exit 5', async () => {
      await setup(records())
      const holder = await storeNow()
      const lock = await holder.lock({...OWNER, operation: 'apply'})
      const args = ['state', 'rm', 'news.ann', '--yes', '--state', spec, ...(workspace ? ['--workspace', workspace] : [])]
      const short = await runCli([...args, '--lock-timeout', '300ms'], {cwd: project.dir})
      expect(short.code).toBe(5)
      expect(short.stderr).toMatch(/locked by apply .*\(still locked after waiting 1s\)/)

      const waiting = startCli([...args, '--lock-timeout', '2m'], {cwd: project.dir})
      await waitFor(() => waiting.stderrSoFar().includes('waiting up to 2m 00s for it (--lock-timeout)'), 15_000)
      await lock.release()
      const done = await waiting.done
      expect(done.code, done.stderr).toBe(0)
      expect((await load()).messages.has('news.ann')).toBe(false)

      const bad = await cli(['state', 'rm', 'news.bob', '--yes', '--lock-timeout', 'soon'])
      expect(bad.code).toBe(3)
      expect(bad.stderr).toContain('--lock-timeout: expected a duration such as 30s, 5m or 1m30s, got "soon"')
    })

    it('rm while an apply holds the lock: refused with exit 5 naming the holder, nothing removed', async () => {
      await setup(records())
      sandbox = await startSandbox()
      sandbox.inject({kind: 'delay', route: 'send', ms: 200, times: 1000})
      const env = credentialsEnv(sandbox)
      const apply = startCli(['apply', project.manifest, '--auto-approve', '--parallelism', '1', '--state', spec, ...(workspace ? ['--workspace', workspace] : [])], {cwd: project.dir, env})
      await waitFor(() => sandbox!.outbox().length >= 20, 15_000)
      // Paused mid-send, the apply keeps holding the lock (a live owner) however long rm takes to start.
      apply.child.kill('SIGSTOP')
      const rm = await cli(['state', 'rm', 'news.ann', '--yes'])
      apply.child.kill('SIGCONT')
      expect(rm.code).toBe(5)
      expect(rm.stderr).toMatch(/error: the state .* is locked by apply \(pid \d+ on host/)
      expect(rm.stderr).toContain('hint:')
      sandbox.clearFaults()
      const done = await apply.done
      expect(done.code, done.stderr).toBe(0)
      const state = await load()
      expect(state.messages.has('news.ann')).toBe(true)
      expect([...state.messages.values()].filter((r) => r.send === 'test-send')).toHaveLength(300)
    })
  })
}
