import {createWriteStream, type WriteStream} from 'node:fs'
import {chmod, mkdir, open, readFile} from 'node:fs/promises'
import path from 'node:path'

import type {OutboxEntry} from './messages.js'

/** Where `--sandbox` keeps the sandbox's outbox (and its own state), relative to the project directory. */
export const SANDBOX_DIR = '.mcsend/sandbox'
export const OUTBOX_FILE = 'outbox.ndjson'

export interface LoadedOutbox {
  entries: OutboxEntry[]
  file: OutboxFile
}

/**
 * The append-only outbox under dataDir: one accepted message per line, written once per batch. It is the
 * sandbox's whole memory across runs (outbox and messageKey dedupe are rebuilt from it on start).
 */
export class OutboxFile {
  private failed: Error | undefined

  private constructor(private readonly stream: WriteStream) {
    stream.on('error', (error) => {
      this.failed = error
    })
  }

  static async open(dataDir: string): Promise<LoadedOutbox> {
    // The outbox holds addresses in clear: owner-only, the directory 0700 and the file 0600 (also when an older
    // version created them readable by others).
    await mkdir(dataDir, {recursive: true, mode: 0o700})
    await chmod(dataDir, 0o700)
    const file = path.join(dataDir, OUTBOX_FILE)
    const entries = await loadAndRepair(file)
    const stream = createWriteStream(file, {flags: 'a', mode: 0o600})
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve())
      stream.once('error', reject)
    })
    await chmod(file, 0o600)
    return {entries, file: new OutboxFile(stream)}
  }

  /** Appends one chunk (whole lines); resolves once the bytes are handed to the OS. */
  append(chunk: string): Promise<void> {
    if (this.failed) return Promise.reject(this.failed)
    return new Promise((resolve, reject) => {
      this.stream.write(chunk, (error) => (error ? reject(error) : resolve()))
    })
  }

  close(): Promise<void> {
    if (this.stream.closed || this.stream.destroyed) return Promise.resolve()
    return new Promise((resolve) => {
      this.stream.end(() => resolve())
    })
  }
}

/** The entries of the outbox file; lines that cannot be read are skipped. */
async function loadAndRepair(file: string): Promise<OutboxEntry[]> {
  let buf: Buffer
  try {
    buf = await readFile(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  const entries: OutboxEntry[] = []
  let start = 0
  while (start < buf.length) {
    const end = buf.indexOf(10, start)
    if (end === -1) break
    const entry = parseEntry(buf.toString('utf8', start, end))
    if (entry) entries.push(entry)
    start = end + 1
  }
  if (start < buf.length) {
    // A crash mid-write leaves a last line without its newline. Keep it if it is whole, drop it otherwise, and
    // repair the file so the next append starts on a fresh line.
    const tail = parseEntry(buf.toString('utf8', start))
    const handle = await open(file, 'r+')
    try {
      if (tail) {
        entries.push(tail)
        await handle.write('\n', buf.length)
      } else {
        await handle.truncate(start)
      }
    } finally {
      await handle.close()
    }
  }
  return entries
}

function parseEntry(line: string): OutboxEntry | undefined {
  if (line.trim() === '') return undefined
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return undefined
  }
  if (value === null || typeof value !== 'object') return undefined
  const v = value as Record<string, unknown>
  if (typeof v.messageKey !== 'string' || typeof v.mid !== 'string' || typeof v.acceptedAt !== 'string' || Number.isNaN(Date.parse(v.acceptedAt))) return undefined
  return {
    messageKey: v.messageKey,
    mid: v.mid,
    definitionKey: typeof v.definitionKey === 'string' ? v.definitionKey : '',
    contactKey: typeof v.contactKey === 'string' ? v.contactKey : '',
    to: typeof v.to === 'string' ? v.to : '',
    attributes: v.attributes !== null && typeof v.attributes === 'object' ? (v.attributes as Record<string, unknown>) : {},
    requestId: typeof v.requestId === 'string' ? v.requestId : '',
    acceptedAt: v.acceptedAt,
  }
}
