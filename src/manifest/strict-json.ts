/**
 * A small strict JSON parser that knows where it is. JSON.parse cannot be used for recipient files: it lets the
 * last of two duplicate keys win silently and its errors carry no line. The `yaml` parser accepts trailing commas.
 * This one rejects duplicate keys, trailing commas and missing commas with a line and column, and can walk back
 * to any value to locate a later validation error.
 */

import {escapeTerminal, excerpt} from '../privacy/index.js'

export interface JsonPosition {
  /** Offset in the text (UTF-16 code units). */
  offset: number
  /** 1-based. */
  line: number
  /** 1-based, in UTF-16 code units. */
  column: number
}

export class JsonSyntaxError extends Error {
  readonly line: number
  readonly column: number
  constructor(message: string, line: number, column: number) {
    super(message)
    this.name = 'JsonSyntaxError'
    this.line = line
    this.column = column
  }
}

/** A parsed value with its position, built only when an error has to be located. */
export type JsonNode =
  | {kind: 'object'; at: JsonPosition; entries: Map<string, {key: JsonPosition; value: JsonNode}>}
  | {kind: 'array'; at: JsonPosition; items: JsonNode[]}
  | {kind: 'scalar'; at: JsonPosition}

const enum Ch {
  tab = 9,
  lf = 10,
  cr = 13,
  space = 32,
  quote = 34,
  plus = 43,
  comma = 44,
  minus = 45,
  dot = 46,
  slash = 47,
  zero = 48,
  nine = 57,
  colon = 58,
  upperE = 69,
  openBracket = 91,
  backslash = 92,
  closeBracket = 93,
  lowerE = 101,
  openBrace = 123,
  closeBrace = 125,
}

const ESCAPES: Record<string, string> = {'"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t'}

function describe(text: string, offset: number): string {
  if (offset >= text.length) return 'the end of the input'
  const ch = text[offset]!
  if (ch === '\n' || ch === '\r') return 'the end of the line'
  return `"${escapeTerminal(ch)}"`
}

/** Recipient objects are shallow; a limit turns absurd nesting into an error instead of a stack overflow. */
const MAX_DEPTH = 256

class Cursor {
  readonly text: string
  pos: number
  depth = 0
  line: number
  lineStart: number

  constructor(text: string, start?: JsonPosition) {
    this.text = text
    this.pos = start?.offset ?? 0
    this.line = start?.line ?? 1
    this.lineStart = start === undefined ? 0 : start.offset - (start.column - 1)
  }

  here(): JsonPosition {
    return {offset: this.pos, line: this.line, column: this.pos - this.lineStart + 1}
  }

  fail(message: string, at: JsonPosition = this.here()): never {
    throw new JsonSyntaxError(message, at.line, at.column)
  }

  skipWhitespace(): void {
    const text = this.text
    for (;;) {
      const c = text.charCodeAt(this.pos)
      if (c === Ch.space || c === Ch.tab || c === Ch.cr) this.pos++
      else if (c === Ch.lf) {
        this.pos++
        this.line++
        this.lineStart = this.pos
      } else if (c === Ch.slash && (text[this.pos + 1] === '/' || text[this.pos + 1] === '*')) {
        this.fail('comments are not allowed in JSON')
      } else return
    }
  }

