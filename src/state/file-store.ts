import {randomUUID} from 'node:crypto'
import {readFileSync} from 'node:fs'

import {StateError, errorCode} from '../errors.js'
import {type StateFs, forEachRawLine, realFs, writeFileAtomically} from './file-io.js'
import {type JournalEntry, type JournalHeader, JournalFormatError, JournalWriter, encodeMeta, encodePut, encodeRemove, encodeSend, scanJournal} from './journal.js'
import {DEFAULT_STALE_LOCK_MS, type HeldLock, type LockSettings, acquireLock, readLockStatus, removeLock} from './lock.js'
import {
  SnapshotFormatError,
  SnapshotLineReader,
  applyMeta,
  canonicalMeta,
  canonicalRecord,
  canonicalSend,
  emptyState,
  isNotCanonical,
  metaDiffers,
  metaProblem,
  parseSnapshotText,
  recordProblem,
  recordsEqual,
  sendProblem,
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
}

type JournalMode =
  /** No journal file. */
  | 'absent'
  /** A journal on top of the loaded snapshot; its complete lines end at `goodLength`. */
  | 'live'
  /** A leftover journal already folded into the snapshot (crash after the rename): ignored and replaced. */
  | 'stale'

interface Loaded {
  data: StateData
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
  private readonly writer: JournalWriter
  private loading?: Promise<Loaded>
  private queue: Promise<unknown> = Promise.resolve()
  private held?: HeldLock
  private lockAttempt?: object
  private lockLost?: Error

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
    this.writer = new JournalWriter(this.fs, this.journalFile)
  }

  private get journalDisplay(): string {
    return `${this.location}.journal`
  }

  async load(): Promise<StateData> {
    return (await this.ensureLoaded()).data
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
    await this.enqueue(async () => {
      if (this.loading && (await this.changedOnDisk(await this.loading.catch(() => undefined)))) {
        await this.writer.close()
        this.loading = undefined
      }
    })
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

  append(records: MessageRecord[]): Promise<void> {
    let copies: MessageRecord[]
    let line: string
    try {
      copies = records.map((r) => checkedRecord(r, 'append'))
      // Encoded now, while an earlier append may still be waiting for its fsync.
      line = encodePut(copies)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.enqueue(async () => {
      if (copies.length === 0) return
      const state = await this.ensureLoaded()
      await this.writeJournal(state, line)
      if (applyEntry(state.data, {op: 'put', records: copies})) state.dirty = true
    })
  }

  putSend(snapshot: SendSnapshot): Promise<void> {
    const problem = sendProblem(snapshot)
    if (problem) return Promise.reject(new TypeError(`putSend: the send snapshot ${problem}`))
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
    const problem = metaProblem(meta)
    if (problem) return Promise.reject(new TypeError(`setMeta: the state metadata ${problem}`))
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
      if (this.lockLost) {
        throw new StateError(
          `not committing ${this.location}: the lock was lost during this run (${this.lockLost.message})`,
          `the journal ${this.journalDisplay} keeps every result; the next mcsend run on this state folds it in`,
        )
      }
      if (!state.dirty) {
        if (state.journal !== 'absent') await this.dropJournal(state)
        return
      }
      const sig = await this.snapshotSignature()
      if (sig !== state.snapshotSig) {
        throw new StateError(
          `${this.location} was changed by someone else since this run read it; not overwriting it`,
          `the journal ${this.journalDisplay} keeps this run's results; make sure only one mcsend runs at a time (they take a lock), then run again`,
        )
      }
      const data = state.data
      const lineage = data.lineage || randomUUID()
      const serial = data.serial + 1
      try {
        await writeFileAtomically(
          this.fs,
          this.file,
          snapshotPieces(
            {lineage, serial, toolVersion: this.toolVersion, updatedAt: this.clock().toISOString(), target: data.target, keyFingerprint: data.keyFingerprint},
            data.sends,
            data.messages,
          ),
        )
      } catch (error) {
        throw new StateError(
          `cannot write ${this.location}: ${(error as Error).message}`,
          `nothing was lost: the journal ${this.journalDisplay} keeps the results; fix the problem (disk space, permissions) and run again`,
          error,
        )
      }
      data.lineage = lineage
      data.serial = serial
      state.snapshotSig = await this.snapshotSignature()
      state.dirty = false
      // A crash before this point leaves a journal whose header says it is folded already (see journal.ts).
      await this.dropJournal(state)
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
      const problem = metaProblem({target: data.target, keyFingerprint: data.keyFingerprint})
      if (problem) throw new TypeError(`importState: the state metadata ${problem}`)
      meta = canonicalMeta({target: data.target, keyFingerprint: data.keyFingerprint})
      messages = new Map([...data.messages.values()].map((r) => [r.messageKey, checkedRecord(r, 'importState')]))
      sends = {}
      for (const send of Object.values(data.sends)) {
        const problem = sendProblem(send)
        if (problem) throw new TypeError(`importState: the send snapshot ${problem}`)
        sends[send.name] = canonicalSend(send)
      }
    } catch (error) {
      return Promise.reject(error)
    }
    return this.enqueue(async () => {
      if (this.lockLost) throw new StateError(`not replacing ${this.location}: the lock was lost (${this.lockLost.message})`)
      const imported: StateData = {formatVersion: data.formatVersion, lineage: data.lineage, serial: data.serial, sends, messages, ...meta}
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
          await writeFileAtomically(this.fs, this.file, snapshotPieces(head, sends, messages))
        } catch (error) {
          throw new StateError(`cannot write ${this.location}: ${(error as Error).message}`, 'fix the problem (disk space, permissions) and run again', error)
        }
        await this.writer.discard()
      }
      const loaded: Loaded = {data: imported, journal: 'absent', goodLength: 0, journalSize: -1, snapshotSig: await this.snapshotSignature(), dirty: false}
      this.loading = Promise.resolve(loaded)
    })
  }

  async close(): Promise<void> {
    await this.enqueue(() => this.writer.close())
    const held = this.held
    this.held = undefined
    await held?.release()
  }

  // ---- internals ----

  /** Runs store operations one at a time, in call order; a failed one does not stop the next. */
  private enqueue<T>(operation: () => Promise<T>): Promise<T> {
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

  private async readFromDisk(): Promise<Loaded> {
    const snapshotSig = await this.snapshotSignature()
    const data = snapshotSig === 'absent' ? emptyState() : await this.readSnapshot()
    const base: JournalHeader = {lineage: data.lineage, serial: data.serial}
    let dirty = false
    let scan
    try {
      scan = await scanJournal(
        this.fs,
        this.journalFile,
        (header) => this.journalApplies(header, base),
        (entry) => {
          if (applyEntry(data, entry)) dirty = true
        },
      )
    } catch (error) {
      if (error instanceof StateError) throw error
      if (error instanceof JournalFormatError) {
        throw new StateError(
          `the journal ${this.journalDisplay} is corrupt at line ${error.line}: ${error.message}`,
          `only a torn last line is tolerated; move the journal aside to load the last committed state (its unfolded results are then lost), or restore it from a backup`,
          error,
        )
      }
      throw this.ioError(this.journalDisplay, error)
    }
    const journal: JournalMode = !scan ? 'absent' : scan.replayed ? 'live' : 'stale'
    return {data, journal, goodLength: scan?.goodLength ?? 0, journalSize: scan?.size ?? -1, snapshotSig, dirty}
  }

  /** True if the journal continues the snapshot; false if it was folded into it already; throws if it belongs elsewhere. */
  private journalApplies(header: JournalHeader, snapshot: JournalHeader): boolean {
    if (header.lineage === snapshot.lineage && header.serial === snapshot.serial) return true
    if (header.serial + 1 === snapshot.serial && (header.lineage === '' || header.lineage === snapshot.lineage)) return false
    throw new StateError(
      `the journal ${this.journalDisplay} belongs to state serial ${header.serial}${header.lineage ? ` (lineage ${header.lineage})` : ''}, ` +
        `but ${this.location} is serial ${snapshot.serial}${snapshot.lineage ? ` (lineage ${snapshot.lineage})` : ''}`,
      `the snapshot was replaced while a run's results were still in the journal; restore the snapshot that matches it from git, or move the journal aside to discard those results`,
    )
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
          const by = error.newerFormat.toolVersion ? `mcsend ${error.newerFormat.toolVersion} or newer` : 'a newer mcsend'
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

  private async writeJournal(state: Loaded, line: string): Promise<void> {
    try {
      if (!this.writer.isOpen) {
        if (this.writer.needsRepair) {
          await this.writer.resume(this.writer.size, false)
        } else if (state.journal === 'live') {
          await this.writer.resume(state.goodLength, true)
        } else {
          await this.writer.create({lineage: state.data.lineage, serial: state.data.serial}, line)
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
      throw new StateError(
        `cannot write the journal ${this.journalDisplay}: ${(error as Error).message}`,
        'check disk space and permissions; results recorded before this one are safe',
        error,
      )
    }
  }

  private async dropJournal(state: Loaded): Promise<void> {
    try {
      await this.writer.discard()
    } catch (error) {
      throw new StateError(`cannot remove the folded journal ${this.journalDisplay}: ${(error as Error).message}`, 'remove it by hand; it is already part of the snapshot', error)
    }
    state.journal = 'absent'
    state.goodLength = 0
    state.journalSize = -1
  }
}

function checkedRecord(record: MessageRecord, operation: 'append' | 'importState'): MessageRecord {
  const problem = typeof record?.messageKey === 'string' && record.messageKey !== '' ? recordProblem(record) : '`messageKey` must be a non-empty string'
  if (problem) throw new TypeError(`${operation}: a message record ${problem}`)
  return canonicalRecord(record)
}

/** Applies one journal entry to the state; true if it changed anything. Upserts and removals: replay is idempotent. */
function applyEntry(data: StateData, entry: JournalEntry): boolean {
  let changed = false
  switch (entry.op) {
    case 'put':
      for (const record of entry.records) {
        if (!changed) {
          const previous = data.messages.get(record.messageKey)
          changed = previous === undefined || !recordsEqual(previous, record)
        }
        data.messages.set(record.messageKey, record)
      }
      return changed
    case 'send': {
      const previous = data.sends[entry.send.name]
      if (previous !== undefined && sendsEqual(previous, entry.send)) return false
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

