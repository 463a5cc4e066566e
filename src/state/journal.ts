import path from 'node:path'

import {errorCode} from '../errors.js'

import {
  DIR_MODE,
  FILE_MODE,
  OPEN_CREATE_TRUNCATE,
  OPEN_READ_NOFOLLOW,
  OPEN_READ_WRITE,
  type StateFileHandle,
  type StateFs,
  forEachLine,
  syncDirectory,
  writeFully,
} from './file-io.js'
import {SnapshotFormatError, batchesJson, batchesRecords, canonicalMeta, canonicalSend, metaProblem, recordProblem, sendProblem} from './serialize.js'
import type {MessageRecord, SendSnapshot, StateMeta} from './types.js'

/**
 * The write-ahead journal beside the snapshot (`state.json.journal`), one JSON object per line:
 *
 *   {"journal":2,"lineage":"…","serial":7}      header: the snapshot this journal applies on top of
 *   {"op":"put","batches":[{…,"keys":[…]}, …]}  upsert message records (one line per append call), grouped as
 *                                               in the snapshot (serialize.ts batchesJson); format 1 wrote them
 *                                               whole, `{"op":"put","records":[{…}, …]}`, still read
 *   {"op":"send","send":{…}}                    upsert a send snapshot
 *   {"op":"rm","keys":["…", …]}                 forget message records
 *   {"op":"meta","meta":{…}}                    set state metadata (target, keyFingerprint)
 *
 * Every operation is an upsert or a removal, so replaying a line twice changes nothing. The header says which
 * snapshot the journal was started on; it is informational: a journal is folded, not judged (see file-store.ts),
 * so a crash between the snapshot rename and the journal removal, or a journal beside a snapshot of another
 * lineage, loses nothing. The journal is never opened through a symlink.
 */
export const JOURNAL_FORMAT = 2

export interface JournalHeader {
  lineage: string
  serial: number
}

export type JournalEntry =
  | {op: 'put'; records: MessageRecord[]}
  | {op: 'send'; send: SendSnapshot}
  | {op: 'rm'; keys: string[]}
  | {op: 'meta'; meta: StateMeta}

function encodeHeader(header: JournalHeader): string {
  return `${JSON.stringify({journal: JOURNAL_FORMAT, lineage: header.lineage, serial: header.serial})}\n`
}

export function encodePut(records: readonly MessageRecord[]): string {
  return `{"op":"put","batches":${batchesJson(records)}}\n`
}

export function encodeSend(send: SendSnapshot): string {
  return `${JSON.stringify({op: 'send', send: canonicalSend(send)})}\n`
}

export function encodeMeta(meta: StateMeta): string {
  return `${JSON.stringify({op: 'meta', meta: canonicalMeta(meta)})}\n`
}

export function encodeRemove(keys: readonly string[]): string {
  return `${JSON.stringify({op: 'rm', keys})}\n`
}

/** A journal line that cannot be used; `line` is 1-based. */
export class JournalFormatError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message)
    this.name = 'JournalFormatError'
  }
}

/** A journal line as an object; `what` names the line in the error when it is not JSON or not an object. */
function parseObject(text: string, lineNo: number, what: string, notObject: string): Record<string, unknown> {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    throw new JournalFormatError(`${what} is not valid JSON`, lineNo)
  }
  if (typeof doc !== 'object' || doc === null) throw new JournalFormatError(notObject, lineNo)
  return doc as Record<string, unknown>
}

function parseHeader(text: string, lineNo: number): JournalHeader {
  const h = parseObject(text, lineNo, 'the header line', 'the first line is not a journal header')
  if (typeof h.journal !== 'number') throw new JournalFormatError('the first line is not a journal header', lineNo)
  if (h.journal > JOURNAL_FORMAT) throw new JournalFormatError(`the journal has format ${h.journal}, newer than this mcsend reads`, lineNo)
  if (typeof h.lineage !== 'string' || typeof h.serial !== 'number') throw new JournalFormatError('the header lacks lineage or serial', lineNo)
  return {lineage: h.lineage, serial: h.serial}
}

