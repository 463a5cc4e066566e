import {randomBytes} from 'node:crypto'
import * as fs from 'node:fs'
import {promises as fsp} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import lockfile from 'proper-lockfile'

import {StateError, StateLockedError, errorCode} from '../errors.js'
import type {LockOwner} from './types.js'

/**
 * The state lock: a directory `${state}.lock` created atomically by proper-lockfile (which keeps its mtime fresh
 * while held), holding `owner.json` with who holds it and a random token of this holding. Locks always live on the
 * real file system, are never followed through a symlink, and are private (directory 0700, owner file 0600).
 *
 * Fencing: a holder renews the mtime every quarter of the stale time; before each batch it checks (HeldLock.check)
 * that the directory still carries its token and that its mtime was renewed recently, so a run that was paused
 * long enough to be taken over notices it before it sends anything more. The check runs several times per batch, so
 * it costs one lstat while nothing changed: the holder keeps the directory open (its inode cannot be reused while
 * open), and the same directory with the same ctime holds the owner file that was read (every entry added, removed
 * or renamed changes the ctime); only then is owner.json read again.
 */

const OWNER_FILE = 'owner.json'

/** A holder that stopped refreshing the lock for this long is presumed gone (other hosts, unknown owner). */
export const DEFAULT_STALE_LOCK_MS = 60_000

export interface LockSettings {
  /** Absolute path of the state file. */
  file: string
  /** The state as users see it in messages. */
  displayPath: string
  staleMs: number
}

export interface LockStatus {
  owner: LockOwner
  /** False when owner.json was missing or unreadable (the fields are placeholders). */
  ownerKnown: boolean
  stale: boolean
  /** The owner ran on this host and its process is gone: safe to take over at once. */
  holderGone: boolean
  /** Why it is stale, for messages. */
  staleReason?: string
}

export interface HeldLock {
  /** Random id of this holding, written in owner.json. */
  readonly token: string
  /** Undefined while the lock is still ours; otherwise why it is not (another run took it over, it was removed). */
  check(): Promise<string | undefined>
  release(): Promise<void>
}

/** Renewal interval for a stale time: often enough that a live run is never taken for dead (proper-lockfile needs 1 s to stale/2). */
export function renewIntervalMs(staleMs: number): number {
  return Math.max(1000, Math.floor(staleMs / 4))
}

function lockDirOf(file: string): string {
  return `${file}.lock`
}

/** Lock directories held by this process: a same-pid owner found on disk but not listed here is a past process. */
const heldHere = new Set<string>()

/** The lock directories this process holds open (see pinDirectory), by path. */
const pinned = new Map<string, {dev: bigint; ino: bigint}>()

/**
 * True when `dir` is a lock this process held but another run has since replaced: releasing ours (on exit too) must
 * not remove theirs.
 */
function replacedSinceHeld(dir: string): boolean {
  const pin = pinned.get(dir)
  if (pin === undefined) return false
  try {
    const stat = fs.lstatSync(dir, {bigint: true})
    return stat.dev !== pin.dev || stat.ino !== pin.ino
  } catch {
    return false
  }
}

/** proper-lockfile removes its lock with rmdir; ours holds owner.json, so removal must be recursive. */
const lockFs = {
  ...fs,
  mkdir: (dir: string, callback: (error: NodeJS.ErrnoException | null) => void) => fs.mkdir(dir, {mode: 0o700}, (error) => callback(error)),
  rmdir: (dir: string, callback: (error: NodeJS.ErrnoException | null) => void) => {
    if (replacedSinceHeld(dir)) callback(null)
    else fs.rm(dir, {recursive: true}, callback)
  },
  rmdirSync: (dir: string) => {
    if (!replacedSinceHeld(dir)) fs.rmSync(dir, {recursive: true, force: true})
  },
}

/** True unless the OS says no process has this pid (EPERM means it exists but belongs to someone else). */
function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return errorCode(error) !== 'ESRCH'
  }
}

