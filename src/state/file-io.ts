import {randomBytes} from 'node:crypto'
import {constants, promises as nodeFs} from 'node:fs'
import path from 'node:path'
import {errorCode} from '../errors.js'

/** The file handle operations the state store uses (node's FileHandle and memfs's both fit). */
export interface StateFileHandle {
  read(buffer: Buffer, offset: number, length: number, position: number | null): Promise<{bytesRead: number}>
  write(buffer: Buffer, offset: number, length: number, position: number | null): Promise<{bytesWritten: number}>
  datasync(): Promise<void>
  /** Full fsync; optional because memfs lacks it (datasync is used instead). */
  sync?(): Promise<void>
  truncate(len?: number): Promise<void>
  stat(): Promise<{size: number}>
  close(): Promise<void>
}

/** The subset of `fs.promises` the file state store uses, so tests can pass memfs. */
export interface StateFs {
  open(file: string, flags: string | number, mode?: number): Promise<StateFileHandle>
  readFile(file: string, encoding: 'utf8'): Promise<string>
  rename(from: string, to: string): Promise<void>
  unlink(file: string): Promise<void>
  mkdir(dir: string, options: {recursive: true; mode?: number}): Promise<string | undefined>
  stat(file: string): Promise<{size: number; mtimeMs: number; ino: number; mode: number}>
  lstat(file: string): Promise<{isSymbolicLink(): boolean; isFile(): boolean}>
  realpath(file: string): Promise<string>
  readdir(dir: string): Promise<string[]>
}

/** State files are private to their user: created 0600 in directories created 0700. */
export const FILE_MODE = 0o600
export const DIR_MODE = 0o700

/** Open flags that never follow a symlink at the last path component (journal, temp and side files). */
const NOFOLLOW = constants.O_NOFOLLOW ?? 0
export const OPEN_CREATE_EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW
export const OPEN_CREATE_TRUNCATE = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | NOFOLLOW
export const OPEN_READ_WRITE = constants.O_RDWR | NOFOLLOW
export const OPEN_READ_NOFOLLOW = constants.O_RDONLY | NOFOLLOW

export const realFs: StateFs = nodeFs as unknown as StateFs


const READ_CHUNK = 1 << 20
const NEWLINE = 0x0a

export interface LineScan {
  /** Byte offset just past the last newline-terminated line that was read. */
  goodLength: number
  /** Bytes after the last newline (a torn final line), when reading was not stopped early. */
  tailBytes: number
}

/**
 * Calls `onLine(buffer, start, end, lineNo)` for every newline-terminated line of a file: the line is
 * `buffer[start, end)` without its newline or a trailing CR (and without a BOM on line 1); line numbers are 1-based.
 * Reads in chunks, so a file far larger than a comfortable string can be scanned. Bytes after the last newline are
 * not passed on: they are a torn final line. `onLine` returns false to stop early. Undefined if there is no file.
 */
export async function forEachRawLine(
  fs: StateFs,
  file: string,
  onLine: (buffer: Buffer, start: number, end: number, lineNo: number) => boolean | void,
  flags: string | number = 'r',
): Promise<LineScan | undefined> {
  let handle: StateFileHandle
  try {
    handle = await fs.open(file, flags)
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined
    throw error
  }
  try {
    const chunk = Buffer.allocUnsafe(READ_CHUNK)
    let carry: Buffer | undefined
    let lineNo = 0
    let consumed = 0
    const emit = (buffer: Buffer, start: number, end: number): boolean => {
      lineNo += 1
      let from = start
      let to = end
      if (to > from && buffer[to - 1] === 0x0d) to -= 1
      if (lineNo === 1 && to - from >= 3 && buffer[from] === 0xef && buffer[from + 1] === 0xbb && buffer[from + 2] === 0xbf) from += 3
      return onLine(buffer, from, to, lineNo) !== false
    }
    for (;;) {
      const {bytesRead} = await handle.read(chunk, 0, READ_CHUNK, null)
      if (bytesRead === 0) break
      let start = 0
      for (;;) {
        const nl = chunk.indexOf(NEWLINE, start)
        if (nl === -1 || nl >= bytesRead) break
        let more: boolean
        if (carry) {
          const joined = Buffer.concat([carry, chunk.subarray(start, nl)])
          consumed += joined.length + 1
          carry = undefined
          more = emit(joined, 0, joined.length)
        } else {
          consumed += nl - start + 1
          more = emit(chunk, start, nl)
        }
        start = nl + 1
        if (!more) return {goodLength: consumed, tailBytes: 0}
      }
      if (start < bytesRead) {
        const rest = Buffer.from(chunk.subarray(start, bytesRead))
        carry = carry ? Buffer.concat([carry, rest]) : rest
      }
    }
    return {goodLength: consumed, tailBytes: carry?.length ?? 0}
  } finally {
    await handle.close()
  }
}

