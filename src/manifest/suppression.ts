import path from 'node:path'

import {parse as parseCsv} from 'csv-parse/sync'

import type {Problem} from '../errors.js'
import {sha256Hex} from '../keys/hash.js'
import {describeSuppressionHashMode, normaliseSuppressed, SUPPRESSION_HASH_PATTERN, suppressionHashModeOf, UNPREFIXED_SUPPRESSION_HASH_PATTERN, type SuppressMatch} from '../keys/suppression.js'
import {excerpt, excerptList, isWholeAddress} from '../privacy/index.js'
import {contactKeyProblem, isEmailAddress, notAnEmailMessage} from './schema.js'
import {openConfinedSource, type RootsFs, type SourceRoots} from './source-roots.js'
import {findInvalidUtf8, invalidUtf8Message} from './strict-text.js'
import {JsonSyntaxError, parseJson} from './strict-json.js'
import type {SuppressionList} from './types.js'

/** A `suppress:` entry as the schema accepted it (a send's, or the project file's). */
export interface SuppressSpec {
  csv?: string
  ndjson?: string
  match: SuppressMatch
  hashed?: boolean
  column?: string
}

export interface SuppressionContext {
  fs: RootsFs
  roots: SourceRoots
  /** Display path of an absolute path. */
  display: (abs: string) => string
  /** Problems inside the file (bad rows), located at file:line. */
  problem: (p: Problem) => void
}

/** The column (CSV) or field (NDJSON) holding the values: `column`, else `hash` for a hashed list, else the match name. */
export function suppressionColumn(spec: SuppressSpec): string {
  return spec.column ?? (spec.hashed === true ? 'hash' : spec.match)
}

/**
 * Reads one suppression source, confined to the source roots like a recipient source (a refused path throws
 * SourceRefused, an unreadable one the I/O error; the caller locates both at the entry). Every bad value is a
 * problem at file:line that never replays an address; the list is returned only when the file is clean.
 */
export async function readSuppression(spec: SuppressSpec, namingFileAbs: string, scope: 'project' | 'send', ctx: SuppressionContext): Promise<SuppressionList | undefined> {
  const kind = spec.csv !== undefined ? 'csv' : 'ndjson'
  const written = spec[kind]!
  const handle = await openConfinedSource(written, namingFileAbs, ctx.roots, ctx.fs)
  let bytes: Buffer
  try {
    const read = await handle.readFile()
    bytes = typeof read === 'string' ? Buffer.from(read) : read
  } finally {
    await handle.close().catch(() => undefined)
  }
  // The same resolution as openConfinedSource: relative to the file that names it.
  const file = ctx.display(path.resolve(path.dirname(namingFileAbs), written))
  let problems = 0
  const problem = (p: Problem) => {
    problems++
    ctx.problem(p)
  }
  const bad = findInvalidUtf8(bytes)
  if (bad !== undefined) {
    problem({file, line: bad.line, column: bad.column, message: invalidUtf8Message(bad)})
    return undefined
  }
  let text = bytes.toString('utf8')
  if (text.startsWith('\uFEFF')) text = text.slice(1)
  const values = new Set<string>()
  let hashMode: {mode: string; line: number} | undefined
  const accept = (value: string, line: number): void => {
    const why = valueProblem(spec, value)
    if (why !== undefined) {
      problem({file, line, message: why.message, hint: why.hint})
      return
    }
    if (spec.hashed !== true) {
      values.add(normaliseSuppressed(spec.match, value))
      return
    }
    // Every hash of one list is made the same way; the plan checks that way against its own (plan/build.ts).
    const mode = suppressionHashModeOf(value)
    if (hashMode === undefined) hashMode = {mode, line}
    else if (mode !== hashMode.mode) {
      problem({
        file,
        line,
        message: `this hash was made ${describeSuppressionHashMode(mode)}, the one on line ${hashMode.line} ${describeSuppressionHashMode(hashMode.mode)}`,
        hint: 're-hash the whole list with `mcsend suppress hash` under the MCSEND_STATE_KEY the plan runs with',
      })
      return
    }
    values.add(value)
  }
  if (kind === 'csv') readCsv(text, file, suppressionColumn(spec), accept, problem)
  else readNdjson(text, file, suppressionColumn(spec), accept, problem)
  if (problems > 0) return undefined
  return {file, sha256: sha256Hex(bytes), match: spec.match, hashed: spec.hashed === true, scope, values, ...(hashMode === undefined ? {} : {hashMode})}
}