/** The owner record for this process, e.g. `{operation: 'apply', who: 'ann@laptop', pid, host, since}`. */
export function makeLockOwner(operation: string, now: Date = new Date(), env: NodeJS.ProcessEnv = process.env): LockOwner {
  const host = os.hostname()
  let user = env.USER ?? env.USERNAME ?? 'unknown'
  try {
    user = os.userInfo().username
  } catch {
    // No passwd entry (some containers): keep the environment's name.
  }
  const ciJob = env.GITHUB_ACTIONS ? `github:${env.GITHUB_REPOSITORY ?? ''}#${env.GITHUB_RUN_ID ?? ''}` : env.CI_JOB_ID ? `gitlab job ${env.CI_JOB_ID}` : undefined
  return {operation, who: ciJob ?? `${user}@${host}`, pid: process.pid, host, since: now.toISOString()}
}

function formatSince(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z')
}

/** `apply (pid 1234 on host ci-7, user@host) since 2026-11-26T10:00:00Z` */
export function describeOwner(owner: LockOwner): string {
  return `${owner.operation} (pid ${owner.pid} on host ${owner.host}, ${owner.who}) since ${formatSince(owner.since)}`
}

function lockedError(settings: LockSettings, status: LockStatus | undefined): StateLockedError {
  const holder = status === undefined ? 'another process' : status.ownerKnown ? describeOwner(status.owner) : `an unknown process (lock last refreshed ${formatSince(status.owner.since)})`
  const details = status?.stale ? [`the holder looks stale: ${status.staleReason ?? 'unknown reason'}`] : []
  return new StateLockedError(
    `the state ${settings.displayPath} is locked by ${holder}`,
    `wait for that run to finish and try again; if it is no longer running, remove the lock with \`mcsend state unlock\` (add --force if its holder still looks alive)`,
    details,
  )
}

function isLockOwner(value: unknown): value is LockOwner {
  if (typeof value !== 'object' || value === null) return false
  const o = value as Record<string, unknown>
  return typeof o.operation === 'string' && typeof o.who === 'string' && typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.since === 'string'
}

async function readOwnerFile(lockDir: string): Promise<{owner: LockOwner; token?: string} | undefined> {
  let handle: fs.promises.FileHandle | undefined
  try {
    handle = await fsp.open(path.join(lockDir, OWNER_FILE), fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0))
    const parsed: unknown = JSON.parse(await handle.readFile('utf8'))
    if (!isLockOwner(parsed)) return undefined
    const {operation, who, pid, host, since} = parsed
    const token = (parsed as {token?: unknown}).token
    return {owner: {operation, who, pid, host, since}, token: typeof token === 'string' ? token : undefined}
  } catch {
    return undefined
  } finally {
    await handle?.close().catch(() => undefined)
  }
}

async function readOwner(lockDir: string): Promise<LockOwner | undefined> {
  return (await readOwnerFile(lockDir))?.owner
}

/** Refuses a lock path that is a symlink: the lock must be a directory of our own, never somewhere it points to. */
async function refuseSymlink(settings: LockSettings): Promise<void> {
  try {
    if ((await fsp.lstat(lockDirOf(settings.file))).isSymbolicLink()) {
      throw new StateError(
        `the lock ${settings.displayPath}.lock is a symbolic link; mcsend does not follow it`,
        `remove the link (rm ${settings.displayPath}.lock) and run again`,
      )
    }
  } catch (error) {
    if (error instanceof StateError) throw error
    if (errorCode(error) !== 'ENOENT') throw new StateError(`cannot inspect the lock ${settings.displayPath}.lock: ${(error as Error).message}`)
  }
}

/** Who holds the lock and whether they look gone; undefined when nobody does. */
export async function readLockStatus(settings: LockSettings): Promise<LockStatus | undefined> {
  const lockDir = lockDirOf(settings.file)
  let mtime: Date
  try {
    mtime = (await fsp.lstat(lockDir)).mtime
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined
    throw new StateError(`cannot inspect the lock ${settings.displayPath}.lock: ${(error as Error).message}`)
  }
  const owner = await readOwner(lockDir)
  const ageMs = Date.now() - mtime.getTime()
  let staleReason: string | undefined
  const holderGone =
    owner !== undefined &&
    owner.host === os.hostname() &&
    (owner.pid === process.pid ? !heldHere.has(lockDir) : !isPidAlive(owner.pid))
  if (holderGone) staleReason = `process ${owner.pid} no longer runs on ${owner.host}`
  else if (ageMs > settings.staleMs) staleReason = `not refreshed for ${Math.round(ageMs / 1000)} s`
  return {
    owner: owner ?? {operation: 'unknown', who: 'unknown', pid: 0, host: 'unknown', since: mtime.toISOString()},
    ownerKnown: owner !== undefined,
    stale: staleReason !== undefined,
    holderGone,
    staleReason,
  }
}

