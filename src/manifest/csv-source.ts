import {createHash} from 'node:crypto'
import {once} from 'node:events'
import {finished} from 'node:stream/promises'

import {Parser, type CsvError} from 'csv-parse'

import type {ScopedProblems} from './problems.js'
import type {RecipientCollector} from './recipients.js'
import {excerpt, excerptList} from '../privacy/index.js'
import {contactKeyProblem, isEmailAddress, manifestValidators, notAnEmailMessage} from './schema.js'
import type {Attributes, Recipient} from './types.js'
import {MAX_MESSAGE_KEY_LENGTH} from '../keys/message-key.js'

/** Column names for the recipient fields, from the manifest's `columns:`. */
export interface CsvColumns {
  contactKey?: string
  to?: string
  messageKey?: string
}

const DEFAULT_CSV_COLUMNS = {contactKey: 'contactKey', to: 'to', messageKey: 'messageKey'} as const

/**
 * csv-parse hands each record to `push` synchronously while `info.lines` still holds the record's last line, so
 * overriding `push` gives records with their line numbers without the per-record info objects that `info: true`
 * and `on_record` allocate (a measurable cost at a million rows).
 */
class LineTrackingParser extends Parser {
  private readonly onRecord: (fields: string[], endLine: number) => void

  constructor(onRecord: (fields: string[], endLine: number) => void) {
    super({
      bom: true,
      // Rows with the wrong number of fields are reported by the reader (all of them, with their lines).
      relax_column_count: true,
      skip_empty_lines: true,
      // Keep going after a malformed row so every bad row is reported; each one arrives as a `skip` event.
      skip_records_with_error: true,
    })
    this.onRecord = onRecord
    decodeFieldsWithoutViews(this)
  }

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) return super.push(null, encoding)
    this.onRecord(chunk as string[], this.info.lines)
    return true
  }
}

/** The part of csv-parse's state that decodeFieldsWithoutViews relies on. */
interface FieldBuffer {
  buf: unknown
  length: unknown
  toString(encoding?: BufferEncoding): unknown
}

/**
 * csv-parse (6.x) gathers each field's bytes in a buffer and decodes it through `buf.slice(0, length).toString()`,
 * which makes one Buffer view per field: four million short-lived objects for a million rows, about a tenth of
 * the parse's time. Decoding the same bytes in place gives the same string without the view. Only done when the
 * parser's state has that shape (a Buffer and a length); otherwise csv-parse decodes as it always does.
 */
function decodeFieldsWithoutViews(parser: Parser): void {
  const field = (parser as unknown as {state?: {field?: Partial<FieldBuffer>}}).state?.field
  if (field === undefined || !Buffer.isBuffer(field.buf) || typeof field.length !== 'number' || typeof field.toString !== 'function') return
  const decode = field.toString
  field.toString = function (this: FieldBuffer, encoding?: BufferEncoding) {
    const buf = this.buf
    const length = this.length
    // Without an encoding csv-parse wants bytes, not text: left to its own code.
    if (!encoding || !Buffer.isBuffer(buf) || typeof length !== 'number') return decode.call(this, encoding)
    return buf.toString(encoding, 0, length)
  }
}

function csvErrorMessage(error: CsvError): string {
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted field is never closed (a " is missing)'
    case 'CSV_INVALID_CLOSING_QUOTE':
      return 'unexpected character after a closing quote; a field that starts with " must end with " (the rest of the file was not checked)'
    case 'INVALID_OPENING_QUOTE':
      return 'a " inside an unquoted field; quote the whole field and double the inner quote ("")'
    default:
      return `this row cannot be read as CSV (${error.code})`
  }
}

/** Line breaks inside the (quoted) fields of a record; CRLF counts once. */
function lineBreaks(fields: readonly string[]): number {
  let count = 0
  for (const field of fields) {
    if (field.indexOf('\n') === -1 && field.indexOf('\r') === -1) continue
    for (let i = 0; i < field.length; i++) {
      const c = field.charCodeAt(i)
      if (c === 10) count++
      else if (c === 13) {
        count++
        if (field.charCodeAt(i + 1) === 10) i++
      }
    }
  }
  return count
}

