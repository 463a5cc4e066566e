import path from 'node:path'

import {isScalar, LineCounter, parseAllDocuments, visit, type Document} from 'yaml'

import {errorCode, type Problem} from '../errors.js'
import {readCsvSource, type CsvColumns} from './csv-source.js'
import {readJsonSource, readNdjsonSource} from './json-source.js'
import {ProblemSink, ScopedProblems} from './problems.js'
import {RecipientCollector, recipientFromValue, recipientPlace} from './recipients.js'
import {describeSchemaErrors, formatPath, manifestValidators} from './schema.js'
import {pointer as documentPointer, resolveDocumentVariables, templateOrigin} from './document-vars.js'
import type {AttributeValue, Attributes, Canary, CanaryAwait, LoadResult, Recipient, Send, SourceDigest, SuppressionList} from './types.js'
import {readSuppression, type SuppressSpec} from './suppression.js'
import {NO_VARIABLES, type VariableInputs} from './vars.js'
import {locateYaml, type TextPosition} from './yaml-locate.js'
import {openConfinedSource, resolveSourceRoots, scanAllowed, SourceRefused, type RootsFs, type SourceHandle, type SourceRoots} from './source-roots.js'
import {findExcessiveNesting, findInvalidUtf8, invalidUtf8Message, MAX_YAML_DEPTH, Utf8Checker} from './strict-text.js'
import {escapeTerminal, excerpt} from '../privacy/index.js'
import {sha256Hex} from '../keys/hash.js'
import {messageKeyDeriver} from '../keys/message-key.js'
import {parseDuration} from '../text/duration.js'

/**
 * The part of `node:fs` the loader uses. `node:fs` itself, memfs's `Volume` and `createFsFromVolume(volume)` all
 * satisfy it.
 */
export interface ManifestFs {
  promises: {
    readFile(path: string): Promise<Buffer | string>
    stat(path: string): Promise<{isFile(): boolean; isDirectory(): boolean; dev: number | bigint; ino: number | bigint}>
    lstat(path: string): Promise<{isSymbolicLink(): boolean}>
    readdir(path: string): Promise<readonly unknown[]>
    realpath: RootsFs['promises']['realpath']
    open: RootsFs['promises']['open']
  }
  createReadStream(path: string, options: {highWaterMark?: number; fd: number; autoClose?: boolean; start?: number}): AsyncIterable<Buffer | string>
}

export interface LoadDeps {
  fs: ManifestFs
  /** Base for relative paths and for the display paths in problems and results. */
  cwd: string
  /**
   * Directories recipient sources must stay inside (--source-root, MCSEND_SOURCE_ROOT), relative to cwd. Empty or
   * absent: the working directory.
   */
  sourceRoots?: readonly string[]
}

export interface LoadOptions {
  /** Problems kept in full (default 50); the rest are only counted in `omittedProblems`. */
  maxProblems?: number
  /** Values for the manifests' variables, beyond their defaults (project environment, var files, MCSEND_VAR_*, --var). */
  variables?: VariableInputs
  /** The project file's `suppress:` entries (for every send), each with its place in that file. */
  projectSuppress?: ProjectSuppress
}