  /**
   * Steps into an object or array at its opening bracket. True when it is empty: the closing bracket follows at
   * once and is consumed; else the caller reads the members and ends with `depth--`.
   */
  open(close: number): boolean {
    if (++this.depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} levels`)
    this.pos++
    this.skipWhitespace()
    if (this.text.charCodeAt(this.pos) !== close) return false
    this.pos++
    this.depth--
    return true
  }

  atEnd(): boolean {
    return this.pos >= this.text.length
  }

  string(): string {
    const text = this.text
    const start = this.here()
    let i = this.pos + 1
    let out = ''
    let chunkStart = i
    for (;;) {
      if (i >= text.length) this.fail('unterminated string (missing closing ")', start)
      const c = text.charCodeAt(i)
      if (c === Ch.quote) break
      if (c === Ch.backslash) {
        out += text.slice(chunkStart, i)
        const e = text[i + 1]
        if (e === 'u') {
          const hex = text.slice(i + 2, i + 6)
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid \\u escape in a string (needs four hex digits)', this.at(i))
          out += String.fromCharCode(Number.parseInt(hex, 16))
          i += 6
        } else {
          const replacement = e === undefined ? undefined : ESCAPES[e]
          if (replacement === undefined) this.fail(`invalid escape "\\${e ?? ''}" in a string`, this.at(i))
          out += replacement
          i += 2
        }
        chunkStart = i
        continue
      }
      if (c < 0x20) {
        if (c === Ch.lf || c === Ch.cr) this.fail('unterminated string (line break before the closing ")', start)
        this.fail(`control character U+${c.toString(16).padStart(4, '0').toUpperCase()} in a string; escape it`, this.at(i))
      }
      i++
    }
    out += text.slice(chunkStart, i)
    this.pos = i + 1
    return out
  }

  /** Position of an offset on the current line (strings never span lines). */
  private at(offset: number): JsonPosition {
    return {offset, line: this.line, column: offset - this.lineStart + 1}
  }

  number(): number {
    const text = this.text
    const start = this.pos
    let i = start
    if (text.charCodeAt(i) === Ch.minus) i++
    const firstDigit = text.charCodeAt(i)
    if (firstDigit === Ch.zero) {
      i++
      const next = text.charCodeAt(i)
      if (next >= Ch.zero && next <= Ch.nine) this.fail('numbers cannot have leading zeros', this.at(start))
    } else if (firstDigit > Ch.zero && firstDigit <= Ch.nine) {
      while (isDigit(text.charCodeAt(i))) i++
    } else {
      this.fail(`invalid number: expected a digit, found ${describe(text, i)}`, this.at(i))
    }
    if (text.charCodeAt(i) === Ch.dot) {
      i++
      if (!isDigit(text.charCodeAt(i))) this.fail('invalid number: expected a digit after "."', this.at(i))
      while (isDigit(text.charCodeAt(i))) i++
    }
    const e = text.charCodeAt(i)
    if (e === Ch.lowerE || e === Ch.upperE) {
      i++
      const sign = text.charCodeAt(i)
      if (sign === Ch.plus || sign === Ch.minus) i++
      if (!isDigit(text.charCodeAt(i))) this.fail('invalid number: expected a digit in the exponent', this.at(i))
      while (isDigit(text.charCodeAt(i))) i++
    }
    this.pos = i
    const written = text.slice(start, i)
    const value = Number(written)
    // A double cannot hold every number JSON can write: refuse the ones that would be sent as another number.
    if (!Number.isFinite(value)) this.fail(`the number ${excerpt(written, 40)} is too large to represent (quote it: "${excerpt(written, 40).slice(1, -1)}")`, this.at(start))
    if (Number.isInteger(value) && !Number.isSafeInteger(value) && !/[.eE]/.test(written)) {
      this.fail(`the integer ${excerpt(written, 40)} is beyond JavaScript's safe range, it would be sent as ${value} (quote it: "${excerpt(written, 40).slice(1, -1)}")`, this.at(start))
    }
    return value
  }

  literal(): boolean | null {
    const text = this.text
    for (const [word, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, this.pos)) {
        this.pos += word.length
        return value
      }
    }
    const found = describe(text, this.pos)
    const hint = text[this.pos] === "'" ? ' (JSON strings use double quotes)' : ''
    return this.fail(`expected a value, found ${found}${hint}`)
  }

  /** After a member or element: consumes `,` (returning true) or the closing bracket (returning false). */
  separator(close: number, what: 'property' | 'element'): boolean {
    this.skipWhitespace()
    const c = this.text.charCodeAt(this.pos)
    if (c === Ch.comma) {
      const comma = this.here()
      this.pos++
      this.skipWhitespace()
      const next = this.text.charCodeAt(this.pos)
      if (next === Ch.closeBrace || next === Ch.closeBracket) {
        this.fail(`trailing comma before ${describe(this.text, this.pos)}`, comma)
      }
      return true
    }
    if (c === close) {
      this.pos++
      return false
    }
    const closing = close === Ch.closeBrace ? '}' : ']'
    if (this.atEnd()) this.fail(`unexpected end of the input: expected "," or "${closing}"`)
    if (what === 'property' && c === Ch.quote) this.fail('missing "," between properties')
    if (what === 'element' && startsValue(c)) this.fail('missing "," between array elements')
    return this.fail(`expected "," or "${closing}", found ${describe(this.text, this.pos)}`)
  }

  key(): {name: string; at: JsonPosition} {
    this.skipWhitespace()
    const at = this.here()
    if (this.text.charCodeAt(this.pos) !== Ch.quote) {
      this.fail(`expected a property name in double quotes, found ${describe(this.text, this.pos)}`)
    }
    const name = this.string()
    this.skipWhitespace()
    if (this.text.charCodeAt(this.pos) !== Ch.colon) {
      this.fail(`expected ":" after the property name ${excerpt(name)}, found ${describe(this.text, this.pos)}`)
    }
    this.pos++
    return {name, at}
  }
}

function isDigit(c: number): boolean {
  return c >= Ch.zero && c <= Ch.nine
}

function startsValue(c: number): boolean {
  return c === Ch.quote || c === Ch.openBrace || c === Ch.openBracket || c === Ch.minus || isDigit(c) || c === 116 || c === 102 || c === 110
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  // A plain assignment to "__proto__" would change the prototype instead of adding a property.
  if (key === '__proto__') Object.defineProperty(target, key, {value, enumerable: true, writable: true, configurable: true})
  else target[key] = value
}

/** Where read() puts the position tree of the value it reads, when asked to (only to locate an error). */
interface Located {
  node?: JsonNode
}

/**
 * The one walker: reads a value and returns it; given `located`, also builds the JsonNode tree of its positions
 * (a second pass that happens only to locate an error, so the fast path allocates nothing for positions).
 */
