import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {startSandbox, type Sandbox} from '../../src/sandbox/server.js'
import {FileStateStore} from '../../src/state/file-store.js'
import {encodePut} from '../../src/state/journal.js'
import {makeProject, runCli, type Project} from '../helpers/project.js'
import {record, stateFileMessages} from '../helpers/state-file.js'
import {credentialsEnv} from '../helpers/sandbox-process.js'

/**
 * The file-state rows of the state-integrity issue, each through the CLI in credentials mode (the fake Marketing
 * Cloud on 127.0.0.1, the CLI given only MCSEND_AUTH_URL/CLIENT_ID/CLIENT_SECRET).
 */

const RECIPIENTS = 30

let sandbox: Sandbox
let project: Project
let stateDir: string
let statePath: string

function env(): NodeJS.ProcessEnv {
  return credentialsEnv(sandbox)
}

function cli(args: string[]) {
  return runCli([...args, '--state', statePath], {cwd: project.dir, env: env()})
}

const apply = () => cli(['apply', project.manifest, '--auto-approve'])

async function readState(file = statePath): Promise<{lineage: string; serial: number; messages: Record<string, {status: string}>}> {
  const doc = JSON.parse(await fs.readFile(file, 'utf8')) as {lineage: string; serial: number}
  return {...doc, messages: stateFileMessages(doc)}
}

async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    () => true,
    () => false,
  )
}

beforeEach(async () => {
  sandbox = await startSandbox({unknownDefinitions: 'active'})
  project = await makeProject({recipients: RECIPIENTS, batchSize: 10})
  stateDir = path.join(project.dir, '.mcsend')
  statePath = path.join(stateDir, 'state.json')
})

afterEach(async () => {
  await sandbox.close()
  await project.cleanup()
})

/** A state as a first apply leaves it when killed during its final snapshot write: all results only in the journal. */
async function killedDuringSnapshotWrite(): Promise<{keys: string[]}> {
  const first = await apply()
  expect(first.code, first.stderr).toBe(0)
  const done = await readState()
  const keys = Object.keys(done.messages)
  // Back to an older snapshot (serial 1, nothing recorded) with the results in the journal and a torn temp file.
  const store = new FileStateStore({path: statePath, toolVersion: '0.1.0'})
  const records = keys.map((k) => ({...record(k, 'accepted', {at: '2026-11-26T10:00:00.000Z'}), messageKey: k, send: 'test-send'}))
  await fs.rm(statePath)
  await store.append([record('unrelated', 'accepted')])
  await store.commit()
  await store.close()
  const base = await readState()
  await fs.writeFile(`${statePath}.journal`, `{"journal":1,"lineage":"${base.lineage}","serial":1}\n${encodePut(records)}`)
  await fs.writeFile(`${statePath}.${process.pid}-0a1b2c3d.tmp`, '{"formatVersion": 1, "lin')
  return {keys}
}

