import {spawn} from 'node:child_process'
import * as fsSync from 'node:fs'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {ExitCode, StateError, StateLockedError} from '../../src/errors.js'
import {FileStateStore, type FileStateStoreOptions} from '../../src/state/file-store.js'
import {makeLockOwner} from '../../src/state/lock.js'
import type {LockOwner} from '../../src/state/types.js'
import {waitFor} from '../helpers/project.js'
import {formatOneState, record, records, sendSnapshot} from '../helpers/state-file.js'

let dir: string
let statePath: string
const stores: FileStateStore[] = []

function open(options: Partial<FileStateStoreOptions> = {}): FileStateStore {
  const store = new FileStateStore({path: statePath, displayPath: '.mcsend/state.json', toolVersion: '0.1.0', ...options})
  stores.push(store)
  return store
}

function owner(extra: Partial<LockOwner> = {}): LockOwner {
  return {operation: 'apply', who: 'ann@laptop', pid: process.pid, host: os.hostname(), since: '2026-11-26T10:00:00.000Z', ...extra}
}

/** Writes a lock as a crashed mcsend would have left it. */
async function leaveLock(holder: LockOwner, mtime?: Date): Promise<void> {
  const lockDir = `${statePath}.lock`
  await fs.mkdir(lockDir, {recursive: true})
  await fs.writeFile(path.join(lockDir, 'owner.json'), JSON.stringify(holder))
  if (mtime) await fs.utimes(lockDir, mtime, mtime)
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], {stdio: 'ignore'})
  const pid = child.pid
  await new Promise((resolve) => child.on('exit', resolve))
  if (pid === undefined) throw new Error('no pid')
  return pid
}

async function lockError(promise: Promise<unknown>): Promise<StateLockedError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(StateLockedError)
    return error as StateLockedError
  }
  return expect.unreachable('expected StateLockedError')
}

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mcsend-state-'))
  statePath = path.join(dir, '.mcsend', 'state.json')
})

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close().catch(() => undefined)
  await fs.rm(dir, {recursive: true, force: true})
})