function parseEntry(text: string, lineNo: number): JournalEntry {
  const e = parseObject(text, lineNo, 'the line', 'the line is not a JSON object')
  switch (e.op) {
    case 'put': {
      if (e.batches !== undefined) return {op: 'put', records: putBatches(e.batches, lineNo)}
      if (!Array.isArray(e.records)) throw new JournalFormatError('`records` must be a list', lineNo)
      for (const r of e.records as unknown[]) {
        const problem = recordProblem(r) ?? (typeof (r as MessageRecord).messageKey === 'string' ? undefined : '`messageKey` is missing')
        if (problem) throw new JournalFormatError(`a record ${problem}`, lineNo)
      }
      return {op: 'put', records: e.records as MessageRecord[]}
    }
    case 'send': {
      const problem = sendProblem(e.send)
      if (problem) throw new JournalFormatError(`the send ${problem}`, lineNo)
      return {op: 'send', send: e.send as SendSnapshot}
    }
    case 'rm': {
      if (!Array.isArray(e.keys) || !e.keys.every((k) => typeof k === 'string')) throw new JournalFormatError('`keys` must be a list of strings', lineNo)
      return {op: 'rm', keys: e.keys as string[]}
    }
    case 'meta': {
      const problem = metaProblem(e.meta)
      if (problem) throw new JournalFormatError(`the metadata ${problem}`, lineNo)
      return {op: 'meta', meta: canonicalMeta(e.meta as StateMeta)}
    }
    default:
      throw new JournalFormatError(`unknown operation ${JSON.stringify(e.op)}`, lineNo)
  }
}

/** The records of a format 2 `put` line, each checked as a record given to append() is. */
function putBatches(batches: unknown, lineNo: number): MessageRecord[] {
  let records: MessageRecord[]
  try {
    records = batchesRecords(batches)
  } catch (error) {
    if (error instanceof SnapshotFormatError) throw new JournalFormatError(error.message, lineNo)
    throw error
  }
  for (const r of records) {
    const problem = recordProblem(r)
    if (problem) throw new JournalFormatError(`a record ${problem}`, lineNo)
  }
  return records
}

export interface JournalScanResult {
  /** The header line, if the journal has one. */
  header?: JournalHeader
  /** Byte offset after the last complete line read: where the next append goes. */
  goodLength: number
  /** Physical size seen, including a torn final line. */
  size: number
}

/**
 * Reads a journal: each complete entry line after the header goes to `onEntry`. A final line without its newline
 * is a torn append from a crash and is ignored; a bad line anywhere else throws JournalFormatError. Returns
 * undefined if there is no journal. A symlink in place of the journal fails (ELOOP).
 */
export async function scanJournal(fs: StateFs, file: string, onEntry: (entry: JournalEntry) => void): Promise<JournalScanResult | undefined> {
  let header: JournalHeader | undefined
  const scan = await forEachLine(
    fs,
    file,
    (text, lineNo) => {
      if (lineNo === 1) header = parseHeader(text, lineNo)
      else onEntry(parseEntry(text, lineNo))
    },
    OPEN_READ_NOFOLLOW,
  )
  if (!scan) return undefined
  return {header, goodLength: scan.goodLength, size: scan.goodLength + scan.tailBytes}
}

/** Appends lines to the journal, each followed by a datasync; a failed write is rolled back on the next open. */
export class JournalWriter {
  private handle?: StateFileHandle
  private position = 0
  /** Set when an append failed part way: the next open cuts the file back to `position`. */
  private repairPending = false
  /** The buffer append() encodes lines into (see encode). */
  private scratch?: Buffer

  constructor(
    private readonly fs: StateFs,
    readonly file: string,
  ) {}

  get isOpen(): boolean {
    return this.handle !== undefined
  }

  /** True when the last append failed; call resume(size, false) before appending again. */
  get needsRepair(): boolean {
    return this.repairPending
  }

  /** Bytes known to be good in the journal (where the next line goes). */
  get size(): number {
    return this.position
  }

