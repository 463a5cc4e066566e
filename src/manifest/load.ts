import path from 'node:path'

import {isScalar, LineCounter, parseAllDocuments, type Document} from 'yaml'

import {errorCode, type Problem} from '../errors.js'
import {readCsvSource, type CsvColumns} from './csv-source.js'
import {readJsonSource, readNdjsonSource} from './json-source.js'
import {ProblemSink, ScopedProblems} from './problems.js'
import {RecipientCollector, recipientFromValue, recipientPlace} from './recipients.js'
import {describeSchemaErrors, formatPath, manifestValidators} from './schema.js'
import type {Attributes, LoadResult, Recipient, Send, SourceDigest} from './types.js'
import {locateYaml, type TextPosition} from './yaml-locate.js'
import {escapeTerminal, excerpt} from '../privacy/index.js'
import {sha256Hex} from '../keys/hash.js'
import {messageKeyDeriver} from '../keys/message-key.js'

/**
 * The part of `node:fs` the loader uses. `node:fs` itself, memfs's `Volume` and `createFsFromVolume(volume)` all
 * satisfy it.
 */
export interface ManifestFs {
  promises: {
    readFile(path: string): Promise<Buffer | string>
    stat(path: string): Promise<{isFile(): boolean; isDirectory(): boolean}>
    readdir(path: string): Promise<readonly unknown[]>
  }
  createReadStream(path: string, options?: {highWaterMark?: number}): AsyncIterable<Buffer | string>
}

export interface LoadDeps {
  fs: ManifestFs
  /** Base for relative paths and for the display paths in problems and results. */
  cwd: string
}

export interface LoadOptions {
  /** Problems kept in full (default 50); the rest are only counted in `omittedProblems`. */
  maxProblems?: number
}

const DEFAULT_MAX_PROBLEMS = 50

const MANIFEST_EXTENSIONS = ['.yaml', '.yml']
const SKIPPED_DIRECTORIES = new Set(['node_modules'])
/** Large reads for big CSV/NDJSON files: fewer chunks, less per-chunk overhead. */
const READ_CHUNK_BYTES = 1 << 20

interface Context {
  fs: ManifestFs
  cwd: string
  sink: ProblemSink
  manifests: SourceDigest[]
  candidates: Candidate[]
  /** Path relative to cwd with forward slashes, for problems and results. */
  display: (abs: string) => string
}

/** A send as read, before the cross-file checks (duplicate names) decide whether it is clean. */
interface Candidate {
  send: Send | undefined
  name: string | undefined
  nameAt: {file: string; line: number; column: number}
  problems: ScopedProblems
}

function describeIoError(error: unknown): string {
  switch (errorCode(error)) {
    case 'ENOENT':
      return 'no such file or directory'
    case 'EACCES':
    case 'EPERM':
      return 'permission denied'
    case 'EISDIR':
      return 'is a directory, not a file'
    default:
      return 'cannot be read'
  }
}

function entryName(entry: unknown): string {
  if (typeof entry === 'string') return entry
  if (Buffer.isBuffer(entry)) return entry.toString('utf8')
  return String((entry as {name?: unknown}).name)
}

function isManifestFile(name: string): boolean {
  return MANIFEST_EXTENSIONS.includes(path.extname(name).toLowerCase())
}

/** Manifest files to load, in order, each with its bytes when the directory scan already read them. */
type ManifestFiles = Map<string, Buffer | string | undefined>

/** Every manifest file below a directory, depth-first in name order, skipping node_modules and dot-directories. */
async function walk(fs: ManifestFs, directory: string, out: ManifestFiles): Promise<void> {
  const names = (await fs.promises.readdir(directory)).map(entryName).sort()
  for (const name of names) {
    const full = path.join(directory, name)
    let stats: {isFile(): boolean; isDirectory(): boolean}
    try {
      stats = await fs.promises.stat(full)
    } catch {
      continue // a dangling symlink is not a manifest
    }
    if (stats.isDirectory()) {
      if (!name.startsWith('.') && !SKIPPED_DIRECTORIES.has(name)) await walk(fs, full, out)
    } else if (stats.isFile() && isManifestFile(name)) {
      const bytes = await fs.promises.readFile(full).catch(() => undefined)
      // An unreadable file is kept: the loader reports the read error at its place.
      if (bytes === undefined || looksLikeManifest(bytes)) out.set(full, bytes)
    }
  }
}