/** Column names are shown in messages; a header cell that is an address means the header row is missing. */
function headerLooksLikeData(header: readonly string[]): boolean {
  return header.some((name) => isEmailAddress(name))
}

interface Mapping {
  contactKey: number
  to: number
  messageKey: number
  attributeNames: string[]
  attributeIndexes: number[]
}

/** Attribute values often repeat (plans, countries): share one string per value, up to a point. */
const INTERN_LIMIT = 4096

/**
 * Reads a CSV source into the collector, streaming, and returns the hex SHA-256 of its bytes. The header row names
 * the columns; `columns` maps recipient fields to them and every other column becomes a string attribute.
 * I/O errors are thrown (the caller locates them at the manifest); CSV errors become problems at `file:line`.
 */
export async function readCsvSource(
  stream: AsyncIterable<Buffer | string>,
  file: string,
  columns: CsvColumns | undefined,
  collector: RecipientCollector,
  problems: ScopedProblems,
): Promise<string> {
  const names = {...DEFAULT_CSV_COLUMNS, ...columns}
  const explicitMessageKey = columns?.messageKey !== undefined
  const hash = createHash('sha256')
  const {email: emailPattern, emailMaxLength} = manifestValidators()

  let mapping: Mapping | undefined
  let width = 0
  let headerSeen = false
  let unusable = false
  let previousEndLine = 0
  let previousEmptyLines = 0
  let interned: (Map<string, string> | undefined)[] = []

  const problem = (line: number, message: string, path?: string): void => {
    problems.add({file, line, path, message})
  }

  const readHeader = (fields: string[], line: number): void => {
    headerSeen = true
    const header = fields.map((f) => f.trim())
    width = header.length
    if (headerLooksLikeData(header)) {
      problem(line, 'the first row looks like data: a CSV source needs a header row naming its columns')
      unusable = true
      return
    }
    const seen = new Set<string>()
    for (const [i, name] of header.entries()) {
      if (name === '') problem(line, `column ${i + 1} has no name in the header row`)
      else if (seen.has(name)) problem(line, `column ${excerpt(name)} appears twice in the header row`)
      seen.add(name)
    }
    const find = (field: 'contactKey' | 'to' | 'messageKey', required: boolean): number => {
      const index = header.indexOf(names[field])
      if (index === -1 && required) {
        const mapped =
          columns?.[field] === undefined ? `(the default column for ${field}; name another with columns: {${field}: ...})` : `(columns.${field} in the manifest)`
        problem(line, `missing column ${excerpt(names[field])} ${mapped}; the header has: ${excerptList(header)}`)
      }
      return index
    }
    const contactKey = find('contactKey', true)
    const to = find('to', true)
    const messageKey = find('messageKey', explicitMessageKey)
    if (contactKey === -1 || to === -1 || (explicitMessageKey && messageKey === -1) || seen.size !== width || header.includes('')) {
      unusable = true
      return
    }
    const attributeIndexes: number[] = []
    for (let i = 0; i < width; i++) if (i !== contactKey && i !== to && i !== messageKey) attributeIndexes.push(i)
    mapping = {contactKey, to, messageKey, attributeNames: attributeIndexes.map((i) => header[i]!), attributeIndexes}
    interned = attributeIndexes.map(() => new Map<string, string>())
  }

  const readRow = (fields: string[], line: number): void => {
    const m = mapping!
    if (fields.length !== width) {
      problem(line, `expected ${width} fields (as in the header row), got ${fields.length}`)
      return
    }
    const contactKey = fields[m.contactKey]!
    const to = fields[m.to]!
    let ok = true
    const keyProblem = contactKeyProblem(contactKey)
    if (keyProblem !== undefined) {
      problem(line, `contactKey ${keyProblem}`, names.contactKey)
      ok = false
    }
    if (to.length > emailMaxLength || !emailPattern.test(to)) {
      problem(line, notAnEmailMessage(to), names.to)
      ok = false
    }
    // An empty messageKey cell means "derive one", as the column may be filled for only some rows.
    const messageKey = m.messageKey === -1 ? '' : fields[m.messageKey]!
    if (messageKey.length > MAX_MESSAGE_KEY_LENGTH) {
      problem(line, `messageKey must be at most ${MAX_MESSAGE_KEY_LENGTH} characters (it has ${messageKey.length})`, names.messageKey)
      ok = false
    }
    if (!ok) return
    const count = m.attributeIndexes.length
    let recipient: Recipient
    // One object literal per shape: adding `attributes` afterwards would allocate a second backing store per row.
    if (count === 0) recipient = {contactKey, to, file, line}
    else {
      const attributes: Attributes = {}
      for (let i = 0; i < count; i++) {
        let value = fields[m.attributeIndexes[i]!]!
        const cache = interned[i]
        if (cache !== undefined) {
          const shared = cache.get(value)
          if (shared !== undefined) value = shared
          else if (cache.size < INTERN_LIMIT) cache.set(value, value)
          else interned[i] = undefined
        }
        attributes[m.attributeNames[i]!] = value
      }
      recipient = {contactKey, to, attributes, file, line}
    }
    if (messageKey !== '') recipient.messageKey = messageKey
    collector.add(recipient)
  }

  // Line numbers: csv-parse counts a CRLF inside a quoted field as two lines, so its count drifts after such a
  // record. Records that csv-parse says take one line (nearly all) cost nothing extra; for the others the line
  // breaks are counted in the fields themselves, and the drift is subtracted from the lines of its errors.
  let rawPreviousEnd = 0
  const parser = new LineTrackingParser((fields, rawEnd) => {
    const emptyLines = parser.info.empty_lines
    const skipped = emptyLines - previousEmptyLines
    const line = previousEndLine + 1 + skipped
    const rawSpan = rawEnd - rawPreviousEnd - skipped
    previousEndLine = rawSpan === 1 ? line : line + lineBreaks(fields)
    rawPreviousEnd = rawEnd
    previousEmptyLines = emptyLines
    if (!headerSeen) readHeader(fields, line)
    else if (!unusable) readRow(fields, line)
  })
  // csv-parse cannot find its way back after a bad closing quote (it reads the rest with quotes inverted).
  const unrecoverable = new Set(['CSV_INVALID_CLOSING_QUOTE'])
  parser.on('skip', (error: CsvError) => {
    const drift = rawPreviousEnd - previousEndLine
    const rawLine = (error as CsvError & {lines?: number}).lines ?? rawPreviousEnd + 1
    const line = error.code === 'CSV_QUOTE_NOT_CLOSED' ? previousEndLine + 1 + (parser.info.empty_lines - previousEmptyLines) : rawLine - drift
    if (unusable) return
    if (!headerSeen || unrecoverable.has(error.code)) unusable = true
    headerSeen = true
    problem(line, csvErrorMessage(error))
    rawPreviousEnd = rawLine
    previousEndLine = rawLine - drift
    previousEmptyLines = parser.info.empty_lines
  })
  parser.resume()
  const done = finished(parser)
  // Reported through `done` below; without this handler a parse error would also surface as unhandled.
  done.catch(() => undefined)

  for await (const chunk of stream) {
    hash.update(chunk)
    if (parser.destroyed) continue
    if (!parser.write(chunk)) await Promise.race([once(parser, 'drain'), done.catch(() => undefined)])
  }
  parser.end()
  try {
    await done
  } catch (error) {
    const csvError = error as CsvError
    problem(previousEndLine + 1, typeof csvError.code === 'string' ? csvErrorMessage(csvError) : 'this file cannot be read as CSV')
  }
  if (!headerSeen) problem(1, 'the file is empty: a CSV source needs a header row naming its columns')
  return hash.digest('hex')
}
