import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {afterAll, afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import StatePull from '../../src/commands/state/pull.js'
import StatePush from '../../src/commands/state/push.js'
import {StateError, StateLockedError} from '../../src/errors.js'
import {FileStateStore} from '../../src/state/file-store.js'
import {PgStateStore} from '../../src/state/pg-store.js'
import {makeLockOwner} from '../../src/state/lock.js'
import {copyState} from '../../src/core/transfer.js'
import type {MessageRecord, SendSnapshot, StateStore} from '../../src/state/types.js'
import {PG_URL, dropWorkspace, pgAvailable, uniqueName} from '../helpers/pg.js'
import {testRecord} from '../helpers/records.js'

const root = path.resolve(import.meta.dirname, '../..')

/** Record i of a send; every fifth one failed. */
function record(i: number, send = 'release'): MessageRecord {
  const outcome = i % 5 === 0 ? {status: 'failed' as const, errorCode: 30_005, errorMessage: 'invalid address'} : {requestId: `req-${i}`}
  return testRecord(i, {messageKey: `${send}-r1-${i}`, send, ...outcome})
}

function snapshot(name: string): SendSnapshot {
  return {name, definitionKey: 'release-notes', revision: 1, attributes: {ReleaseVersion: '4.2.0'}, batchSize: 500, sources: [], appliedAt: '2026-02-01T00:00:00.000Z'}
}

async function fill(store: StateStore, records: MessageRecord[], sends: string[], commits = 1): Promise<void> {
  for (let c = 0; c < commits; c++) {
    await store.append(records)
    for (const name of sends) await store.putSend(snapshot(name))
    await store.commit()
  }
}

/** Runs an oclif command in-process; returns its stdout, stderr and exit code. */
async function runCommand(command: typeof StatePush | typeof StatePull, argv: string[]): Promise<{stdout: string; stderr: string; exit: number}> {
  let stdout = ''
  let stderr = ''
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk)
    return true
  })
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk)
    return true
  })
  let exit = 0
  try {
    await command.run(argv, root)
  } catch (error) {
    const code = (error as {oclif?: {exit?: number}}).oclif?.exit
    if (code === undefined) throw error
    exit = code
  } finally {
    vi.restoreAllMocks()
  }
  return {stdout, stderr, exit}
}