describe('state lock (real file system)', () => {
  it('refuses a second locker, naming the holder, until the first releases', async () => {
    const first = open()
    const lock = await first.lock(owner({pid: process.pid, host: 'ci-7', who: 'runner@ci-7'}))
    expect(await fs.readdir(path.dirname(statePath))).toContain('state.json.lock')

    const error = await lockError(open().lock(owner({operation: 'plan'})))
    expect(error.exitCode).toBe(ExitCode.locked)
    expect(error.message).toContain(`locked by apply (pid ${process.pid} on host ci-7, runner@ci-7) since 2026-11-26T10:00:00Z`)
    expect(error.hint).toContain('mcsend state unlock')

    const info = await open().lockInfo()
    expect(info).toEqual({owner: owner({pid: process.pid, host: 'ci-7', who: 'runner@ci-7'}), stale: false})

    await lock.release()
    await lock.release() // idempotent
    expect(await open().lockInfo()).toBeUndefined()
    const again = await open().lock(owner())
    await again.release()
  })

  it('renews a held lock often enough that a live run outlives the stale time uncompromised and is never taken over', async () => {
    const compromised: Error[] = []
    const holder = open({staleLockMs: 2000, onLockCompromised: (error) => compromised.push(error)})
    const lock = await holder.lock(owner({host: 'ci-7'}))
    const lockDir = `${statePath}.lock`
    const renewals = new Set<number>()
    const start = Date.now()
    // Held past its stale time, through renewals (each moves the mtime; owner.json did not count as a foreign touch).
    await waitFor(async () => {
      renewals.add((await fs.lstat(lockDir)).mtimeMs)
      return renewals.size >= 3 && Date.now() - start > 2500
    }, 15_000, 50)
    expect(compromised).toEqual([])
    await holder.checkLock()
    const refused = await lockError(open({staleLockMs: 2000}).lock(owner({operation: 'plan --refresh'})))
    expect(refused.message).toMatch(/locked by apply/)
    await holder.append([record('amy')])
    await holder.commit()
    await lock.release()
  })

  it('a holder that checked its lock still sees it replaced: removed, re-created at once by another run, or its owner renamed over', async () => {
    const lockDir = `${statePath}.lock`
    const ownerFile = path.join(lockDir, 'owner.json')
    const takeOver = (token: string) => {
      // Another run, within the same instant: the new directory may well get the number of the old one's inode.
      fsSync.rmSync(lockDir, {recursive: true})
      fsSync.mkdirSync(lockDir, {mode: 0o700})
      fsSync.writeFileSync(ownerFile, JSON.stringify({...owner({operation: 'plan --refresh'}), token}))
    }

    const removed = open()
    let lock = await removed.lock(owner())
    await removed.checkLock()
    fsSync.rmSync(lockDir, {recursive: true})
    await expect(removed.checkLock()).rejects.toThrow(/no longer holds the lock .*\.lock was removed/)
    await lock.release()

    const taken = open()
    lock = await taken.lock(owner())
    await taken.checkLock()
    await taken.checkLock()
    takeOver('another')
    await expect(taken.checkLock()).rejects.toThrow(/no longer holds the lock .*now held by plan --refresh/)
    // Releasing the lost lock leaves the new holder's in place.
    await lock.release()
    expect(JSON.parse(fsSync.readFileSync(ownerFile, 'utf8'))).toMatchObject({token: 'another'})
    fsSync.rmSync(lockDir, {recursive: true})

    const renamed = open()
    lock = await renamed.lock(owner())
    await renamed.checkLock()
    // The same directory, a new owner.json put in place by rename (how owners are written).
    fsSync.writeFileSync(`${ownerFile}.tmp`, JSON.stringify({...owner({operation: 'state unlock'}), token: 'another'}))
    fsSync.renameSync(`${ownerFile}.tmp`, ownerFile)
    await expect(renamed.checkLock()).rejects.toThrow(/now held by state unlock/)
    await lock.release()
  })

  it('takes over a lock left by a process that no longer runs on this host', async () => {
    const pid = await deadPid()
    await leaveLock(owner({pid}))
    const store = open()
    expect(await store.lockInfo()).toMatchObject({owner: {pid}, stale: true})

    const lock = await store.lock(owner({operation: 'apply again'}))
    expect((await store.lockInfo())?.owner).toMatchObject({operation: 'apply again', pid: process.pid})
    await lock.release()
  })

  it('lets the re-run of a SIGKILLed apply take the lock and replay its journal', async () => {
    const storeModule = new URL('../../src/state/file-store.ts', import.meta.url).href
    const helperModule = new URL('../helpers/state-file.ts', import.meta.url).href
    const code = `
      const {FileStateStore} = await import(${JSON.stringify(storeModule)})
      const {records} = await import(${JSON.stringify(helperModule)})
      const store = new FileStateStore({path: ${JSON.stringify(statePath)}})
      await store.lock({operation: 'apply', who: 'child', pid: process.pid, host: ${JSON.stringify(os.hostname())}, since: new Date().toISOString()})
      await store.append(records(50, 'pending'))
      process.stdout.write('ready\\n')
      setInterval(() => {}, 1000)
    `
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {stdio: ['ignore', 'pipe', 'inherit']})
    const exited = new Promise((resolve) => child.on('exit', resolve))
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve())
      child.on('exit', (code) => reject(new Error(`child exited with ${code}`)))
    })
    child.kill('SIGKILL')
    await exited

    const rerun = open()
    expect(await rerun.lockInfo()).toMatchObject({owner: {who: 'child', pid: child.pid}, stale: true})
    const lock = await rerun.lock(owner())
    const data = await rerun.load()
    expect(data.messages.size).toBe(50)
    expect([...data.messages.values()].every((r) => r.status === 'pending')).toBe(true)
    await rerun.commit()
    await lock.release()
    expect((await open().load()).serial).toBe(1)
  })

  it('re-reads, once it holds the lock, a state another run changed since it was loaded', async () => {
    const early = open()
    expect((await early.load()).messages.size).toBe(0)
    const other = open()
    await other.append([record('amy')])
    await other.commit()
    const lock = await early.lock(owner())
    const data = await early.load()
    expect(data.serial).toBe(1)
    expect(data.messages.has(record('amy').messageKey)).toBe(true)
    await early.append([record('bob')])
    await early.commit()
    await lock.release()
    expect((await open().load()).messages.size).toBe(2)
  })

  it('does not judge the pid of another host, but takes over a lock whose mtime stopped moving', async () => {
    const pid = await deadPid()
    await leaveLock(owner({pid, host: 'elsewhere'}))
    const error = await lockError(open({staleLockMs: 60_000}).lock(owner()))
    expect(error.message).toContain(`pid ${pid} on host elsewhere`)

    const hourAgo = new Date(Date.now() - 3_600_000)
    await fs.utimes(`${statePath}.lock`, hourAgo, hourAgo)
    const store = open({staleLockMs: 60_000})
    expect(await store.lockInfo()).toMatchObject({stale: true})
    const lock = await store.lock(owner())
    await lock.release()
  })

  it('unlock removes a stale lock, refuses a live one, and removes it with force', async () => {
    expect(await open().unlock(false)).toBeUndefined()

    const pid = await deadPid()
    await leaveLock(owner({pid}))
    expect(await open().unlock(false)).toMatchObject({pid})
    expect(await open().lockInfo()).toBeUndefined()

    const compromised: Error[] = []
    const holder = open({staleLockMs: 2000, onLockCompromised: (e) => compromised.push(e)})
    const lock = await holder.lock(owner())
    const error = await lockError(open().unlock(false))
    expect(error.message).toMatch(/looks alive/)
    expect(error.hint).toContain('--force')
    expect(await open().lockInfo()).toBeDefined()

    expect(await open().unlock(true)).toMatchObject({operation: 'apply', pid: process.pid})
    expect(await open().lockInfo()).toBeUndefined()
    // The holder notices on its next refresh (every second here), without an uncaught exception.
    await expect.poll(() => compromised.length, {timeout: 5000, interval: 100}).toBe(1)
    await holder.append([record('amy')])
    await expect(holder.commit()).rejects.toBeInstanceOf(StateError)
    await lock.release()
  })

  it('describes this process for the lock owner', () => {
    const me = makeLockOwner('apply', new Date('2026-11-26T10:00:00.000Z'), {})
    expect(me).toMatchObject({operation: 'apply', pid: process.pid, host: os.hostname(), since: '2026-11-26T10:00:00.000Z'})
    expect(me.who).toContain(`@${os.hostname()}`)
  })
})

