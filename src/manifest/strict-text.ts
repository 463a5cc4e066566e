/**
 * Strict reading of text files: invalid UTF-8 and absurd YAML nesting are located errors, never a silent U+FFFD
 * (which would change a contactKey, and so its messageKey) or a stack overflow.
 */

import {isUtf8} from 'node:buffer'

/** Where the bytes stop being UTF-8. */
export interface Utf8Error {
  /** Byte offset of the first byte of the bad sequence. */
  offset: number
  /** 1-based line and column (in characters of the valid text before it). */
  line: number
  column: number
  /** The bad byte, e.g. `0xff`. */
  byte: string
}

/**
 * The length of the valid UTF-8 sequence starting at `i`, 0 when it is invalid, or -1 when it may be valid but the
 * buffer ends inside it. Rejects overlong forms, surrogates and code points above U+10FFFF, as TextDecoder does.
 */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!
  if (b0 < 0x80) return 1
  let need: number
  let min = 0x80
  let max = 0xbf
  if (b0 >= 0xc2 && b0 <= 0xdf) need = 1
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    need = 2
    if (b0 === 0xe0) min = 0xa0
    if (b0 === 0xed) max = 0x9f
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    need = 3
    if (b0 === 0xf0) min = 0x90
    if (b0 === 0xf4) max = 0x8f
  } else return 0
  for (let k = 1; k <= need; k++) {
    if (i + k >= bytes.length) return -1
    const b = bytes[i + k]!
    if (k === 1 ? b < min || b > max : b < 0x80 || b > 0xbf) return 0
  }
  return need + 1
}

/**
 * Checks UTF-8 incrementally, chunk by chunk, keeping the line and column so a bad byte in a 1 GB file is still
 * located. Linear in the bytes. Each chunk is first checked by Node's native validator (buffer.isUtf8, the same
 * rules as TextDecoder's fatal mode), which is many times faster than a byte loop in JavaScript; only a chunk that
 * fails it is walked byte by byte, to find where. Lines and columns are counted over the valid bytes either way.
 */
export class Utf8Checker {
  private line = 1
  private column = 1
  private offset = 0
  private carry: Uint8Array = new Uint8Array(0)
  error: Utf8Error | undefined

  /** Feeds the next chunk; returns false (and sets `error`) at the first invalid sequence. */
  push(chunk: Uint8Array, final = false): boolean {
    if (this.error) return false
    const bytes = this.carry.length > 0 ? concat(this.carry, chunk) : chunk
    const base = this.offset - this.carry.length
    // A sequence cut by the end of the chunk is carried to the next one (unless this is the end of the input).
    const end = final ? bytes.length : completeEnd(bytes)
    if (isUtf8(bytes.subarray(0, end))) {
      this.advance(bytes, end)
      this.carry = bytes.slice(end)
      this.offset = base + bytes.length
      return true
    }
    return this.walk(bytes, base, final)
  }

  /** Line and column after the valid bytes [0, end). */
  private advance(bytes: Uint8Array, end: number): void {
    const lastNewline = end === 0 ? -1 : bytes.lastIndexOf(0x0a, end - 1)
    if (lastNewline === -1) {
      this.column += utf16Length(bytes, 0, end)
      return
    }
    let lines = 0
    for (let i = 0; i <= lastNewline; i++) if (bytes[i] === 0x0a) lines++
    this.line += lines
    this.column = 1 + utf16Length(bytes, lastNewline + 1, end)
  }

  /** The byte-by-byte walk that finds (and locates) the first invalid sequence. */
  private walk(bytes: Uint8Array, base: number, final: boolean): boolean {
    let i = 0
    while (i < bytes.length) {
      const b = bytes[i]!
      if (b < 0x80) {
        if (b === 0x0a) {
          this.line++
          this.column = 1
        } else this.column++
        i++
        continue
      }
      const n = sequenceLength(bytes, i)
      if (n === -1 && !final) break
      if (n <= 0) {
        this.error = {offset: base + i, line: this.line, column: this.column, byte: `0x${b.toString(16).padStart(2, '0')}`}
        return false
      }
      // One column per UTF-16 unit, as editors and the YAML parser count.
      this.column += n === 4 ? 2 : 1
      i += n
    }
    this.carry = bytes.slice(i)
    this.offset = base + bytes.length
    return true
  }

  /** Ends the input: a sequence cut off at the end of the file is invalid. */
  end(): boolean {
    return this.push(new Uint8Array(0), true)
  }
}