  /**
   * Continues an existing journal whose complete lines end at `goodLength`: cuts off a torn tail. If lines were
   * added by someone else since it was read (`strict`), refuses, since appending would interleave two runs.
   */
  async resume(goodLength: number, strict: boolean): Promise<void> {
    const handle = await this.fs.open(this.file, OPEN_READ_WRITE)
    try {
      const size = await sizeOf(handle)
      if (size !== goodLength) {
        if (strict && (size < goodLength || (await containsNewline(handle, goodLength, size)))) {
          throw new JournalFormatError('the journal changed since it was read (is another mcsend run using this state?)', 0)
        }
        await handle.truncate(goodLength)
        await handle.datasync()
      }
    } catch (error) {
      await handle.close().catch(() => undefined)
      throw error
    }
    this.handle = handle
    this.position = goodLength
    this.repairPending = false
  }

  /** Starts a new journal (replacing any old one) with `header` followed by `firstLine`, durably. */
  async create(header: JournalHeader, firstLine: string): Promise<void> {
    await this.fs.mkdir(path.dirname(this.file), {recursive: true, mode: DIR_MODE})
    const handle = await this.fs.open(this.file, OPEN_CREATE_TRUNCATE, FILE_MODE)
    const buffer = Buffer.from(encodeHeader(header) + firstLine, 'utf8')
    try {
      await writeFully(handle, buffer, 0)
      await handle.datasync()
    } catch (error) {
      // Nothing durable yet: the caller will create the journal afresh next time.
      await handle.close().catch(() => undefined)
      throw error
    }
    this.handle = handle
    this.position = buffer.length
    this.repairPending = false
    await syncDirectory(this.fs, path.dirname(this.file))
  }

  async append(line: string): Promise<void> {
    const handle = this.handle
    if (!handle) throw new Error('journal is not open')
    const buffer = this.encode(line)
    try {
      await writeFully(handle, buffer, this.position)
      await handle.datasync()
    } catch (error) {
      // Leave the file for resume(): it cuts it back to the last line known to be durable.
      this.handle = undefined
      this.repairPending = true
      await handle.close().catch(() => undefined)
      throw error
    }
    this.position += buffer.length
  }

  /**
   * The line as UTF-8 in a buffer this writer reuses: appends are written one at a time (the store queues them), and
   * a new buffer per line (two per batch) would be external memory that only a full garbage collection frees.
   */
  private encode(line: string): Buffer {
    const bytes = Buffer.byteLength(line, 'utf8')
    if (bytes > MAX_REUSED_BUFFER) return Buffer.from(line, 'utf8')
    if (this.scratch === undefined || this.scratch.length < bytes) this.scratch = Buffer.allocUnsafe(Math.max(bytes, 64 * 1024))
    const written = this.scratch.write(line, 0, 'utf8')
    return this.scratch.subarray(0, written)
  }

  async close(): Promise<void> {
    const handle = this.handle
    this.handle = undefined
    await handle?.close()
  }

  /** Closes and deletes the journal (after its content was folded into the snapshot). */
  async discard(): Promise<void> {
    await this.close()
    try {
      await this.fs.unlink(this.file)
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error
    }
    this.position = 0
    this.repairPending = false
  }
}

/** Lines longer than this get a buffer of their own, so a rare huge append does not keep its size allocated. */
const MAX_REUSED_BUFFER = 4 * 1024 * 1024

async function sizeOf(handle: StateFileHandle): Promise<number> {
  return (await handle.stat()).size
}

async function containsNewline(handle: StateFileHandle, from: number, to: number): Promise<boolean> {
  const buffer = Buffer.alloc(Math.min(to - from, 1 << 16))
  for (let at = from; at < to; ) {
    const {bytesRead} = await handle.read(buffer, 0, Math.min(buffer.length, to - at), at)
    if (bytesRead === 0) break
    if (buffer.subarray(0, bytesRead).includes(0x0a)) return true
    at += bytesRead
  }
  return false
}