describe('snapshot files (real file system)', () => {
  it('creates the directory, replaces the snapshot atomically and leaves no temp file', async () => {
    const store = open()
    const lock = await store.lock(owner())
    await store.append(records(100, 'accepted'))
    await store.commit()
    await store.append([record('late')])
    await store.commit()
    await lock.release()

    const files = (await fs.readdir(path.dirname(statePath))).sort()
    expect(files).toEqual(['state.json'])
    const data = await open().load()
    expect(data.serial).toBe(2)
    expect(data.messages.size).toBe(101)
  })

  it('replays a journal after a crash on a real disk, ignoring a torn tail', async () => {
    const crashed = open()
    await crashed.append(records(10, 'pending'))
    await crashed.append(records(10, 'accepted'))
    await fs.appendFile(`${statePath}.journal`, '{"op":"put","rec')
    const next = open()
    const data = await next.load()
    expect(data.messages.size).toBe(10)
    expect([...data.messages.values()].every((r) => r.status === 'accepted')).toBe(true)
    await next.commit()
    expect((await fs.readdir(path.dirname(statePath))).sort()).toEqual(['state.json'])
  })
})

describe('format 1 migration', () => {
  it('rewrites a format 1 state as format 2 when a command takes the lock: same lineage, serial and records, mode 0600, through a link', async () => {
    const input = [...records(12, 'accepted'), record('bad', 'failed', {errorCode: 30005, errorMessage: 'bad address'})]
    const real = path.join(dir, 'shared', 'state.json')
    await fs.mkdir(path.dirname(real), {recursive: true})
    await fs.mkdir(path.dirname(statePath), {recursive: true})
    await fs.writeFile(real, formatOneState(input, {lineage: 'lin-old', serial: 5, updatedAt: '2026-11-20T10:00:00.000Z', sends: {notes: sendSnapshot()}}), {mode: 0o600})
    await fs.symlink(real, statePath)

    // Reading without the lock leaves the file as it is.
    const before = await open().load()
    expect(before).toMatchObject({formatVersion: 1, lineage: 'lin-old', serial: 5})
    expect(JSON.parse(await fs.readFile(real, 'utf8'))).toMatchObject({formatVersion: 1})

    const store = open()
    const lock = await store.lock(makeLockOwner('apply'))
    await lock.release()
    await store.close()
    expect((await fs.lstat(statePath)).isSymbolicLink()).toBe(true)
    expect((await fs.stat(real)).mode & 0o777).toBe(0o600)
    const text = await fs.readFile(real, 'utf8')
    expect(JSON.parse(text)).toMatchObject({formatVersion: 2, lineage: 'lin-old', serial: 5})
    const after = await open().load()
    expect(after).toMatchObject({formatVersion: 2, lineage: 'lin-old', serial: 5})
    expect(after.messages).toEqual(before.messages)
    expect(after.sends).toEqual(before.sends)
  })
})