function read(cur: Cursor, located?: Located): unknown {
  cur.skipWhitespace()
  const at = located === undefined ? undefined : cur.here()
  const c = cur.text.charCodeAt(cur.pos)
  if (c === Ch.openBrace) {
    // Where the object opens, as numbers: a position object is made only if a duplicate key needs it.
    const open = cur.pos
    const openColumn = cur.pos - cur.lineStart + 1
    const openLine = cur.line
    const obj: Record<string, unknown> = {}
    const entries = located === undefined ? undefined : new Map<string, {key: JsonPosition; value: JsonNode}>()
    if (located !== undefined) located.node = {kind: 'object', at: at!, entries: entries!}
    if (cur.open(Ch.closeBrace)) return obj
    do {
      const key = cur.key()
      if (Object.prototype.hasOwnProperty.call(obj, key.name)) {
        const first = entries?.get(key.name)
        if (first !== undefined) cur.fail(`duplicate key ${excerpt(key.name)} (first at line ${first.key.line}, column ${first.key.column})`, key.at)
        // Rare: read the object again with positions, which fails above naming both places.
        read(new Cursor(cur.text, {offset: open, line: openLine, column: openColumn}), {})
      }
      const child: Located | undefined = entries === undefined ? undefined : {}
      setOwn(obj, key.name, read(cur, child))
      if (entries !== undefined) entries.set(key.name, {key: key.at, value: child!.node!})
    } while (cur.separator(Ch.closeBrace, 'property'))
    cur.depth--
    return obj
  }
  if (c === Ch.openBracket) {
    const arr: unknown[] = []
    const items: JsonNode[] | undefined = located === undefined ? undefined : []
    if (located !== undefined) located.node = {kind: 'array', at: at!, items: items!}
    if (cur.open(Ch.closeBracket)) return arr
    do {
      const child: Located | undefined = items === undefined ? undefined : {}
      arr.push(read(cur, child))
      if (items !== undefined) items.push(child!.node!)
    } while (cur.separator(Ch.closeBracket, 'element'))
    cur.depth--
    return arr
  }
  if (located !== undefined) located.node = {kind: 'scalar', at: at!}
  if (c === Ch.quote) return cur.string()
  if (c === Ch.minus || isDigit(c)) return cur.number()
  if (cur.atEnd()) cur.fail('unexpected end of the input: expected a value')
  return cur.literal()
}

/** The position tree of the value that starts at `start`. */
function readNode(text: string, start: JsonPosition): JsonNode {
  const located: Located = {}
  read(new Cursor(text, start), located)
  return located.node!
}

/** Parses one complete JSON text (e.g. one NDJSON line); `start` places it in a larger file. */
export function parseJson(text: string, start?: JsonPosition): unknown {
  const cur = new Cursor(text, start)
  const value = read(cur)
  cur.skipWhitespace()
  if (!cur.atEnd()) cur.fail(`unexpected ${describe(text, cur.pos)} after the end of the JSON value`)
  return value
}

/** What a top-level value is, for "must be an array" messages. */
export function describeJsonStart(text: string): {kind: 'array' | 'object' | 'other' | 'empty'; at: JsonPosition} {
  const cur = new Cursor(text)
  cur.skipWhitespace()
  const c = text.charCodeAt(cur.pos)
  const kind = cur.atEnd() ? 'empty' : c === Ch.openBracket ? 'array' : c === Ch.openBrace ? 'object' : 'other'
  return {kind, at: cur.here()}
}

/**
 * Parses a text whose top level must be an array, calling `onElement` with each element and its position.
 * Returns false (without reading further) when the top level is not an array.
 */
export function parseJsonArray(text: string, onElement: (value: unknown, at: JsonPosition) => void): boolean {
  const cur = new Cursor(text)
  cur.skipWhitespace()
  if (text.charCodeAt(cur.pos) !== Ch.openBracket) return false
  cur.pos++
  cur.skipWhitespace()
  if (text.charCodeAt(cur.pos) === Ch.closeBracket) cur.pos++
  else {
    do {
      cur.skipWhitespace()
      const at = cur.here()
      onElement(read(cur), at)
    } while (cur.separator(Ch.closeBracket, 'element'))
  }
  cur.skipWhitespace()
  if (!cur.atEnd()) cur.fail(`unexpected ${describe(text, cur.pos)} after the end of the array`)
  return true
}

/**
 * The position of the value at `path` inside the value that starts at `start` (or of the property name when
 * `key` is set). Falls back to the deepest part of the path that exists.
 */
export function locateJson(text: string, start: JsonPosition, path: readonly (string | number)[], key = false): JsonPosition {
  let node = readNode(text, start)
  let at = node.at
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]!
    const last = i === path.length - 1
    if (node.kind === 'object') {
      const entry = node.entries.get(String(segment))
      if (entry === undefined) return at
      if (last && key) return entry.key
      node = entry.value
    } else if (node.kind === 'array') {
      const item = node.items[Number(segment)]
      if (item === undefined) return at
      node = item
    } else return at
    at = node.at
  }
  return at
}