async function writeOwner(lockDir: string, owner: LockOwner, token: string): Promise<void> {
  const temp = path.join(lockDir, `${OWNER_FILE}.tmp`)
  await fsp.writeFile(temp, `${JSON.stringify({...owner, token}, null, 2)}\n`, {mode: 0o600, flag: fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | (fs.constants.O_NOFOLLOW ?? 0)})
  await fsp.rename(temp, path.join(lockDir, OWNER_FILE))
}

async function tryAcquire(settings: LockSettings, onCompromised: (error: Error) => void): Promise<(() => Promise<void>) | undefined> {
  try {
    return await lockfile.lock(settings.file, {
      realpath: false,
      lockfilePath: lockDirOf(settings.file),
      stale: settings.staleMs,
      update: renewIntervalMs(settings.staleMs),
      retries: 0,
      fs: lockFs,
      onCompromised,
    })
  } catch (error) {
    if (errorCode(error) === 'ELOCKED') return undefined
    throw new StateError(
      `cannot lock the state ${settings.displayPath}: ${(error as Error).message}`,
      'check that the directory of the state file exists and is writable',
      error,
    )
  }
}

/**
 * The holder writes its owner file right after creating the lock directory; a run that arrives in between would see
 * "an unknown process". Wait briefly for the owner so the refusal can name it.
 */
async function statusWithOwner(settings: LockSettings, fallback: LockStatus | undefined): Promise<LockStatus | undefined> {
  let status = (await readLockStatus(settings)) ?? fallback
  for (let waited = 0; status !== undefined && !status.ownerKnown && waited < OWNER_WAIT_MS; waited += 25) {
    await new Promise((resolve) => setTimeout(resolve, 25))
    status = (await readLockStatus(settings)) ?? status
  }
  return status
}

const OWNER_WAIT_MS = 1000

/**
 * Takes the lock for `owner`, or throws StateLockedError naming the holder. A lock left by a process that no longer
 * runs on this host (a SIGKILLed apply) is taken over; other hosts' locks go stale when their mtime stops moving.
 */