describe('state integrity (file state, credentials mode)', () => {
  it('folds a journal whose header names another lineage instead of deleting it: nothing is sent again', async () => {
    const first = await apply()
    expect(first.code, first.stderr).toBe(0)
    const sent = sandbox.stats.sendRequests
    const firstState = await readState()
    const keys = Object.keys(firstState.messages)
    // The first apply "killed after its sends": its records only in a journal with header {"lineage":"","serial":0},
    // next to a state.json of another lineage at serial 1.
    const records = keys.map((k) => ({...record(k, 'accepted'), messageKey: k, send: 'test-send'}))
    await fs.rm(statePath)
    const other = new FileStateStore({path: statePath})
    await other.append([record('someone-else', 'accepted')])
    await other.commit()
    await other.close()
    const otherState = await readState()
    expect(otherState.lineage).not.toBe(firstState.lineage)
    await fs.writeFile(`${statePath}.journal`, `{"journal":1,"lineage":"","serial":0}\n${encodePut(records)}`)

    const again = await apply()
    expect(again.code, again.stderr).toBe(0)
    expect(sandbox.stats.sendRequests).toBe(sent)
    const folded = await readState()
    expect(folded).toMatchObject({lineage: otherState.lineage, serial: 2})
    expect(Object.keys(folded.messages)).toHaveLength(RECIPIENTS + 1)
    expect(await exists(`${statePath}.journal`)).toBe(false)
  })

  it('a journal that cannot be read is refused with exit 1 and a way forward, and never deleted', async () => {
    await fs.mkdir(stateDir, {recursive: true})
    const journal = '{"journal":1,"lineage":"","serial":0}\n{"op":"put","records":[{"oops"\n{"op":"rm","keys":[]}\n'
    await fs.writeFile(`${statePath}.journal`, journal)
    const result = await apply()
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/cannot be folded.*line 2/)
    expect(result.stderr).toMatch(/hint: .*(Repair|restore)/)
    expect(await fs.readFile(`${statePath}.journal`, 'utf8')).toBe(journal)
    expect(sandbox.stats.sendRequests).toBe(0)
  })

  describe('killed during the final snapshot write: the next command folds the journal', () => {
    for (const readOnly of [
      ['plan', 'PROJECT'],
      ['state', 'list'],
    ]) {
      it(`${readOnly.join(' ').replace('PROJECT', '')}: shows the folded view, says so, and writes nothing`, async () => {
        await killedDuringSnapshotWrite()
        const before = await fs.readFile(statePath, 'utf8')
        const result = await cli(readOnly.map((a) => (a === 'PROJECT' ? project.manifest : a)))
        expect(result.code, result.stderr).not.toBe(1)
        expect(result.stderr).toMatch(/note: .*not in it yet.*mcsend apply/s)
        if (readOnly[0] === 'plan') expect(result.stdout).toMatch(/\b0 to send\b|nothing to send|No changes|already/i)
        expect(await fs.readFile(statePath, 'utf8')).toBe(before)
        expect(await exists(`${statePath}.journal`)).toBe(true)
      })
    }

    for (const writer of [
      ['apply', 'PROJECT', '--auto-approve'],
      ['plan', 'PROJECT', '--refresh'],
      ['state', 'unlock'],
    ]) {
      it(`${writer.join(' ').replace('PROJECT ', '')}: writes the snapshot, removes the journal and the temp file, sends nothing`, async () => {
        const {keys} = await killedDuringSnapshotWrite()
        const sent = sandbox.stats.sendRequests
        const result = await cli(writer.map((a) => (a === 'PROJECT' ? project.manifest : a)))
        expect([0, 2], result.stderr).toContain(result.code)
        const state = await readState()
        expect(state.serial).toBe(2)
        for (const key of keys) expect(state.messages[key]?.status).toBe('accepted')
        expect(await exists(`${statePath}.journal`)).toBe(false)
        expect((await fs.readdir(stateDir)).filter((n) => n.endsWith('.tmp'))).toEqual([])
        expect(sandbox.stats.sendRequests).toBe(sent)
      })
    }
  })

  it('follows a state.json symlink: the shared file is updated in place and the link stays a link', async () => {
    const shared = await fs.mkdtemp(path.join(os.tmpdir(), 'mcsend-shared-'))
    try {
      const target = path.join(shared, 'team-state.json')
      const seed = new FileStateStore({path: target})
      await seed.append([record('seed', 'accepted')])
      await seed.commit()
      await seed.close()
      await fs.mkdir(stateDir, {recursive: true})
      await fs.symlink(target, statePath)
      const result = await apply()
      expect(result.code, result.stderr).toBe(0)
      expect((await fs.lstat(statePath)).isSymbolicLink()).toBe(true)
      const state = await readState(target)
      expect(state.serial).toBe(2)
      expect(Object.keys(state.messages)).toHaveLength(RECIPIENTS + 1)
      expect((await fs.readdir(shared)).sort()).toEqual(['team-state.json'])
    } finally {
      await fs.rm(shared, {recursive: true, force: true})
    }
  })

  it('refuses a dangling state.json symlink before sending anything', async () => {
    await fs.mkdir(stateDir, {recursive: true})
    await fs.symlink(path.join(project.dir, 'nowhere', 'state.json'), statePath)
    const result = await apply()
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/symbolic link to a file that does not exist/)
    expect(result.stderr).toMatch(/hint: /)
    expect(sandbox.stats.sendRequests).toBe(0)
  })

  it('never writes through a journal or lock symlink', async () => {
    const victimDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mcsend-victim-'))
    try {
      const victim = path.join(victimDir, 'victim.txt')
      await fs.mkdir(stateDir, {recursive: true})
      await fs.symlink(victim, `${statePath}.journal`)
      const journal = await apply()
      expect(journal.code).toBe(1)
      expect(journal.stderr).toMatch(/journal .*symbolic link/)
      expect(await exists(victim)).toBe(false)
      expect(sandbox.stats.sendRequests).toBe(0)
      await fs.rm(`${statePath}.journal`)

      await fs.mkdir(path.join(victimDir, 'lockdir'))
      await fs.symlink(path.join(victimDir, 'lockdir'), `${statePath}.lock`)
      const lock = await apply()
      expect(lock.code).toBe(1)
      expect(lock.stderr).toMatch(/lock .*symbolic link/)
      expect(await fs.readdir(path.join(victimDir, 'lockdir'))).toEqual([])
      expect(sandbox.stats.sendRequests).toBe(0)
    } finally {
      await fs.rm(victimDir, {recursive: true, force: true})
    }
  })

  it('names only a really newer mcsend for a future formatVersion', async () => {
    await fs.mkdir(stateDir, {recursive: true})
    const future = (toolVersion: string) => JSON.stringify({formatVersion: 3, lineage: 'l', serial: 3, toolVersion, updatedAt: '2026-11-26T10:00:00.000Z', sends: {}, batches: []})
    await fs.writeFile(statePath, future('0.1.0'))
    const old = await cli(['state', 'list'])
    expect(old.code).toBe(1)
    expect(old.stderr).toMatch(/state format 3/)
    expect(old.stderr).not.toMatch(/mcsend 0\.1\.0 or newer/)
    await fs.writeFile(statePath, future('99.0.0'))
    const newer = await cli(['state', 'list'])
    expect(newer.stderr).toMatch(/needs mcsend 99\.0\.0 or newer/)
  })

  it('creates the state, journal, lock and their directory private to the user (0600 / 0700)', async () => {
    const store = new FileStateStore({path: statePath})
    const lock = await store.lock({operation: 'test', who: 'me', pid: process.pid, host: os.hostname(), since: new Date().toISOString()})
    try {
      await store.append([record('amy')])
      const mode = async (file: string) => (await fs.stat(file)).mode & 0o777
      expect(await mode(stateDir)).toBe(0o700)
      expect(await mode(`${statePath}.journal`)).toBe(0o600)
      expect(await mode(`${statePath}.lock`)).toBe(0o700)
      expect(await mode(path.join(`${statePath}.lock`, 'owner.json'))).toBe(0o600)
      await store.commit()
      expect(await mode(statePath)).toBe(0o600)
    } finally {
      await lock.release()
      await store.close()
    }
  })
})
