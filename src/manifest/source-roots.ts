import {constants} from 'node:fs'
import path from 'node:path'

import {errorCode} from '../errors.js'

/**
 * Recipient sources stay inside the project. A manifest comes from a pull request that may be hostile, and what
 * the loader reads can end up in a CI log (error messages) or a PR comment: `csv: /proc/self/environ` or
 * `csv: ../../home/ci/.ssh/id_ed25519` must be refused before the file is opened. Sources resolve inside a source
 * root: the working directory, or the directories named by --source-root / MCSEND_SOURCE_ROOT. Absolute paths
 * outside them, `..` escapes, symlinks that resolve outside, and anything but a regular file (FIFOs, sockets,
 * devices, /proc) are refused.
 */

/** The part of `node:fs` confinement needs; `node:fs` and memfs both satisfy it. */
export interface RootsFs {
  promises: {
    realpath(path: string): Promise<string | Buffer>
    open(path: string, flags: number): Promise<SourceHandle>
    stat(path: string): Promise<{dev: number | bigint; ino: number | bigint}>
  }
}

export interface SourceHandle {
  readonly fd: number
  stat(): Promise<{isFile(): boolean; isDirectory?(): boolean; dev: number | bigint; ino: number | bigint}>
  readFile(): Promise<Buffer | string>
  close(): Promise<void>
}

/** Each root twice: as written (resolved against cwd) and with symlinks resolved, so both forms of a path match. */
export interface SourceRoots {
  /** As named, for messages. */
  display: string[]
  lexical: string[]
  real: string[]
}

/** A refusal: why, in a few words, for the problem at the manifest line. */
export class SourceRefused extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message)
    this.name = 'SourceRefused'
  }
}

const ROOT_HINT = 'recipient files must be inside the project (the working directory); name other directories with --source-root DIR or MCSEND_SOURCE_ROOT'

/** Kernel and device trees: never recipient data, whatever the roots say. */
const SPECIAL_TREES = ['/proc', '/sys', '/dev']

function inside(p: string, root: string): boolean {
  if (p === root) return true
  const prefix = root.endsWith(path.sep) ? root : `${root}${path.sep}`
  return p.startsWith(prefix)
}

function insideAny(p: string, roots: readonly string[]): boolean {
  return roots.some((r) => inside(p, r))
}

/**
 * The roots: `named` (from --source-root and MCSEND_SOURCE_ROOT, relative to cwd), or the working directory when
 * none is named. A named root that does not exist is an error.
 */
export async function resolveSourceRoots(named: readonly string[], cwd: string, fs: RootsFs): Promise<SourceRoots> {
  const list = named.length > 0 ? [...named] : [cwd]
  const roots: SourceRoots = {display: [], lexical: [], real: []}
  for (const root of list) {
    const lexical = path.resolve(cwd, root)
    let real: string
    try {
      real = String(await fs.promises.realpath(lexical))
    } catch (error) {
      throw new SourceRefused(`source root ${root}: ${errorCode(error) === 'ENOENT' ? 'no such directory' : 'cannot be read'}`, 'name an existing directory with --source-root DIR')
    }
    roots.display.push(root)
    roots.lexical.push(lexical)
    roots.real.push(real)
  }
  return roots
}

/** The roots from the flag and the environment (MCSEND_SOURCE_ROOT, a path list like PATH). */
export function namedSourceRoots(flag: readonly string[] | undefined, env: NodeJS.ProcessEnv): string[] {
  const fromEnv = (env.MCSEND_SOURCE_ROOT ?? '').split(path.delimiter).filter((p) => p.trim() !== '')
  return [...(flag ?? []), ...fromEnv]
}

/**
 * Opens a recipient source named in a manifest, or throws SourceRefused (or the I/O error, e.g. ENOENT). Checks the
 * path as written, then where it really leads (symlinks resolved), then opens that exact path without following a
 * symlink and without blocking on a FIFO, checks the descriptor is a regular file and that it is still the file
 * that was checked (no swap between the check and the open).
 */
export async function openConfinedSource(written: string, manifestAbs: string, roots: SourceRoots, fs: RootsFs): Promise<SourceHandle> {
  const lexical = path.resolve(path.dirname(manifestAbs), written)
  const allowed = [...roots.lexical, ...roots.real]
  if (!insideAny(lexical, allowed)) {
    const why = path.isAbsolute(written) ? 'an absolute path outside the source roots' : 'a path that leads outside the source roots'
    throw new SourceRefused(`refused: ${why}`, ROOT_HINT)
  }
  const real = String(await fs.promises.realpath(lexical))
  if (!insideAny(real, roots.real)) throw new SourceRefused('refused: a symlink that resolves outside the source roots', ROOT_HINT)
  if (SPECIAL_TREES.some((tree) => inside(real, tree))) throw new SourceRefused('refused: a special file, not recipient data', 'point the source at a CSV, JSON or NDJSON file')
  let handle: SourceHandle
  try {
    handle = await fs.promises.open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    if (errorCode(error) === 'ELOOP') throw new SourceRefused('refused: it changed into a symlink while being opened', ROOT_HINT)
    throw error
  }
  try {
    const opened = await handle.stat()
    if (opened.isDirectory?.() === true) throw Object.assign(new Error('is a directory'), {code: 'EISDIR'})
    if (!opened.isFile()) throw new SourceRefused('refused: not a regular file (a directory, FIFO, socket or device)', 'point the source at a CSV, JSON or NDJSON file')
    const now = await fs.promises.stat(String(await fs.promises.realpath(lexical)))
    if (now.dev !== opened.dev || now.ino !== opened.ino) throw new SourceRefused('refused: the file changed while being opened', 'run again; nothing else should be changing the project while mcsend reads it')
    return handle
  } catch (error) {
    await handle.close().catch(() => undefined)
    throw error
  }
}

/** Whether a path found by a directory scan (symlinks resolved) is inside the roots. */
export async function scanAllowed(abs: string, roots: SourceRoots, fs: RootsFs): Promise<boolean> {
  try {
    return insideAny(String(await fs.promises.realpath(abs)), roots.real)
  } catch {
    return false
  }
}