export async function acquireLock(settings: LockSettings, owner: LockOwner, onCompromised: (error: Error) => void): Promise<HeldLock> {
  const lockDir = lockDirOf(settings.file)
  await fsp.mkdir(path.dirname(settings.file), {recursive: true, mode: 0o700})
  await refuseSymlink(settings)
  let release = await tryAcquire(settings, onCompromised)
  if (!release) {
    const status = await readLockStatus(settings)
    // Only a dead pid on this host is certain enough to take over at once; mtime staleness is proper-lockfile's job.
    // Released meanwhile, or left by a process gone from this host (a SIGKILLed apply): try once more.
    if (!status || status.holderGone) {
      if (status) await fsp.rm(lockDir, {recursive: true, force: true})
      release = await tryAcquire(settings, onCompromised)
    }
    if (!release) throw lockedError(settings, await statusWithOwner(settings, status))
  }
  heldHere.add(lockDir)
  const token = randomBytes(12).toString('hex')
  try {
    // Adding owner.json changes the directory's mtime, which proper-lockfile would take for another process
    // touching its lock (it declares the lock compromised at its first renewal): put the mtime back.
    const {mtime} = await fsp.stat(lockDir)
    await writeOwner(lockDir, owner, token)
    await fsp.utimes(lockDir, mtime, mtime)
  } catch (error) {
    heldHere.delete(lockDir)
    await release().catch(() => undefined)
    throw new StateError(`cannot write the lock owner in ${settings.displayPath}.lock: ${(error as Error).message}`, undefined, error)
  }
  const held = release
  let released = false
  const renewMs = renewIntervalMs(settings.staleMs)
  const pin = await pinDirectory(lockDir)
  if (pin !== undefined) pinned.set(lockDir, {dev: pin.dev, ino: pin.ino})
  /** The lock directory's ctime when owner.json last showed our token (only while pinned). */
  let verifiedCtime: bigint | undefined
  return {
    token,
    async check() {
      if (released) return 'the lock was released'
      // The token says the directory is still the one we created; a renewal missed by far means we were paused.
      const deadline = Date.now() + renewMs + 1000
      for (;;) {
        let stat: fs.BigIntStats
        try {
          // Synchronous: one stat of a local directory costs less than a hand-off to the thread pool and back.
          stat = fs.lstatSync(lockDir, {bigint: true})
        } catch {
          return `${settings.displayPath}.lock was removed`
        }
        const ours = pin !== undefined && stat.dev === pin.dev && stat.ino === pin.ino
        if (!ours || stat.ctimeNs !== verifiedCtime) {
          // Changed since the last look (a renewal, or another run's files): read the owner. The ctime was taken
          // before the read, so a change during the read shows at the next check.
          const file = await readOwnerFile(lockDir)
          if (file?.token !== token) return file ? `${settings.displayPath}.lock is now held by ${describeOwner(file.owner)}` : `${settings.displayPath}.lock is no longer ours`
          verifiedCtime = ours ? stat.ctimeNs : undefined
        }
        const age = Date.now() - Number(stat.mtimeNs / 1_000_000n)
        if (age <= settings.staleMs / 2) return undefined
        // Not renewed for a while (the process was paused, or the event loop blocked): the renewal is due now.
        if (Date.now() > deadline) return `${settings.displayPath}.lock was not renewed for ${Math.round(age / 1000)} s`
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },
    async release() {
      if (released) return
      released = true
      heldHere.delete(lockDir)
      try {
        await held()
      } catch (error) {
        // Already released (e.g. compromised, or removed by `state unlock --force`): nothing left to do.
        const code = errorCode(error)
        if (code !== 'ERELEASED' && code !== 'ENOTACQUIRED' && code !== 'ENOENT') throw error
      } finally {
        if (pinned.get(lockDir)?.ino === pin?.ino) pinned.delete(lockDir)
        await pin?.handle.close().catch(() => undefined)
      }
    },
  }
}

/**
 * Opens the lock directory we just created and keeps it open while the lock is held: an open directory's inode is
 * not freed, so a directory found later at the same path with the same device and inode is this one (never a
 * new one that reused the number). Undefined where a directory cannot be opened (Windows): every check then reads
 * owner.json.
 */
async function pinDirectory(lockDir: string): Promise<{handle: fs.promises.FileHandle; dev: bigint; ino: bigint} | undefined> {
  let handle: fs.promises.FileHandle | undefined
  try {
    handle = await fsp.open(lockDir, fs.constants.O_RDONLY | (fs.constants.O_DIRECTORY ?? 0) | (fs.constants.O_NOFOLLOW ?? 0))
    const {dev, ino} = await handle.stat({bigint: true})
    return {handle, dev, ino}
  } catch {
    await handle?.close().catch(() => undefined)
    return undefined
  }
}

/**
 * Removes the lock whoever holds it: a stale one always, a live one only with `force`. Returns the owner removed,
 * or undefined if there was no lock.
 */
export async function removeLock(settings: LockSettings, force: boolean): Promise<LockOwner | undefined> {
  const status = await readLockStatus(settings)
  if (!status) return undefined
  if (!status.stale && !force) {
    const holder = status.ownerKnown ? describeOwner(status.owner) : 'an unknown process'
    throw new StateLockedError(
      `the state ${settings.displayPath} is locked by ${holder}, which looks alive`,
      'if you are sure it is not running any more, run `mcsend state unlock --force`',
    )
  }
  await fsp.rm(lockDirOf(settings.file), {recursive: true, force: true})
  return status.owner
}
