import {randomUUID} from 'node:crypto'
import {readFileSync} from 'node:fs'
import path from 'node:path'

import semver from 'semver'

import {StateError, errorCode} from '../errors.js'
import {type StateFs, forEachRawLine, isTempFileOf, realFs, writeFileAtomically} from './file-io.js'
import {type JournalEntry, JournalFormatError, JournalWriter, encodeMeta, encodePut, encodeRemove, encodeSend, scanJournal} from './journal.js'
import {DEFAULT_STALE_LOCK_MS, type HeldLock, type LockSettings, acquireLock, describeOwner, readLockStatus, removeLock} from './lock.js'
import {
  STATE_FORMAT_VERSION,
  SnapshotFormatError,
  SnapshotLineReader,
  applyMeta,
  canonicalMeta,
  canonicalRecord,
  canonicalSend,
  emptyState,
  isNotCanonical,
  metaDiffers,
  parseSnapshotText,
  recordsEqual,
  sendsEqual,
  snapshotPieces,
} from './serialize.js'
import type {LockOwner, MessageRecord, SendSnapshot, StateData, StateLock, StateMeta, StateStore} from './types.js'

export interface FileStateStoreOptions {
  /** Absolute path of the snapshot file. */
  path: string
  /** The path as the user gave it, for messages. Defaults to `path`. */
  displayPath?: string
  /** File system for the snapshot and journal (tests pass memfs). The lock always uses the real file system. */
  fs?: StateFs
  clock?: () => Date
  /** A lock not refreshed for this long is stale (default 60 s). proper-lockfile's minimum is 2 s. */
  staleLockMs?: number
  /** Written into the snapshot (default: this package's version). */
  toolVersion?: string
  /** Told when the held lock was lost (default: a warning on stderr); commit() then refuses to write. */
  onLockCompromised?: (error: Error) => void
  /**
   * Told once, when a load without the lock (plan, state list, status) shows results that are not in the state
   * file yet and which command writes them (default: a note on stderr).
   */
  onUnfolded?: (message: string) => void
}

/** Appends written together: their journal lines, their records, and the promise all of them resolve with. */
interface AppendGroup {
  lines: string[]
  records: MessageRecord[][]
  done: Promise<void>
}

type JournalMode =
  /** No journal file. */
  | 'absent'
  /** A journal on top of the loaded snapshot; its complete lines end at `goodLength`. */
  | 'live'

interface Loaded {
  data: StateData
  /** The serial of the snapshot on disk (data.serial is one more when leftover journals change it: the folded view). */
  snapshotSerial: number
  /**
   * Journals found when the state was read (left by an earlier process: the main journal, and side journals of
   * runs that lost the lock), already merged into `data`. Removed only once a durable snapshot holds them.
   */
  leftovers: string[]
  journal: JournalMode
  goodLength: number
  /** Physical journal size we expect on disk (-1: none), to notice another process's writes. */
  journalSize: number
  /** The snapshot file's identity when read, to refuse overwriting someone else's commit. */
  snapshotSig: string
  /** Whether anything differs from the snapshot on disk (so commit has something to fold). */
  dirty: boolean
}

let cachedToolVersion: string | undefined | null = null

function packageVersion(): string | undefined {
  if (cachedToolVersion === null) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version?: unknown}
      cachedToolVersion = typeof pkg.version === 'string' ? pkg.version : undefined
    } catch {
      cachedToolVersion = undefined
    }
  }
  return cachedToolVersion
}

const RESTORE_HINT = 'restore the file from git or a backup (it was not modified); mcsend never overwrites a state file it cannot read'

/**
 * The default state store: a JSON snapshot (`.mcsend/state.json`) plus a write-ahead journal beside it
 * (`state.json.journal`, one fsynced line per append) and a lock directory (`state.json.lock`). The snapshot is
 * only rewritten by commit(), atomically; after a crash, load() replays the journal over it.
 *
 * load() returns a live view: later append/putSend/remove calls show in it. Treat it as read-only.
 */
export class FileStateStore implements StateStore {
  readonly location: string
  private readonly file: string
  private readonly journalFile: string
  private readonly fs: StateFs
  private readonly clock: () => Date
  private readonly lockSettings: LockSettings
  private readonly toolVersion: string | undefined
  private readonly onLockCompromised: (error: Error) => void
  private readonly onUnfolded: (message: string) => void
  private toldUnfolded = false
  private readonly writer: JournalWriter
  private loading?: Promise<Loaded>
  private queue: Promise<unknown> = Promise.resolve()
  private held?: HeldLock
  private lockAttempt?: object
  private lockLost?: Error
  /** Where this run writes what it learns after losing the lock (never the main journal another run now owns). */
  private lostWriter?: JournalWriter
  /** Appends queued behind the journal's current write, to be written together (see append). */
  private appendGroup?: AppendGroup

