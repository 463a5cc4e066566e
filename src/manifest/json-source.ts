import {createHash} from 'node:crypto'
import {StringDecoder} from 'node:string_decoder'

import type {ScopedProblems} from './problems.js'
import {recipientFromValue, type RecipientCollector} from './recipients.js'
import {describeSchemaErrors, formatPath, manifestValidators} from './schema.js'
import {describeJsonStart, JsonSyntaxError, locateJson, parseJson, parseJsonArray, type JsonPosition} from './strict-json.js'
import {sha256Hex} from '../keys/hash.js'

const BOM = '\uFEFF'

/**
 * Checks one recipient value against the schema's recipient definition and adds it, or reports each mistake at
 * its own line and column (found by walking the text again, which only happens for bad values).
 */
function acceptRecipient(
  value: unknown,
  text: string,
  at: JsonPosition,
  pathPrefix: (string | number)[],
  file: string,
  collector: RecipientCollector,
  problems: ScopedProblems,
): void {
  const validate = manifestValidators().recipient
  if (!validate(value)) {
    const located = describeSchemaErrors(validate.errors, 'json').map((issue) => ({issue, pos: locateJson(text, at, issue.path, issue.key)}))
    located.sort((a, b) => a.pos.offset - b.pos.offset)
    for (const {issue, pos} of located) {
      problems.add({file, line: pos.line, column: pos.column, path: formatPath([...pathPrefix, ...issue.path]) || undefined, message: issue.message})
    }
    return
  }
  collector.add(recipientFromValue(value as Record<string, unknown>, file, at.line, at.column), formatPath(pathPrefix) || undefined)
}

/**
 * A JSON source: one array of recipient objects. Read whole (JSON has no natural record boundary to stream on),
 * parsed strictly with positions. Returns the hex SHA-256 of the file's bytes.
 */
export function readJsonSource(bytes: Buffer, file: string, collector: RecipientCollector, problems: ScopedProblems): string {
  const sha256 = sha256Hex(bytes)
  let text = bytes.toString('utf8')
  if (text.startsWith(BOM)) text = text.slice(1)
  const start = describeJsonStart(text)
  if (start.kind !== 'array') {
    const found = {object: 'an object', other: 'a single value', empty: 'nothing'}[start.kind]
    const hint = start.kind === 'object' ? ' (wrap the object in [ ])' : ''
    problems.add({file, line: start.at.line, column: start.at.column, message: `must be an array of recipient objects, found ${found}${hint}`})
    return sha256
  }
  let index = 0
  try {
    parseJsonArray(text, (value, at) => {
      acceptRecipient(value, text, at, [index], file, collector, problems)
      index++
    })
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error
    problems.add({file, line: error.line, column: error.column, message: error.message})
  }
  return sha256
}

/**
 * An NDJSON source: one recipient object per line, blank lines skipped, streamed line by line. Returns the hex
 * SHA-256 of the file's bytes.
 */
export async function readNdjsonSource(
  stream: AsyncIterable<Buffer | string>,
  file: string,
  collector: RecipientCollector,
  problems: ScopedProblems,
): Promise<string> {
  const hash = createHash('sha256')
  const decoder = new StringDecoder('utf8')
  let rest = ''
  let lineNumber = 0

  const readLine = (raw: string): void => {
    lineNumber++
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (lineNumber === 1 && line.startsWith(BOM)) line = line.slice(1)
    if (line.trim() === '') return
    const at: JsonPosition = {offset: 0, line: lineNumber, column: 1}
    let value: unknown
    try {
      value = parseJson(line, at)
    } catch (error) {
      if (!(error instanceof JsonSyntaxError)) throw error
      problems.add({file, line: error.line, column: error.column, message: error.message})
      return
    }
    const indent = line.length - line.trimStart().length
    acceptRecipient(value, line, {offset: indent, line: lineNumber, column: indent + 1}, [], file, collector, problems)
  }

  for await (const chunk of stream) {
    hash.update(chunk)
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk))
    let from = 0
    let newline = text.indexOf('\n', from)
    while (newline !== -1) {
      readLine(text.slice(from, newline))
      from = newline + 1
      newline = text.indexOf('\n', from)
    }
    rest = text.slice(from)
  }
  rest += decoder.end()
  if (rest !== '') readLine(rest)
  return hash.digest('hex')
}