describe.skipIf(!pgAvailable)('state push / pull', () => {
  const stores: StateStore[] = []
  const workspaces: string[] = []
  let dir: string
  const savedEnv = {state: process.env.MCSEND_STATE, workspace: process.env.MCSEND_WORKSPACE}

  async function pgStore(workspace = uniqueName('ws')): Promise<PgStateStore> {
    workspaces.push(workspace)
    const store = await PgStateStore.connect({url: PG_URL, workspace})
    stores.push(store)
    return store
  }

  function fileStore(name: string): FileStateStore {
    const store = new FileStateStore({path: path.join(dir, name), displayPath: name})
    stores.push(store)
    return store
  }

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-pg-transfer-'))
    delete process.env.MCSEND_STATE
    delete process.env.MCSEND_WORKSPACE
  })
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close()
    await rm(dir, {recursive: true, force: true})
    if (savedEnv.state === undefined) delete process.env.MCSEND_STATE
    else process.env.MCSEND_STATE = savedEnv.state
    if (savedEnv.workspace === undefined) delete process.env.MCSEND_WORKSPACE
    else process.env.MCSEND_WORKSPACE = savedEnv.workspace
  })
  afterAll(async () => {
    for (const ws of workspaces) await dropWorkspace(ws)
  })

  describe('copyState', () => {
    it('copies everything into an empty PostgreSQL workspace, keeping lineage and serial', async () => {
      const source = await pgStore()
      await fill(source, [record(1), record(2), record(5)], ['release'], 3)
      const dest = await pgStore()
      const result = await copyState(source, dest, {owner: makeLockOwner('state push'), force: false})
      const expected = await source.load()
      const copied = await (await pgStore(dest.workspace)).load()
      expect(copied).toEqual(expected)
      expect(expected.serial).toBe(3)
      expect(result).toMatchObject({
        from: {lineage: expected.lineage, serial: 3, messages: 3, sends: 1},
        to: {lineage: expected.lineage, serial: 3, messages: 3, sends: 1},
        replaced: {lineage: '', serial: 0, messages: 0, sends: 0},
        overridden: [],
      })
      // Both locks were released.
      expect(await source.lockInfo()).toBeUndefined()
      expect(await dest.lockInfo()).toBeUndefined()
    })

    it('replaces an older copy of the same state, dropping records the source no longer has', async () => {
      const source = await pgStore()
      await fill(source, [record(1), record(2)], ['release'])
      const dest = await pgStore()
      await copyState(source, dest, {owner: makeLockOwner('state push'), force: false})
      await source.remove([record(2).messageKey])
      await fill(source, [record(3)], [])
      await copyState(source, dest, {owner: makeLockOwner('state push'), force: false})
      const copied = await dest.load()
      expect([...copied.messages.keys()].sort()).toEqual([record(1).messageKey, record(3).messageKey])
      expect(copied.serial).toBe((await source.load()).serial)
    })

    it('refuses a destination with another lineage or a newer serial unless forced, saying which', async () => {
      const source = await pgStore()
      await fill(source, [record(1)], [])
      const other = await pgStore()
      await fill(other, [record(9, 'other')], [])

      const lineage = await copyState(source, other, {owner: makeLockOwner('state push'), force: false}).catch((e: unknown) => e)
      expect(lineage).toBeInstanceOf(StateError)
      expect((lineage as StateError).message).toMatch(/holds a different state \(lineage [0-9a-f-]{36}, 1 records\)/)
      expect((lineage as StateError).hint).toMatch(/--force/)
      expect([...(await other.load()).messages.keys()]).toEqual([record(9, 'other').messageKey])

      const forced = await copyState(source, other, {owner: makeLockOwner('state push'), force: true})
      expect(forced.overridden).toHaveLength(1)
      expect(await other.load()).toEqual(await source.load())

      // Same lineage, but the destination moved on.
      await fill(other, [record(10)], [])
      const newer = await copyState(source, other, {owner: makeLockOwner('state push'), force: false}).catch((e: unknown) => e)
      expect(newer).toBeInstanceOf(StateError)
      expect((newer as StateError).message).toMatch(/is newer \(serial 2\) than .* \(serial 1\)/)
    })

    it('refuses to copy an empty source', async () => {
      const source = await pgStore()
      const dest = await pgStore()
      await fill(dest, [record(1)], [])
      const error = await copyState(source, dest, {owner: makeLockOwner('state pull'), force: false}).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(StateError)
      expect((error as StateError).message).toMatch(/is empty: copying it would erase/)
      expect((await dest.load()).messages.size).toBe(1)
    })

    it('does nothing while the destination is locked by a run', async () => {
      const source = await pgStore()
      await fill(source, [record(1)], [])
      const dest = await pgStore()
      const runner = await pgStore(dest.workspace)
      const lock = await runner.lock(makeLockOwner('apply'))
      const error = await copyState(source, dest, {owner: makeLockOwner('state push'), force: true}).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(StateLockedError)
      expect((error as StateLockedError).message).toMatch(/locked by apply/)
      await lock.release()
      expect((await dest.load()).messages.size).toBe(0)
      expect(await source.lockInfo()).toBeUndefined()
    })
  })

  describe('commands', () => {
    it('push copies a state file into PostgreSQL and pull copies it back', async () => {
      const file = fileStore('state.json')
      await fill(file, [record(1), record(2)], ['release'])
      await file.setMeta({target: {kind: 'marketing-cloud', authHost: 'mc1.auth.marketingcloudapis.com'}, keyFingerprint: 'sha256:fp'})
      await fill(file, [record(5)], [])
      const original = await file.load()
      const expected = {
        lineage: original.lineage,
        serial: original.serial,
        messages: new Map(original.messages),
        sends: {...original.sends},
        target: {kind: 'marketing-cloud', authHost: 'mc1.auth.marketingcloudapis.com'},
        keyFingerprint: 'sha256:fp',
      }
      await file.close()
      const workspace = uniqueName('push')
      workspaces.push(workspace)

      const push = await runCommand(StatePush, ['--from', path.join(dir, 'state.json'), '--to', PG_URL, '--workspace', workspace, '--json'])
      expect(push.stderr).toBe('')
      expect(push.exit).toBe(0)
      const doc = JSON.parse(push.stdout) as Record<string, unknown>
      expect(doc).toMatchObject({
        direction: 'push',
        workspace,
        copied: {messages: 3, sends: 1},
        from: {lineage: expected.lineage, serial: 2},
        to: {lineage: expected.lineage, serial: 2, location: `${PG_URL} (workspace ${workspace})`},
      })
      const inPg = await (await pgStore(workspace)).load()
      expect(inPg).toMatchObject(expected)

      const pulledPath = path.join(dir, 'pulled.json')
      process.env.MCSEND_STATE = PG_URL
      process.env.MCSEND_WORKSPACE = workspace
      const pull = await runCommand(StatePull, ['--to', pulledPath])
      expect(pull.exit).toBe(0)
      expect(pull.stdout).toContain('Pulled 3 message records and 1 send snapshot')
      expect(pull.stdout).toContain(`from ${PG_URL} (workspace ${workspace})  lineage ${expected.lineage}, serial 2`)
      const pulled = await fileStore('pulled.json').load()
      expect(pulled.messages).toEqual(expected.messages)
      expect(pulled.sends).toEqual(expected.sends)
      expect(pulled).toMatchObject({lineage: expected.lineage, serial: expected.serial, target: expected.target, keyFingerprint: expected.keyFingerprint})
      expect(pull.stderr).toBe('')
    })

    it('refuses to push over another state without --force (exit 1) and names the conflict', async () => {
      const workspace = uniqueName('conflict')
      const other = await pgStore(workspace)
      await fill(other, [record(7)], [])
      const file = fileStore('state.json')
      await fill(file, [record(1)], [])
      await file.close()

      const refused = await runCommand(StatePush, ['--from', path.join(dir, 'state.json'), '--to', PG_URL, '--workspace', workspace])
      expect(refused.exit).toBe(1)
      expect(refused.stdout).toBe('')
      expect(refused.stderr).toMatch(/error: refusing to overwrite .* holds a different state/)
      expect(refused.stderr).toMatch(/hint: .*--force/)

      const forced = await runCommand(StatePush, ['--from', path.join(dir, 'state.json'), '--to', PG_URL, '--workspace', workspace, '--force'])
      expect(forced.exit).toBe(0)
      expect(forced.stdout).toMatch(/forced: .* holds a different state/)
      expect([...(await other.load()).messages.keys()]).toEqual([record(1).messageKey])
    })

    it('asks for the PostgreSQL URL when neither --to nor MCSEND_STATE gives one, and rejects a file as --to', async () => {
      const missing = await runCommand(StatePush, ['--from', path.join(dir, 'state.json')])
      expect(missing.exit).toBe(64)
      expect(missing.stderr).toMatch(/state push needs the PostgreSQL state: give --to postgres:/)

      const wrong = await runCommand(StatePush, ['--to', path.join(dir, 'other.json'), '--json'])
      expect(wrong.exit).toBe(3)
      expect(JSON.parse(wrong.stdout)).toMatchObject({error: {code: 'invalid_input', message: '--to must be a postgres:// URL'}})
    })

    it('never prints the password from the URL', async () => {
      const url = new URL(PG_URL)
      url.port = '1'
      url.password = 'hunter2'
      const result = await runCommand(StatePull, ['--from', url.toString(), '--to', path.join(dir, 'x.json')])
      expect(result.exit).toBe(1)
      expect(result.stderr).toMatch(/cannot connect to the PostgreSQL state at .*:1\/.*: connection refused/)
      expect(result.stderr + result.stdout).not.toContain('hunter2')
    })
  })
})