  constructor(options: FileStateStoreOptions) {
    this.file = options.path
    this.location = options.displayPath ?? options.path
    this.journalFile = `${options.path}.journal`
    this.fs = options.fs ?? realFs
    this.clock = options.clock ?? (() => new Date())
    this.toolVersion = options.toolVersion ?? packageVersion()
    this.lockSettings = {
      file: options.path,
      displayPath: this.location,
      staleMs: Math.max(options.staleLockMs ?? DEFAULT_STALE_LOCK_MS, 2000),
    }
    this.onLockCompromised =
      options.onLockCompromised ??
      ((error) => {
        process.stderr.write(`warning: the lock on ${this.location} was lost (${error.message}); the state will not be committed by this run\n`)
      })
    this.onUnfolded = options.onUnfolded ?? ((message) => process.stderr.write(`note: ${message}\n`))
    this.writer = new JournalWriter(this.fs, this.journalFile)
  }

  private get journalDisplay(): string {
    return `${this.location}.journal`
  }

  async load(): Promise<StateData> {
    const state = await this.ensureLoaded()
    if (!this.toldUnfolded && !this.held && state.dirty && state.leftovers.length > 0) {
      this.toldUnfolded = true
      const message = await this.unfolded()
      if (message !== undefined) this.onUnfolded(message)
    }
    return state.data
  }

  async lock(owner: LockOwner): Promise<StateLock> {
    const attempt = {}
    this.lockAttempt = attempt
    const held = await acquireLock(this.lockSettings, owner, (error) => {
      // Only the lock this store holds now stops commits; an older one's loss is just reported.
      if (this.lockAttempt === attempt) this.lockLost = error
      this.onLockCompromised(error)
    })
    this.lockLost = undefined
    this.held = held
    // What we read before holding the lock may be out of date: read again if the files changed meanwhile.
    // Then fold what earlier runs left (journals, temporary files): every command that takes the lock does.
    try {
      await this.enqueue(async () => {
        if (this.loading && (await this.changedOnDisk(await this.loading.catch(() => undefined)))) {
          await this.writer.close()
          this.loading = undefined
        }
        await this.removeTempFiles()
        // A state.json link that leads nowhere is refused now, before anything is sent, not at the final commit.
        await this.snapshotTarget()
        const state = await this.ensureLoaded()
        if (state.leftovers.length > 0) {
          if (state.dirty) await this.writeSnapshot(state)
          else await this.dropJournal(state)
        }
        // A state file in an older format is rewritten in this one (same records, same serial: a plan saved on it
        // stays valid).
        if (state.data.formatVersion !== STATE_FORMAT_VERSION && state.snapshotSig !== 'absent') await this.writeSnapshot(state)
      })
    } catch (error) {
      if (this.held === held) this.held = undefined
      await held.release().catch(() => undefined)
      throw error
    }
    return {
      release: async () => {
        if (this.held === held) this.held = undefined
        await held.release()
      },
    }
  }

  async lockInfo(): Promise<{owner: LockOwner; stale: boolean} | undefined> {
    const status = await readLockStatus(this.lockSettings)
    return status && {owner: status.owner, stale: status.stale}
  }

  async unlock(force: boolean): Promise<LockOwner | undefined> {
    return removeLock(this.lockSettings, force)
  }

  async checkLock(): Promise<void> {
    if (!this.held) return
    // A check writes nothing, so it does not wait behind queued writes (other batches' records): it looks at the
    // lock now. Every journal write checks again before and after it.
    const reason = await this.fenceReason()
    if (reason !== undefined) throw this.lockLostError(reason)
  }

  async unfolded(): Promise<string | undefined> {
    const state = await this.ensureLoaded()
    if (state.leftovers.length === 0 || !state.dirty || this.held) return undefined
    const names = state.leftovers.map((f) => this.display(f)).join(', ')
    const status = await readLockStatus(this.lockSettings).catch(() => undefined)
    if (status && !status.stale) {
      return `${this.location} has results in ${names} that ${describeOwner(status.owner)} is recording; they are shown here and written into ${this.location} when that run ends`
    }
    return (
      `${this.location} has results in ${names} that are not in it yet (a run that did not finish); they are shown here, and the next ` +
      'command that takes the lock writes them into the state file: `mcsend apply` (even with nothing to send), `mcsend state unlock`, `mcsend plan --refresh`'
    )
  }