/**
 * A directory in a repository holds other YAML too (CI workflows, compose files): a directory scan takes only
 * files with an `apiVersion: mcsend/…` or `kind: Send` line. A file named explicitly is always validated.
 */
function looksLikeManifest(bytes: Buffer | string): boolean {
  const text = String(bytes)
  return /^\s*apiVersion:\s*["']?mcsend\//m.test(text) || /^\s*kind:\s*["']?Send\b/m.test(text)
}

async function expandPaths(inputs: readonly string[], ctx: Context): Promise<ManifestFiles> {
  const display = ctx.display
  const files: ManifestFiles = new Map()
  for (const input of inputs.length === 0 ? [ctx.cwd] : inputs) {
    const abs = path.resolve(ctx.cwd, input)
    let stats: {isFile(): boolean; isDirectory(): boolean}
    try {
      stats = await ctx.fs.promises.stat(abs)
    } catch (error) {
      ctx.sink.add({file: display(abs), message: describeIoError(error), hint: 'pass manifest files or directories that hold them'})
      continue
    }
    if (stats.isDirectory()) {
      const found: ManifestFiles = new Map()
      await walk(ctx.fs, abs, found)
      if (found.size === 0) ctx.sink.add({file: display(abs), message: 'no manifest files in this directory (*.yaml or *.yml with apiVersion: mcsend/v1)'})
      for (const [file, bytes] of found) if (!files.has(file)) files.set(file, bytes)
    } else if (!files.has(abs)) files.set(abs, undefined)
  }
  return files
}

function pointer(segments: readonly (string | number)[]): string {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')
}

function yamlErrorMessage(error: {code: string; message: string}, text: string, offset: number): string {
  if (error.code === 'DUPLICATE_KEY') {
    const match = /^("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^:#\n]+?)\s*:/.exec(text.slice(offset, offset + 200))
    const key = match?.[1]?.replace(/^["']|["']$/g, '')
    return `duplicate key ${key === undefined ? '' : `${excerpt(key)} `}(each key may appear only once in a mapping)`
  }
  // The parser's own words; cut and escaped in case they quote the source.
  return escapeTerminal(error.message.replace(/\s+/g, ' ').trim().slice(0, 200))
}

interface SourceItem {
  inline?: unknown[]
  csv?: string
  columns?: CsvColumns
  json?: string
  ndjson?: string
}

/** Reads one manifest file (unless the directory scan already did): every document is a send. */
async function loadManifestFile(abs: string, scanned: Buffer | string | undefined, ctx: Context): Promise<void> {
  const file = ctx.display(abs)
  let bytes: Buffer | string
  try {
    bytes = scanned ?? (await ctx.fs.promises.readFile(abs))
  } catch (error) {
    ctx.sink.add({file, message: describeIoError(error)})
    return
  }
  ctx.manifests.push({file, sha256: sha256Hex(bytes)})
  let text = typeof bytes === 'string' ? bytes : bytes.toString('utf8')
  if (text.startsWith('\uFEFF')) text = text.slice(1)
  const counter = new LineCounter()
  const documents = parseAllDocuments(text, {lineCounter: counter, uniqueKeys: true, prettyErrors: false})
  for (const doc of documents) {
    const parseProblems = [...doc.errors, ...doc.warnings]
    if (parseProblems.length > 0) {
      for (const error of parseProblems) {
        const {line, col} = counter.linePos(error.pos[0])
        ctx.sink.add({file, line, column: col, message: yamlErrorMessage(error, text, error.pos[0])})
      }
      continue
    }
    // An empty document (only comments, or nothing between two `---`) is not a send.
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) continue
    await loadDocument(doc as Document, counter, file, abs, ctx)
  }
}

async function loadDocument(doc: Document, counter: LineCounter, file: string, abs: string, ctx: Context): Promise<void> {
  const problems = new ScopedProblems(ctx.sink)
  const at = (segments: readonly (string | number)[], key = false): TextPosition => locateYaml(doc, counter, segments, key)
  const docAt = at([])
  let value: unknown
  try {
    value = doc.toJS({maxAliasCount: 100})
  } catch (error) {
    problems.add({file, line: docAt.line, column: docAt.column, message: `cannot read this document: ${escapeTerminal((error as Error).message.slice(0, 200))}`})
    return
  }

  const validate = manifestValidators().manifest
  const valid = validate(value)
  const errored = (validate.errors ?? []).map((e) => e.instancePath)
  const located: Problem[] = describeSchemaErrors(validate.errors, 'yaml').map((issue) => {
    const pos = at(issue.path, issue.key)
    return {file, line: pos.line, column: pos.column, path: formatPath(issue.path) || undefined, message: issue.message}
  })
  located.sort((a, b) => a.line! - b.line! || a.column! - b.column!)
  for (const p of located) problems.add(p)

  const manifest = (typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {}) as Record<string, unknown>
  const name = typeof manifest.name === 'string' && !errored.includes('/name') ? manifest.name : undefined
  const nameAt = at(['name'])
  const candidate: Candidate = {send: undefined, name, nameAt: {file, ...nameAt}, problems}
  ctx.candidates.push(candidate)

  const collector = new RecipientCollector(problems)
  const digests: SourceDigest[] = []
  const sources = Array.isArray(manifest.recipients) ? (manifest.recipients as unknown[]) : []
  for (const [i, item] of sources.entries()) {
    const prefix = pointer(['recipients', i])
    if (errored.some((p) => p === prefix || p.startsWith(`${prefix}/`))) continue
    const source = item as SourceItem
    if (source.inline !== undefined) {
      for (const [j, recipient] of source.inline.entries()) {
        const pos = at(['recipients', i, 'inline', j])
        collector.add(recipientFromValue(recipient as Record<string, unknown>, file, pos.line, pos.column), formatPath(['recipients', i, 'inline', j]))
      }
      continue
    }
    const kind = source.csv !== undefined ? 'csv' : source.json !== undefined ? 'json' : 'ndjson'
    const relative = source[kind]!
    const sourceAbs = path.resolve(path.dirname(abs), relative)
    const sourceFile = ctx.display(sourceAbs)
    const digest = await readSource(kind, sourceAbs, sourceFile, source.columns, collector, problems, ctx).catch((error: unknown) => {
      const pos = at(['recipients', i, kind])
      problems.add({
        file,
        line: pos.line,
        column: pos.column,
        path: formatPath(['recipients', i, kind]),
        message: `${kind} source ${sourceFile}: ${describeIoError(error)}`,
        hint: 'source paths are relative to the manifest file',
      })
      return undefined
    })
    if (digest !== undefined) digests.push({file: sourceFile, sha256: digest})
  }

  if (!valid || problems.count > 0) return
  const send: Send = {
    apiVersion: 'mcsend/v1',
    kind: 'Send',
    name: manifest.name as string,
    definitionKey: manifest.definitionKey as string,
    revision: (manifest.revision as number | undefined) ?? 1,
    attributes: (manifest.attributes as Attributes | undefined) ?? {},
    recipients: collector.recipients,
    file,
    line: docAt.line,
    column: docAt.column,
    sources: digests,
  }
  if (typeof manifest.batchSize === 'number') send.batchSize = manifest.batchSize
  candidate.send = send
}

async function readSource(
  kind: 'csv' | 'json' | 'ndjson',
  abs: string,
  file: string,
  columns: CsvColumns | undefined,
  collector: RecipientCollector,
  problems: ScopedProblems,
  ctx: Context,
): Promise<string> {
  const stats = await ctx.fs.promises.stat(abs)
  if (!stats.isFile()) throw Object.assign(new Error('not a file'), {code: stats.isDirectory() ? 'EISDIR' : 'EINVAL'})
  if (kind === 'json') {
    const bytes = await ctx.fs.promises.readFile(abs)
    return readJsonSource(typeof bytes === 'string' ? Buffer.from(bytes) : bytes, file, collector, problems)
  }
  const stream = ctx.fs.createReadStream(abs, {highWaterMark: READ_CHUNK_BYTES})
  if (kind === 'csv') return readCsvSource(stream, file, columns, collector, problems)
  return readNdjsonSource(stream, file, collector, problems)
}

/** Two sends with the same name would share messageKeys: report each later one, naming the first, and drop both. */
function checkNames(ctx: Context): void {
  const first = new Map<string, Candidate>()
  for (const candidate of ctx.candidates) {
    if (candidate.name === undefined) continue
    const earlier = first.get(candidate.name)
    if (earlier === undefined) {
      first.set(candidate.name, candidate)
      continue
    }
    const e = earlier.nameAt
    candidate.problems.add({
      file: candidate.nameAt.file,
      line: candidate.nameAt.line,
      column: candidate.nameAt.column,
      path: 'name',
      message: `duplicate send name ${JSON.stringify(candidate.name)}: also in ${e.file}:${e.line}:${e.column}`,
      hint: 'send names are unique across all manifests (they are part of every messageKey)',
    })
    earlier.send = undefined
    candidate.send = undefined
  }
}

/**
 * Every message needs its own messageKey: Marketing Cloud answers 109110 for a reused one, which apply counts as
 * "already accepted", so two recipients sharing a key would silently leave one of them without the email. Derived
 * keys cannot collide (unique names and contactKeys, SHA-256); explicit ones can, with each other or with a derived
 * key. Checked only when explicit keys exist, so the common case costs nothing.
 */
function checkMessageKeys(ctx: Context): void {
  const explicit = new Map<string, Recipient>()
  const report = (candidate: Candidate, r: Recipient, key: string, earlier: Recipient) => {
    candidate.problems.add({
      file: r.file,
      line: r.line,
      column: r.column,
      path: 'messageKey',
      message: `duplicate messageKey ${excerpt(key, 100)}: also used at ${recipientPlace(earlier)}`,
      hint: 'every message needs its own key; remove the explicit messageKey to have one derived',
    })
    candidate.send = undefined
  }
  for (const candidate of ctx.candidates) {
    for (const r of candidate.send?.recipients ?? []) {
      if (r.messageKey === undefined) continue
      if (r.messageKey.includes('@')) {
        // Keys are stored in the state and printed in plans, which must never hold an address.
        candidate.problems.add({
          file: r.file,
          line: r.line,
          column: r.column,
          path: 'messageKey',
          message: 'messageKey must not contain "@": keys are stored in the state and shown in plans, which never hold email addresses',
          hint: 'remove the explicit messageKey to have one derived',
        })
        candidate.send = undefined
        continue
      }
      const earlier = explicit.get(r.messageKey)
      if (earlier === undefined) explicit.set(r.messageKey, r)
      else report(candidate, r, r.messageKey, earlier)
    }
  }
  if (explicit.size === 0) return
  for (const candidate of ctx.candidates) {
    const send = candidate.send
    if (send === undefined) continue
    const derive = messageKeyDeriver(send.name, send.revision)
    for (const r of send.recipients) {
      if (r.messageKey !== undefined) continue
      const key = derive(r.contactKey)
      const earlier = explicit.get(key)
      if (earlier !== undefined) report(candidate, earlier, key, r)
    }
  }
}

/**
 * Loads manifests from files and directories (every *.yaml/*.yml below a directory; no paths means the working
 * directory), validates them against schemas/manifest.schema.json, reads every recipient source and checks the
 * recipients. Every problem is collected, located at file:line:column, up to `maxProblems`; `sends` holds only the
 * sends without problems.
 */
export async function loadManifests(paths: string[], deps: LoadDeps, options: LoadOptions = {}): Promise<LoadResult> {
  const cwd = path.resolve(deps.cwd)
  const display = (abs: string): string => path.relative(cwd, abs).split(path.sep).join('/') || '.'
  const sink = new ProblemSink(options.maxProblems ?? DEFAULT_MAX_PROBLEMS)
  const ctx: Context = {fs: deps.fs, cwd, sink, manifests: [], candidates: [], display}
  for (const [file, bytes] of await expandPaths(paths, ctx)) await loadManifestFile(file, bytes, ctx)
  checkNames(ctx)
  checkMessageKeys(ctx)
  const sends = ctx.candidates.flatMap((c) => (c.send !== undefined && c.problems.count === 0 ? [c.send] : []))
  return {sends, problems: ctx.sink.problems, omittedProblems: ctx.sink.omitted, manifests: ctx.manifests}
}