/** forEachRawLine with each line decoded as UTF-8 text. */
export function forEachLine(
  fs: StateFs,
  file: string,
  onLine: (line: string, lineNo: number) => boolean | void,
  flags: string | number = 'r',
): Promise<LineScan | undefined> {
  return forEachRawLine(fs, file, (buffer, start, end, lineNo) => onLine(buffer.toString('utf8', start, end), lineNo), flags)
}

/** Writes all of `buffer` at `position` (or at the current position when null), looping over short writes. */
export async function writeFully(handle: StateFileHandle, buffer: Buffer, position: number | null): Promise<void> {
  let offset = 0
  while (offset < buffer.length) {
    const {bytesWritten} = await handle.write(buffer, offset, buffer.length - offset, position === null ? null : position + offset)
    if (bytesWritten <= 0) throw new Error('short write')
    offset += bytesWritten
  }
}

/** Makes a rename or a new file in `dir` durable. Best effort: some platforms and memfs cannot fsync a directory. */
export async function syncDirectory(fs: StateFs, dir: string): Promise<void> {
  let handle: StateFileHandle | undefined
  try {
    handle = await fs.open(dir, 'r')
    await (handle.sync ? handle.sync() : handle.datasync())
  } catch {
    // Not supported here (Windows, memfs); the rename itself is still atomic.
  } finally {
    await handle?.close().catch(() => undefined)
  }
}

const WRITE_CHUNK = 1 << 20

/** `state.json.<pid>-<8 hex>.tmp`: the temporary file of an atomic write beside `target`. */
function tempFileName(target: string): string {
  return `${target}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`
}

/** Whether `name` is a temporary file writeFileAtomically made for the file named `base` (in the same directory). */
export function isTempFileOf(base: string, name: string): boolean {
  if (!name.startsWith(`${base}.`) || !name.endsWith('.tmp')) return false
  return /^\d+-[0-9a-f]{8}$/.test(name.slice(base.length + 1, -'.tmp'.length))
}

/**
 * Replaces `target` atomically with the concatenation of `pieces`: writes a temp file beside it in chunks, fsyncs,
 * renames over the target and fsyncs the directory. Readers see the old file or the new one, never a mix. We do
 * this ourselves rather than with write-file-atomic because that wants the whole content as one string or buffer
 * (too much memory for a million records) and cannot run against an injected file system.
 */
export async function writeFileAtomically(fs: StateFs, target: string, pieces: Iterable<string>, forceMode?: number): Promise<void> {
  const dir = path.dirname(target)
  await fs.mkdir(dir, {recursive: true, mode: DIR_MODE})
  // A new file is private; a file that exists keeps the mode its owner gave it, unless `forceMode` says otherwise.
  let mode = forceMode ?? FILE_MODE
  if (forceMode === undefined) {
    try {
      mode = (await fs.stat(target)).mode & 0o777
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error
    }
  }
  const temp = tempFileName(target)
  const handle = await fs.open(temp, OPEN_CREATE_EXCLUSIVE, mode)
  try {
    // The pieces are encoded into one buffer, written whenever it is full: a state of a million records is about
    // 90 MB of text, and a new string and buffer per chunk would all wait for a full garbage collection.
    const buffer = Buffer.allocUnsafe(WRITE_CHUNK)
    let used = 0
    let position = 0
    const flush = async () => {
      await writeFully(handle, buffer.subarray(0, used), position)
      position += used
      used = 0
    }
    for (const piece of pieces) {
      // A UTF-8 character takes at most 3 bytes per UTF-16 unit: a piece that surely fits is not measured first.
      const bytes = piece.length * 3 <= WRITE_CHUNK - used ? -1 : Buffer.byteLength(piece, 'utf8')
      if (bytes > WRITE_CHUNK - used) {
        if (used > 0) await flush()
        if (bytes > WRITE_CHUNK) {
          const big = Buffer.from(piece, 'utf8')
          await writeFully(handle, big, position)
          position += big.length
          continue
        }
      }
      used += buffer.write(piece, used, 'utf8')
    }
    if (used > 0) await flush()
    await (handle.sync ? handle.sync() : handle.datasync())
    await handle.close()
  } catch (error) {
    await handle.close().catch(() => undefined)
    await fs.unlink(temp).catch(() => undefined)
    throw error
  }
  try {
    await fs.rename(temp, target)
  } catch (error) {
    await fs.unlink(temp).catch(() => undefined)
    throw error
  }
  await syncDirectory(fs, dir)
}