export interface ProjectSuppress {
  /** Absolute path of the project file: its entries' paths are relative to it. */
  abs: string
  entries: {spec: SuppressSpec; at: {file: string; line: number; column: number; path: string}}[]
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
  variables: VariableInputs
  /** Every variable name some manifest declares. */
  declared: Set<string>
  /** Variable problems already reported (see loadDocument). */
  reported: Set<string>
  /** Path relative to cwd with forward slashes, for problems and results. */
  display: (abs: string) => string
  roots: SourceRoots
  /** Not errors, but worth a word: a manifest without sends, a source without recipients. */
  warnings: Problem[]
  /** The project file's suppression lists, given to every send. */
  projectSuppression: SuppressionList[]
  /** Suppression files already read in this load (a list named by many sends is read once). */
  suppressionCache: Map<string, Promise<SuppressionList | undefined>>
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
async function walk(ctx: Context, directory: string, out: ManifestFiles): Promise<void> {
  const fs = ctx.fs
  const names = (await fs.promises.readdir(directory)).map(entryName).sort()
  for (const name of names) {
    const full = path.join(directory, name)
    let stats: {isFile(): boolean; isDirectory(): boolean}
    try {
      // A symlink in a pull request may point anywhere (`sends/x -> /`): follow it only inside the source roots.
      if ((await fs.promises.lstat(full)).isSymbolicLink() && !(await scanAllowed(full, ctx.roots, fs))) {
        ctx.sink.add({file: ctx.display(full), message: 'refused: a symlink that resolves outside the source roots (not read)', hint: SYMLINK_HINT})
        continue
      }
      stats = await fs.promises.stat(full)
    } catch {
      continue // a dangling symlink is not a manifest
    }
    if (stats.isDirectory()) {
      if (!name.startsWith('.') && !SKIPPED_DIRECTORIES.has(name)) await walk(ctx, full, out)
    } else if (stats.isFile() && isManifestFile(name)) {
      const bytes = await fs.promises.readFile(full).catch(() => undefined)
      // An unreadable file is kept: the loader reports the read error at its place.
      if (bytes === undefined || looksLikeManifest(bytes)) out.set(full, bytes)
    }
  }
}

const SYMLINK_HINT = 'name the directory it points to with --source-root DIR (or MCSEND_SOURCE_ROOT) if it is meant to be read'

/**
 * A directory in a repository holds other YAML too (CI workflows, compose files): a directory scan takes only
 * files with an `apiVersion: mcsend/…` or `kind: Send` line. A file named explicitly is always validated.
 */
function looksLikeManifest(bytes: Buffer | string): boolean {
  const text = String(bytes)
  // The project file (mcsend.yaml, kind: Project) sits at the root of the directory scanned by default.
  if (/^\s*kind:\s*["']?Project\b/m.test(text) && !/^\s*kind:\s*["']?Send\b/m.test(text)) return false
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
      await walk(ctx, abs, found)
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
  if (typeof bytes !== 'string') {
    const bad = findInvalidUtf8(bytes)
    if (bad !== undefined) {
      ctx.sink.add({file, line: bad.line, column: bad.column, message: invalidUtf8Message(bad)})
      return
    }
  }
  let text = typeof bytes === 'string' ? bytes : bytes.toString('utf8')
  if (text.startsWith('\uFEFF')) text = text.slice(1)
  // The parser and the validator recurse: absurd nesting is refused before it can exhaust the stack.
  const deep = findExcessiveNesting(text)
  if (deep !== undefined) {
    ctx.sink.add({file, line: deep.line, column: deep.column, message: `nested more than ${MAX_YAML_DEPTH} levels deep; a send manifest needs a handful`, hint: 'flatten the structure; attribute values are strings, numbers or booleans'})
    return
  }
  const counter = new LineCounter()
  const documents = parseAllDocuments(text, {lineCounter: counter, uniqueKeys: true, prettyErrors: false})
  let sends = 0
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
    sends++
    await loadDocument(doc as Document, counter, file, abs, ctx, text)
  }
  if (sends === 0 && documents.every((d) => d.errors.length === 0)) {
    ctx.warnings.push({file, line: 1, column: 1, message: 'no send in this file (it holds no YAML document)', hint: 'remove the file, or write a send in it'})
  }
}

/**
 * Numbers YAML reads into a double that is not the number written: integers beyond 2^53 (an order id
 * 1234567890123456789 would be sent as 1234567890123456800) and overflows to Infinity. Each is a located problem.
 */
function checkNumbers(doc: Document, counter: LineCounter, file: string, text: string, problems: ScopedProblems): void {
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== 'number' || node.range === undefined || node.range === null) return
      const value = node.value
      const written = text.slice(node.range[0], node.range[1]).trim()
      const {line, col} = counter.linePos(node.range[0])
      const quoted = `"${written.replace(/["\\]/g, '\\$&')}"`
      if (!Number.isFinite(value)) {
        if (/^[-+]?\.(inf|Inf|INF|nan|NaN|NAN)$/.test(written)) return // an explicit .inf/.nan: the schema says what it thinks of it
        problems.add({file, line, column: col, message: `the number ${excerpt(written, 40)} is too large to represent (it would become ${value})`, hint: `quote it: ${excerpt(quoted, 40)}`})
      } else if (Number.isInteger(value) && !Number.isSafeInteger(value) && /^[-+]?(0|[1-9][0-9_]*)$/.test(written)) {
        problems.add({file, line, column: col, message: `the integer ${excerpt(written, 40)} is beyond JavaScript's safe range (it would be sent as ${value})`, hint: `quote it: ${excerpt(quoted, 40)}`})
      }
    },
  })
}