/**
 * Where the last complete sequence of `bytes` ends: the length, less a lead byte and its continuation bytes when
 * the sequence it starts runs past the end (at most 3 bytes). Whether the bytes are valid is isUtf8's question.
 */
function completeEnd(bytes: Uint8Array): number {
  const length = bytes.length
  for (let i = length - 1; i >= 0 && i >= length - 4; i--) {
    const b = bytes[i]!
    if (b < 0x80) return length
    if (b >= 0xc0) return i + (b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2) > length ? i : length
  }
  return length
}

/** UTF-16 units of the valid UTF-8 bytes [from, to): one per sequence, two for a 4-byte one. */
function utf16Length(bytes: Uint8Array, from: number, to: number): number {
  let units = 0
  for (let i = from; i < to; i++) {
    const b = bytes[i]!
    if (b < 0x80 || b >= 0xc0) units += b >= 0xf0 ? 2 : 1
  }
  return units
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

/** The first invalid UTF-8 sequence of a whole buffer, or undefined. */
export function findInvalidUtf8(bytes: Uint8Array): Utf8Error | undefined {
  const checker = new Utf8Checker()
  if (!checker.push(bytes) || !checker.end()) return checker.error
  return undefined
}

export function invalidUtf8Message(error: Utf8Error): string {
  return `invalid UTF-8 (byte ${error.byte}); save the file as UTF-8 (a replacement character would silently change the value)`
}

/** Deeper than any manifest needs (a send is about six levels deep), far below what would exhaust the stack. */
export const MAX_YAML_DEPTH = 64

/**
 * Where a YAML text first nests deeper than `max` levels, counting block indentation, compact `- ` sequences and
 * flow brackets (outside quotes and comments), or undefined. A cheap scan before parsing: the parser and the
 * validator recurse, and 20,000 levels would overflow the stack. Linear in the text.
 */
export function findExcessiveNesting(text: string, max = MAX_YAML_DEPTH): {line: number; column: number} | undefined {
  const indents: number[] = []
  let flow = 0
  let line = 0
  let pos = 0
  while (pos <= text.length) {
    let end = text.indexOf('\n', pos)
    if (end === -1) end = text.length
    line++
    const raw = text.slice(pos, end)
    pos = end + 1
    let i = 0
    while (i < raw.length && raw[i] === ' ') i++
    if (flow === 0) {
      if (i >= raw.length || raw[i] === '#' || raw[i] === '\r') continue
      while (indents.length > 0 && indents[indents.length - 1]! >= i) indents.pop()
      indents.push(i)
      // `- - - x`: each dash opens one more level on the same line.
      while (raw[i] === '-' && (raw[i + 1] === ' ' || i + 1 === raw.length)) {
        indents.push(i + 1)
        i += 2
        while (raw[i] === ' ') i++
        if (indents.length > max) return {line, column: i + 1}
      }
      if (indents.length > max) return {line, column: i + 1}
    }
    let quote = ''
    for (let j = i; j < raw.length; j++) {
      const c = raw[j]!
      if (quote !== '') {
        if (c === '\\' && quote === '"') j++
        else if (c === quote) quote = ''
        continue
      }
      if (c === '"' || c === "'") quote = c
      else if (c === '#' && (j === 0 || raw[j - 1] === ' ')) break
      else if (c === '[' || c === '{') {
        flow++
        if (indents.length + flow > max) return {line, column: j + 1}
      } else if ((c === ']' || c === '}') && flow > 0) flow--
    }
    if (end === text.length) break
  }
  return undefined
}

/**
 * The strict-input checks of a whole YAML file other than a manifest (a var file, the project file): invalid UTF-8 or
 * excessive nesting as one located problem, or undefined.
 */
export function strictTextProblem(bytes: Uint8Array, file: string): {file: string; line: number; column: number; message: string; hint?: string} | undefined {
  const bad = findInvalidUtf8(bytes)
  if (bad !== undefined) return {file, line: bad.line, column: bad.column, message: invalidUtf8Message(bad)}
  const deep = findExcessiveNesting(Buffer.from(bytes).toString('utf8'))
  if (deep !== undefined) {
    return {file, line: deep.line, column: deep.column, message: `nested more than ${MAX_YAML_DEPTH} levels deep`, hint: 'values are strings, numbers or booleans'}
  }
  return undefined
}