  /**
   * Group commit: appends called while the journal is busy wait together and are written as one write and one
   * datasync. Each append still resolves only once its own line is durable (write-ahead per batch); with several
   * batches in flight, they share the cost of the fsync instead of queueing for one each.
   */
  append(records: MessageRecord[]): Promise<void> {
    let copies: MessageRecord[]
    let line: string
    try {
      // Shape and privacy checks are the guard's (guard.ts); the store keeps canonical copies.
      copies = records.map((r) => canonicalRecord(r))
      // Encoded now, while an earlier append may still be waiting for its fsync.
      line = encodePut(copies)
    } catch (error) {
      return Promise.reject(error)
    }
    if (copies.length === 0) return this.enqueue(async () => undefined)
    const waiting = this.appendGroup
    if (waiting !== undefined) {
      waiting.lines.push(line)
      waiting.records.push(copies)
      return waiting.done
    }
    const group: AppendGroup = {lines: [line], records: [copies], done: Promise.resolve()}
    group.done = this.enqueue(async () => {
      // From here on, later appends form the next group.
      if (this.appendGroup === group) this.appendGroup = undefined
      const state = await this.ensureLoaded()
      await this.writeJournal(state, group.lines.length === 1 ? (group.lines[0] as string) : group.lines.join(''))
      // The caller's records are the newest facts: set as given (a replay merges by time, see mergeEntry). Whether
      // they change anything is asked only until one does: then the snapshot is rewritten anyway.
      const messages = state.data.messages
      for (const batch of group.records) {
        for (const record of batch) {
          if (!state.dirty) {
            const previous = messages.get(record.messageKey)
            if (previous === undefined || !recordsEqual(previous, record)) state.dirty = true
          }
          messages.set(record.messageKey, record)
        }
      }
    })
    this.appendGroup = group
    return group.done
  }

  putSend(snapshot: SendSnapshot): Promise<void> {
    const send = canonicalSend(snapshot)
    return this.enqueue(async () => {
      const state = await this.ensureLoaded()
      const previous = state.data.sends[send.name]
      if (previous !== undefined && sendsEqual(previous, send)) return
      await this.writeJournal(state, encodeSend(send))
      state.data.sends[send.name] = send
      state.dirty = true
    })
  }

  setMeta(meta: StateMeta): Promise<void> {
    const wanted = canonicalMeta(meta)
    return this.enqueue(async () => {
      const state = await this.ensureLoaded()
      if (!metaDiffers(state.data, wanted)) return
      await this.writeJournal(state, encodeMeta(wanted))
      applyMeta(state.data, wanted)
      state.dirty = true
    })
  }

  remove(messageKeys: string[]): Promise<number> {
    return this.enqueue(async () => {
      const state = await this.ensureLoaded()
      const present = [...new Set(messageKeys)].filter((key) => state.data.messages.has(key))
      if (present.length === 0) return 0
      await this.writeJournal(state, encodeRemove(present))
      for (const key of present) state.data.messages.delete(key)
      state.dirty = true
      return present.length
    })
  }

  commit(): Promise<void> {
    return this.enqueue(async () => {
      const state = await this.ensureLoaded()
      if (this.held) await this.fenceReason()
      if (this.lockLost) {
        throw new StateError(
          `not committing ${this.location}: the lock was lost during this run (${this.lockLost.message})`,
          `nothing is lost: this run's results are in ${this.lostWriter ? this.display(this.lostWriter.file) : this.journalDisplay}, and the next mcsend command that takes the lock folds them in`,
        )
      }
      if (!state.dirty) {
        if (state.journal !== 'absent' || state.leftovers.length > 0) await this.dropJournal(state)
        return
      }
      await this.writeSnapshot(state)
    })
  }