function valueProblem(spec: SuppressSpec, value: string): {message: string; hint?: string} | undefined {
  if (spec.hashed === true) {
    if (SUPPRESSION_HASH_PATTERN.test(value)) return undefined
    // A list of addresses marked hashed by mistake: say so without replaying the address.
    if (isWholeAddress(value.trim())) return {message: 'an email address in a list marked hashed: true', hint: 'hash the list with `mcsend suppress hash --match to`, or set hashed: false'}
    if (UNPREFIXED_SUPPRESSION_HASH_PATTERN.test(value)) {
      return {message: 'a hash without the prefix that says how it was made (sha256: or hmac-…:)', hint: 're-hash the list with `mcsend suppress hash`, under the MCSEND_STATE_KEY the plan runs with'}
    }
    return {message: `${excerpt(value, 40)} is not a hash made by \`mcsend suppress hash\` (sha256: or hmac- and a key fingerprint, a colon, then 22 characters: A-Z, a-z, 0-9, - and _)`}
  }
  if (spec.match === 'to') return isEmailAddress(value.trim()) ? undefined : {message: notAnEmailMessage(value)}
  const why = contactKeyProblem(value)
  return why === undefined ? undefined : {message: `contactKey ${why}`}
}

function readCsv(text: string, file: string, column: string, accept: (value: string, line: number) => void, problem: (p: Problem) => void): void {
  let records: {record: string[]; info: {lines: number}}[]
  try {
    records = parseCsv(text, {relax_column_count: true, skip_empty_lines: true, info: true}) as unknown as {record: string[]; info: {lines: number}}[]
  } catch (error) {
    const line = (error as {lines?: number}).lines
    problem({file, ...(line === undefined ? {} : {line}), message: `this file cannot be read as CSV (${excerpt(String((error as {code?: string}).code ?? 'malformed'), 40)})`})
    return
  }
  const header = records[0]
  if (header === undefined) {
    problem({file, line: 1, message: `the file is empty: a suppression CSV needs a header row naming the column ${excerpt(column)}`})
    return
  }
  const names = header.record.map((h) => h.trim())
  const index = names.indexOf(column)
  if (index === -1) {
    const looksLikeData = names.some((n) => isWholeAddress(n))
    problem({
      file,
      line: header.info.lines,
      message: looksLikeData ? 'the first row looks like data: a suppression CSV needs a header row' : `missing column ${excerpt(column)}; the header has: ${excerptList(names)}`,
      hint: 'name the column with `column:` in the suppress entry',
    })
    return
  }
  for (const {record, info} of records.slice(1)) {
    const value = record[index]
    // A row without a value in the column (a sparse export) suppresses nobody.
    if (value === undefined || value.trim() === '') continue
    accept(value, info.lines)
  }
}

function readNdjson(text: string, file: string, column: string, accept: (value: string, line: number) => void, problem: (p: Problem) => void): void {
  const lines = text.split('\n')
  for (const [i, raw] of lines.entries()) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (line.trim() === '') continue
    let value: unknown
    try {
      value = parseJson(line, {offset: 0, line: i + 1, column: 1})
    } catch (error) {
      if (!(error instanceof JsonSyntaxError)) throw error
      problem({file, line: error.line, column: error.column, message: error.message})
      continue
    }
    if (typeof value === 'string') accept(value, i + 1)
    else if (typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as Record<string, unknown>)[column] === 'string') {
      accept((value as Record<string, string>)[column]!, i + 1)
    } else problem({file, line: i + 1, message: `expected a JSON string, or an object whose ${excerpt(column)} is a string`})
  }
}