async function loadDocument(doc: Document, counter: LineCounter, file: string, abs: string, ctx: Context, text: string): Promise<void> {
  const problems = new ScopedProblems(ctx.sink)
  checkNumbers(doc, counter, file, text, problems)
  const at = (segments: readonly (string | number)[], key = false): TextPosition => locateYaml(doc, counter, segments, key)
  const docAt = at([])
  let value: unknown
  try {
    value = doc.toJS({maxAliasCount: 100})
  } catch (error) {
    problems.add({file, line: docAt.line, column: docAt.column, message: `cannot read this document: ${escapeTerminal((error as Error).message.slice(0, 200))}`})
    return
  }

  const varProblems: Problem[] = []
  const vars =
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? resolveDocumentVariables(value as Record<string, unknown>, ctx.variables, file, at, (p) => varProblems.push(p))
      : undefined
  for (const name of vars?.declared ?? []) ctx.declared.add(name)

  const validate = manifestValidators().manifest
  const valid = validate(value) && varProblems.length === 0
  const errored = [...(validate.errors ?? []).map((e) => e.instancePath), ...(vars?.failed ?? [])]
  const schemaIssues = describeSchemaErrors(validate.errors, 'yaml').filter((issue) => !vars?.failed.has(documentPointer(issue.path)))
  const located: Problem[] = schemaIssues.map((issue) => {
    const pos = at(issue.path, issue.key)
    const template = issue.key === true ? undefined : vars?.templated.get(documentPointer(issue.path))
    const origin = template === undefined ? '' : templateOrigin(template, vars!.values)
    return {file, line: pos.line, column: pos.column, path: formatPath(issue.path) || undefined, message: issue.message + origin}
  })
  located.sort((a, b) => a.line! - b.line! || a.column! - b.column!)
  for (const p of located) problems.add(p)
  for (const p of varProblems) {
    // A bad value in a var file or the project file is reported once, not once per send that declares the variable.
    const id = `${p.file}:${p.line}:${p.column}:${p.message}`
    if (p.file !== file && ctx.reported.has(id)) continue
    ctx.reported.add(id)
    problems.add(p)
  }

  const manifest = (typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {}) as Record<string, unknown>
  const name = typeof manifest.name === 'string' && !errored.includes('/name') ? manifest.name : undefined
  const nameAt = at(['name'])
  const candidate: Candidate = {send: undefined, name, nameAt: {file, ...nameAt}, problems}
  ctx.candidates.push(candidate)

  const collector = new RecipientCollector(problems, vars === undefined ? undefined : {values: vars.values, declared: vars.declared})
  const digests: SourceDigest[] = []
  // The canary's seeds come first: they are sent ahead of the audience (and a contactKey may not be in both).
  const readSources = async (base: readonly string[], list: unknown): Promise<void> => {
  const sources = Array.isArray(list) ? (list as unknown[]) : []
  for (const [i, item] of sources.entries()) {
    const prefix = pointer([...base, i])
    if (errored.some((p) => p === prefix || p.startsWith(`${prefix}/`))) continue
    const source = item as SourceItem
    if (source.inline !== undefined) {
      if (source.inline.length === 0) {
        const pos = at([...base, i, 'inline'])
        ctx.warnings.push({file, line: pos.line, column: pos.column, path: formatPath([...base, i, 'inline']), message: 'this inline source lists no recipients'})
      }
      for (const [j, recipient] of source.inline.entries()) {
        const pos = at([...base, i, 'inline', j])
        collector.add(recipientFromValue(recipient as Record<string, unknown>, file, pos.line, pos.column), formatPath([...base, i, 'inline', j]))
      }
      continue
    }
    const kind = source.csv !== undefined ? 'csv' : source.json !== undefined ? 'json' : 'ndjson'
    const relative = source[kind]!
    const sourceAbs = path.resolve(path.dirname(abs), relative)
    const sourceFile = ctx.display(sourceAbs)
    const before = collector.recipients.length
    const problemsBefore = problems.count
    const pos = at([...base, i, kind])
    const where = {file, line: pos.line, column: pos.column, path: formatPath([...base, i, kind])}
    // The path is the manifest's (untrusted) text: shown escaped and cut.
    const shown = escapeTerminal(sourceFile.length > 120 ? `${sourceFile.slice(0, 117)}...` : sourceFile)
    const digest = await readSource(kind, relative, abs, sourceFile, source.columns, collector, problems, ctx).catch((error: unknown) => {
      // A refused path is named as the manifest wrote it (cut and escaped), not resolved.
      if (error instanceof SourceRefused) problems.add({...where, message: `${kind} source ${excerpt(relative, 80)} ${error.message}`, hint: error.hint})
      else problems.add({...where, message: `${kind} source ${shown}: ${describeIoError(error)}`, hint: 'source paths are relative to the manifest file'})
      return undefined
    })
    if (digest !== undefined) digests.push({file: sourceFile, sha256: digest})
    if (digest !== undefined && collector.recipients.length === before && problems.count === problemsBefore) {
      ctx.warnings.push({...where, message: `${kind} source ${shown} holds no recipients`})
    }
  }
  }
  const canaryValue = manifest.canary as {recipients?: unknown; first?: number; await?: CanaryAwait; timeout?: string} | undefined
  const canaryValid = canaryValue !== undefined && !errored.some((p) => p === '/canary' || p.startsWith('/canary/'))
  if (canaryValid && canaryValue.recipients !== undefined) await readSources(['canary', 'recipients'], canaryValue.recipients)
  const seeds = collector.recipients.length
  await readSources(['recipients'], manifest.recipients)
  let canary: Canary | undefined
  if (canaryValid) {
    const pos = at(['canary'])
    canary = canaryOf(canaryValue, seeds, {file, ...pos}, problems, (p) => at(p))
  }

  const suppression = [...ctx.projectSuppression]
  const suppressItems = Array.isArray(manifest.suppress) ? (manifest.suppress as SuppressSpec[]) : []
  for (const [i, spec] of suppressItems.entries()) {
    const prefix = pointer(['suppress', i])
    if (errored.some((p) => p === prefix || p.startsWith(`${prefix}/`))) continue
    const kind = spec.csv !== undefined ? 'csv' : 'ndjson'
    const pos = at(['suppress', i, kind])
    const list = await loadSuppression(spec, abs, 'send', {file, line: pos.line, column: pos.column, path: formatPath(['suppress', i, kind])}, ctx, (p) => problems.add(p))
    if (list !== undefined) suppression.push(list)
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
  if (canary !== undefined) send.canary = canary
  if (suppression.length > 0) send.suppression = suppression
  if (vars !== undefined && vars.values.size > 0) {
    const variables: Record<string, AttributeValue> = {}
    const sources: Record<string, string> = {}
    for (const name of [...vars.values.keys()].sort()) {
      const v = vars.values.get(name)!
      variables[name] = v.value
      sources[name] = v.source
    }
    send.variables = variables
    send.variableSources = sources
  }
  const nameTemplate = vars?.templated.get('/name')
  if (nameTemplate !== undefined) send.nameTemplate = nameTemplate
  candidate.send = send
}

/** Marketing Cloud's dedupe window is 2-3 days: a wait longer than a day would be a mistake, not a canary. */
const MAX_CANARY_TIMEOUT_MS = 24 * 3600 * 1000
const DEFAULT_CANARY_TIMEOUT_MS = 10 * 60 * 1000
/** Each canary message is checked through the rate-limited status endpoint: a canary is a handful, not a cohort. */
export const MAX_CANARY_SIZE = 100

/** The canary of a send the schema accepted: its size (seeds read, or `first`), what it waits for and how long. */
function canaryOf(
  value: {first?: number; await?: CanaryAwait; timeout?: string},
  seeds: number,
  where: {file: string; line: number; column: number},
  problems: ScopedProblems,
  at: (segments: readonly (string | number)[]) => TextPosition,
): Canary | undefined {
  let timeoutMs = DEFAULT_CANARY_TIMEOUT_MS
  if (value.timeout !== undefined) {
    const ms = parseDuration(value.timeout)
    const pos = at(['canary', 'timeout'])
    if (ms === undefined || ms < 1000 || ms > MAX_CANARY_TIMEOUT_MS) {
      problems.add({file: where.file, line: pos.line, column: pos.column, path: 'canary.timeout', message: `must be from 1s to 24h, got ${excerpt(value.timeout, 40)}`, hint: 'write a duration such as 30s, 5m or 1h'})
      return undefined
    }
    timeoutMs = ms
  }
  const size = value.first ?? seeds
  if (value.first === undefined && seeds > MAX_CANARY_SIZE) {
    problems.add({...where, path: 'canary.recipients', message: `the canary has ${seeds} seed recipients; at most ${MAX_CANARY_SIZE} are allowed`, hint: 'a canary is a handful of messages, each checked through the rate-limited status endpoint'})
    return undefined
  }
  return {from: value.first === undefined ? 'seeds' : 'first', size, await: value.await ?? 'sent', timeoutMs, line: where.line, column: where.column}
}

/**
 * Reads one suppression source (once per load, however many sends name it); a refused or unreadable path is a
 * problem at the entry that names it, a bad row a problem at its line.
 */
async function loadSuppression(
  spec: SuppressSpec,
  namingAbs: string,
  scope: 'project' | 'send',
  where: {file: string; line: number; column: number; path: string},
  ctx: Context,
  report: (p: Problem) => void,
): Promise<SuppressionList | undefined> {
  const kind = spec.csv !== undefined ? 'csv' : 'ndjson'
  const written = spec[kind]!
  const key = JSON.stringify([path.resolve(path.dirname(namingAbs), written), spec.match, spec.hashed === true, spec.column ?? null, scope])
  let pending = ctx.suppressionCache.get(key)
  if (pending === undefined) {
    pending = readSuppression(spec, namingAbs, scope, {fs: ctx.fs, roots: ctx.roots, display: ctx.display, problem: report}).catch((error: unknown) => {
      if (error instanceof SourceRefused) report({...where, message: `suppression source ${excerpt(written, 80)} ${error.message}`, hint: error.hint})
      else report({...where, message: `suppression source ${excerpt(written, 80)}: ${describeIoError(error)}`, hint: 'suppression paths are relative to the file that names them'})
      return undefined
    })
    ctx.suppressionCache.set(key, pending)
  }
  return pending
}

/**
 * Reads one recipient source through a descriptor opened by openConfinedSource (inside the source roots, a regular
 * file, the very file that was checked). Invalid UTF-8 stops the read with a located problem.
 */
async function readSource(
  kind: 'csv' | 'json' | 'ndjson',
  written: string,
  manifestAbs: string,
  file: string,
  columns: CsvColumns | undefined,
  collector: RecipientCollector,
  problems: ScopedProblems,
  ctx: Context,
): Promise<string> {
  const handle = await openConfinedSource(written, manifestAbs, ctx.roots, ctx.fs)
  try {
    if (kind === 'json') {
      const read = await handle.readFile()
      const bytes = typeof read === 'string' ? Buffer.from(read) : read
      const bad = findInvalidUtf8(bytes)
      if (bad !== undefined) {
        problems.add({file, line: bad.line, column: bad.column, message: invalidUtf8Message(bad)})
        return sha256Hex(bytes)
      }
      return readJsonSource(bytes, file, collector, problems)
    }
    const stream = utf8Checked(ctx.fs.createReadStream('', {fd: handle.fd, highWaterMark: READ_CHUNK_BYTES, autoClose: false, start: 0}), file, problems)
    if (kind === 'csv') return await readCsvSource(stream, file, columns, collector, problems)
    return await readNdjsonSource(stream, file, collector, problems)
  } finally {
    await closeQuietly(handle)
  }
}

async function closeQuietly(handle: SourceHandle): Promise<void> {
  await handle.close().catch(() => undefined)
}

/** Passes chunks through while they are UTF-8; at the first invalid byte, reports it (located) and ends the stream. */
async function* utf8Checked(stream: AsyncIterable<Buffer | string>, file: string, problems: ScopedProblems): AsyncGenerator<Buffer | string> {
  const checker = new Utf8Checker()
  const report = () => {
    const bad = checker.error!
    problems.add({file, line: bad.line, column: bad.column, message: invalidUtf8Message(bad)})
  }
  let consumed = 0
  for await (const chunk of stream) {
    if (typeof chunk !== 'string' && !checker.push(chunk)) {
      // Hand on the whole lines before the bad one, so the rows read so far are checked as usual.
      const lastNewline = chunk.lastIndexOf(10, checker.error!.offset - consumed - 1)
      if (lastNewline >= 0 && checker.error!.offset > consumed) yield chunk.subarray(0, lastNewline + 1)
      report()
      return
    }
    consumed += chunk.length
    yield chunk
  }
  if (!checker.end()) report()
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
  let roots: SourceRoots
  try {
    roots = await resolveSourceRoots(deps.sourceRoots ?? [], cwd, deps.fs)
  } catch (error) {
    if (!(error instanceof SourceRefused)) throw error
    return {sends: [], problems: [{file: '--source-root', message: error.message, hint: error.hint}], omittedProblems: 0, manifests: [], warnings: []}
  }
  const ctx: Context = {
    fs: deps.fs,
    cwd,
    sink,
    manifests: [],
    candidates: [],
    variables: options.variables ?? NO_VARIABLES,
    declared: new Set(),
    reported: new Set(),
    display,
    roots,
    warnings: [],
    projectSuppression: [],
    suppressionCache: new Map(),
  }
  for (const {spec, at} of options.projectSuppress?.entries ?? []) {
    const list = await loadSuppression(spec, options.projectSuppress!.abs, 'project', at, ctx, (p) => sink.add(p))
    if (list !== undefined) ctx.projectSuppression.push(list)
  }
  for (const [file, bytes] of await expandPaths(paths, ctx)) await loadManifestFile(file, bytes, ctx)
  checkNames(ctx)
  checkMessageKeys(ctx)
  const sends = ctx.candidates.flatMap((c) => (c.send !== undefined && c.problems.count === 0 ? [c.send] : []))
  return {sends, problems: ctx.sink.problems, omittedProblems: ctx.sink.omitted, manifests: ctx.manifests, warnings: ctx.warnings, variables: [...ctx.declared].sort()}
}