  /**
   * Replaces the whole state with `data`, lineage and serial included (`state pull`/`push`): one atomic snapshot write, and any journal is dropped. An empty `data` (no lineage) removes
   * the state files. Call it holding the lock.
   */
  importState(data: StateData): Promise<void> {
    let messages: Map<string, MessageRecord>
    let sends: Record<string, SendSnapshot>
    let meta: StateMeta
    try {
      meta = canonicalMeta({target: data.target, keyFingerprint: data.keyFingerprint})
      messages = new Map([...data.messages.values()].map((r) => [r.messageKey, canonicalRecord(r)]))
      sends = {}
      for (const send of Object.values(data.sends)) sends[send.name] = canonicalSend(send)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.enqueue(async () => {
      if (this.held) await this.fenceReason()
      if (this.lockLost) throw new StateError(`not replacing ${this.location}: the lock was lost (${this.lockLost.message})`)
      const imported: StateData = {formatVersion: STATE_FORMAT_VERSION, lineage: data.lineage, serial: data.serial, sends, messages, ...meta}
      if (data.lineage === '') {
        await this.writer.discard()
        try {
          await this.fs.unlink(this.file)
        } catch (error) {
          if (errorCode(error) !== 'ENOENT') throw new StateError(`cannot remove ${this.location}: ${(error as Error).message}`, undefined, error)
        }
      } else {
        const head = {lineage: data.lineage, serial: data.serial, toolVersion: this.toolVersion, updatedAt: this.clock().toISOString(), ...meta}
        try {
          await writeFileAtomically(this.fs, await this.snapshotTarget(), snapshotPieces(head, sends, messages))
        } catch (error) {
          throw new StateError(`cannot write ${this.location}: ${(error as Error).message}`, 'fix the problem (disk space, permissions) and run again', error)
        }
        await this.writer.discard()
      }
      const loaded: Loaded = {
        data: imported,
        snapshotSerial: imported.serial,
        leftovers: [],
        journal: 'absent',
        goodLength: 0,
        journalSize: -1,
        snapshotSig: await this.snapshotSignature(),
        dirty: false,
      }
      this.loading = Promise.resolve(loaded)
    })
  }

  async close(): Promise<void> {
    await this.enqueue(async () => {
      await this.writer.close()
      await this.lostWriter?.close()
    })
    const held = this.held
    this.held = undefined
    await held?.release()
  }

  // ---- internals ----

  /**
   * Runs store operations one at a time, in call order; a failed one does not stop the next. Any operation but a
   * lock check closes the waiting append group, so that appends never move past a write called before them.
   */
  private enqueue<T>(operation: () => Promise<T>, readOnly = false): Promise<T> {
    if (!readOnly) this.appendGroup = undefined
    const run = this.queue.then(operation)
    this.queue = run.catch(() => undefined)
    return run
  }

  private ensureLoaded(): Promise<Loaded> {
    if (!this.loading) {
      const loading = this.readFromDisk()
      this.loading = loading
      loading.catch(() => {
        if (this.loading === loading) this.loading = undefined
      })
    }
    return this.loading
  }

  private async snapshotSignature(): Promise<string> {
    try {
      const stat = await this.fs.stat(this.file)
      return `${stat.ino}:${stat.size}:${stat.mtimeMs}`
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return 'absent'
      throw this.ioError(this.location, error)
    }
  }

  private async journalSizeOnDisk(): Promise<number> {
    try {
      return (await this.fs.stat(this.journalFile)).size
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return -1
      throw this.ioError(this.journalDisplay, error)
    }
  }

  private async changedOnDisk(state: Loaded | undefined): Promise<boolean> {
    if (!state) return true
    return (await this.snapshotSignature()) !== state.snapshotSig || (await this.journalSizeOnDisk()) !== state.journalSize
  }

  private ioError(display: string, error: unknown): StateError {
    return new StateError(`cannot read ${display}: ${(error as Error).message}`, 'check the path and its permissions', error)
  }

  /**
   * Reads the snapshot and folds every journal beside it into the view: the main journal and the side journals of
   * runs that lost the lock. A journal is folded, not judged: whatever its header says, each record replaces the
   * state's unless the state's is newer (see mergeEntry), so a journal beside a snapshot of another lineage or
   * serial loses nothing. Only a journal that cannot be read is refused, and it is never deleted.
   */
  private async readFromDisk(): Promise<Loaded> {
    const snapshotSig = await this.snapshotSignature()
    const data = snapshotSig === 'absent' ? emptyState() : await this.readSnapshot()
    const snapshotSerial = data.serial
    let dirty = false
    const onEntry = (entry: JournalEntry) => {
      if (mergeEntry(data, entry)) dirty = true
    }
    const leftovers: string[] = []
    const main = await this.scan(this.journalFile, onEntry)
    if (main) leftovers.push(this.journalFile)
    // A journal started on a state that has no snapshot yet gives the lineage it was started with.
    if (data.lineage === '' && main?.header?.lineage) data.lineage = main.header.lineage
    for (const side of await this.lostJournals()) {
      if (await this.scan(side, onEntry)) leftovers.push(side)
    }
    // The folded view: what the state will be once a command that takes the lock writes it.
    if (dirty) data.serial = snapshotSerial + 1
    return {
      data,
      snapshotSerial,
      leftovers,
      journal: main ? 'live' : 'absent',
      goodLength: main?.goodLength ?? 0,
      journalSize: main?.size ?? -1,
      snapshotSig,
      dirty,
    }
  }

  private async scan(file: string, onEntry: (entry: JournalEntry) => void): Promise<Awaited<ReturnType<typeof scanJournal>>> {
    try {
      return await scanJournal(this.fs, file, onEntry)
    } catch (error) {
      const display = this.display(file)
      if (error instanceof JournalFormatError) {
        throw new StateError(
          `the journal ${display} cannot be folded into ${this.location}: line ${error.line}: ${error.message}`,
          `it was left as it is; only a torn last line is tolerated. Repair that line (each line is one JSON object), or restore the journal from a backup; ` +
            `moving it aside (mv ${display} ${display}.bak) loads the last committed state without its results`,
          error,
        )
      }
      if (errorCode(error) === 'ELOOP') {
        throw new StateError(`the journal ${display} is a symbolic link; mcsend never writes or reads a journal through one`, `remove the link (rm ${display}) and run again`, error)
      }
      throw this.ioError(display, error)
    }
  }

  /** Side journals of runs that lost the lock (`state.json.lost-<token>.journal`), oldest name first. */
  private async lostJournals(): Promise<string[]> {
    const dir = path.dirname(this.file)
    const prefix = `${path.basename(this.file)}.lost-`
    let names: string[]
    try {
      names = await this.fs.readdir(dir)
    } catch (error) {
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return []
      throw this.ioError(dir, error)
    }
    return names
      .filter((n) => n.startsWith(prefix) && n.endsWith('.journal') && /^[0-9a-f]+$/.test(n.slice(prefix.length, -'.journal'.length)))
      .sort()
      .map((n) => path.join(dir, n))
  }

  /** Removes temporary files left by atomic writes of crashed runs. Call holding the lock. */
  private async removeTempFiles(): Promise<void> {
    const base = path.basename(this.file)
    const dir = path.dirname(this.file)
    let names: string[]
    try {
      names = await this.fs.readdir(dir)
    } catch {
      return
    }
    for (const name of names) {
      if (!isTempFileOf(base, name)) continue
      const file = path.join(dir, name)
      try {
        // Never follow a link somewhere else: only a regular file (or the link itself) is removed.
        await this.fs.lstat(file)
        await this.fs.unlink(file)
      } catch (error) {
        if (errorCode(error) !== 'ENOENT') throw new StateError(`cannot remove the leftover temporary file ${this.display(file)}: ${(error as Error).message}`, 'remove it by hand', error)
      }
    }
  }

  /** A path of ours as users see it (beside the displayed state path). */
  private display(file: string): string {
    return path.join(path.dirname(this.location), path.basename(file))
  }

  /**
   * Where the snapshot is written: the file itself, or the file a `state.json` symlink points to (the atomic write
   * then happens in the target's directory, so the link stays a link). A dangling link is refused.
   */
  private async snapshotTarget(): Promise<string> {
    let isLink: boolean
    try {
      isLink = (await this.fs.lstat(this.file)).isSymbolicLink()
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return this.file
      throw this.ioError(this.location, error)
    }
    if (!isLink) return this.file
    try {
      return await this.fs.realpath(this.file)
    } catch (error) {
      throw new StateError(
        `${this.location} is a symbolic link to a file that does not exist; mcsend writes through a link only to an existing state file`,
        'point the link at the shared state file, or remove the link so that mcsend creates a regular file',
        error,
      )
    }
  }

  /**
   * Writes the folded state as a new snapshot (serial + 1 when anything changed; the same serial when only the
   * format changes), then removes the journals it holds.
   */
  private async writeSnapshot(state: Loaded): Promise<void> {
    const sig = await this.snapshotSignature()
    if (sig !== state.snapshotSig) {
      throw new StateError(
        `${this.location} was changed by someone else since this run read it; not overwriting it`,
        `the journal ${this.journalDisplay} keeps this run's results; make sure only one mcsend runs at a time (they take a lock), then run again`,
      )
    }
    const data = state.data
    const lineage = data.lineage || randomUUID()
    const serial = state.dirty || data.lineage === '' ? state.snapshotSerial + 1 : state.snapshotSerial
    try {
      await writeFileAtomically(
        this.fs,
        await this.snapshotTarget(),
        snapshotPieces(
          {lineage, serial, toolVersion: this.toolVersion, updatedAt: this.clock().toISOString(), target: data.target, keyFingerprint: data.keyFingerprint},
          data.sends,
          data.messages,
        ),
      )
    } catch (error) {
      if (error instanceof StateError) throw error
      throw new StateError(
        `cannot write ${this.location}: ${(error as Error).message}`,
        `nothing was lost: the journal ${this.journalDisplay} keeps the results; fix the problem (disk space, permissions) and run again`,
        error,
      )
    }
    data.lineage = lineage
    data.serial = serial
    data.formatVersion = STATE_FORMAT_VERSION
    state.snapshotSerial = serial
    state.snapshotSig = await this.snapshotSignature()
    state.dirty = false
    // Only now, with the snapshot durable: a crash before this point leaves journals whose records are all in it.
    await this.dropJournal(state)
  }

  /** Why the lock is no longer ours (and remembers it), or undefined while it is. */
  private async fenceReason(): Promise<string | undefined> {
    if (this.lockLost) return this.lockLost.message
    if (!this.held) return undefined
    const reason = await this.held.check()
    if (reason !== undefined) this.lockLost = new Error(reason)
    return reason
  }

  private lockLostError(reason: string): StateError {
    const kept = this.lostWriter ? this.display(this.lostWriter.file) : `${this.display(this.file)}.lost-…journal`
    return new StateError(
      `stopped: this run no longer holds the lock on ${this.location} (${reason}); nothing more is sent`,
      `another run took the state over (this one was paused or too slow to renew the lock); what this run learned is kept in ${kept} and the next command that takes the lock folds it in`,
    )
  }

  /** Appends a line to this run's side journal, created on first use beside the state. */
  private async writeLost(state: Loaded, line: string): Promise<void> {
    const token = this.held?.token ?? randomUUID().replace(/-/g, '')
    this.lostWriter ??= new JournalWriter(this.fs, `${this.file}.lost-${token}.journal`)
    const writer = this.lostWriter
    try {
      if (writer.isOpen) await writer.append(line)
      else if (writer.needsRepair) {
        await writer.resume(writer.size, false)
        await writer.append(line)
      } else await writer.create({lineage: state.data.lineage, serial: state.snapshotSerial}, line)
    } catch (error) {
      throw new StateError(`cannot write ${this.display(writer.file)}: ${(error as Error).message}`, 'check disk space and permissions', error)
    }
  }

  private async readSnapshot(): Promise<StateData> {
    try {
      try {
        const reader = new SnapshotLineReader()
        const scan = await forEachRawLine(this.fs, this.file, (buffer, start, end, lineNo) => reader.rawLine(buffer, start, end, lineNo))
        if (!scan) return emptyState()
        return reader.finish(scan.tailBytes > 0)
      } catch (error) {
        if (!isNotCanonical(error)) throw error
      }
      let text: string
      try {
        text = await this.fs.readFile(this.file, 'utf8')
      } catch (error) {
        if (errorCode(error) === 'ENOENT') return emptyState()
        throw error
      }
      return parseSnapshotText(text)
    } catch (error) {
      if (error instanceof SnapshotFormatError) {
        if (error.newerFormat) {
          // Name the version that wrote the file only when it really is newer than this one.
          const writer = error.newerFormat.toolVersion
          const newer = writer !== undefined && semver.valid(writer) !== null && (this.toolVersion === undefined || semver.valid(this.toolVersion) === null || semver.gt(writer, this.toolVersion))
          const by = newer ? `mcsend ${writer} or newer` : `a newer mcsend (one that reads state format ${error.newerFormat.formatVersion})`
          throw new StateError(
            `${this.location} has state format ${error.newerFormat.formatVersion}, which this mcsend${this.toolVersion ? ` (${this.toolVersion})` : ''} cannot read; it needs ${by}`,
            `upgrade mcsend (npm install -g mcsend@latest, or the version pinned by your project)`,
          )
        }
        const where = error.line === undefined ? this.location : `${this.location}:${error.line}`
        throw new StateError(`${where}: the state file is invalid: ${error.message}`, RESTORE_HINT, error)
      }
      if (error instanceof StateError) throw error
      if (error instanceof RangeError) {
        throw new StateError(`${this.location} is too large to read in a non-standard layout`, 'restore the layout mcsend writes (from git or a backup)', error)
      }
      throw this.ioError(this.location, error)
    }
  }

  /**
   * Appends a line to the journal. A run holding the lock checks before and after the write that the lock is
   * still its own: once it is not, the journal belongs to whoever took the lock over, so the line goes to this
   * run's side journal instead (or as well), where the next command that takes the lock finds it.
   */
  private async writeJournal(state: Loaded, line: string): Promise<void> {
    if (this.held && (await this.fenceReason()) !== undefined) {
      await this.writeLost(state, line)
      return
    }
    await this.writeMainJournal(state, line)
    if (this.held && (await this.fenceReason()) !== undefined) await this.writeLost(state, line)
  }

  private async writeMainJournal(state: Loaded, line: string): Promise<void> {
    try {
      if (!this.writer.isOpen) {
        if (this.writer.needsRepair) {
          await this.writer.resume(this.writer.size, false)
        } else if (state.journal === 'live') {
          await this.writer.resume(state.goodLength, true)
        } else {
          await this.writer.create({lineage: state.data.lineage, serial: state.snapshotSerial}, line)
          state.journal = 'live'
          state.goodLength = state.journalSize = this.writer.size
          return
        }
      }
      await this.writer.append(line)
      state.goodLength = state.journalSize = this.writer.size
    } catch (error) {
      if (error instanceof JournalFormatError) {
        throw new StateError(`cannot append to ${this.journalDisplay}: ${error.message}`, 'make sure only one mcsend runs on this state at a time', error)
      }
      if (errorCode(error) === 'ELOOP') {
        throw new StateError(`the journal ${this.journalDisplay} is a symbolic link; mcsend never writes a journal through one`, `remove the link (rm ${this.journalDisplay}) and run again`, error)
      }
      throw new StateError(
        `cannot write the journal ${this.journalDisplay}: ${(error as Error).message}`,
        'check disk space and permissions; results recorded before this one are safe',
        error,
      )
    }
  }

  /** Removes the journal and the leftover journals read with the state: call only once a durable snapshot holds them. */
  private async dropJournal(state: Loaded): Promise<void> {
    try {
      await this.writer.discard()
      for (const file of state.leftovers) if (file !== this.journalFile) await this.fs.unlink(file).catch((error: unknown) => {
        if (errorCode(error) !== 'ENOENT') throw error
      })
    } catch (error) {
      throw new StateError(`cannot remove a folded journal beside ${this.location}: ${(error as Error).message}`, 'remove it by hand; its records are already part of the snapshot', error)
    }
    state.leftovers = []
    state.journal = 'absent'
    state.goodLength = 0
    state.journalSize = -1
  }
}

/**
 * Folds one journal entry into the state; true if it changed anything. Records and send snapshots are merged by
 * time: an entry replaces what the state holds unless the state's is strictly newer (its `at`, or `appliedAt`), so
 * replaying a journal twice, or one written beside another snapshot, never loses the newer fact; and an accepted
 * record is never set back to pending (Marketing Cloud accepted that key: nothing un-sends it). Removals and
 * metadata apply as written.
 */
function mergeEntry(data: StateData, entry: JournalEntry): boolean {
  let changed = false
  switch (entry.op) {
    case 'put':
      for (const record of entry.records) {
        const previous = data.messages.get(record.messageKey)
        if (previous !== undefined && (previous.at > record.at || recordsEqual(previous, record) || (previous.status === 'accepted' && record.status === 'pending'))) continue
        data.messages.set(record.messageKey, record)
        changed = true
      }
      return changed
    case 'send': {
      const previous = data.sends[entry.send.name]
      if (previous !== undefined && (previous.appliedAt > entry.send.appliedAt || sendsEqual(previous, entry.send))) return false
      data.sends[entry.send.name] = entry.send
      return true
    }
    case 'rm':
      for (const key of entry.keys) if (data.messages.delete(key)) changed = true
      return changed
    case 'meta':
      return applyMeta(data, entry.meta)
  }
}
