/**
 * Untrusted text (anything from a manifest, a recipient file, a file name or an answer from Marketing Cloud) made
 * safe for the place it is printed: a terminal, a Markdown comment, a JSON document.
 */

import {findAddresses} from './address.js'

/**
 * Characters a terminal or a text view acts on instead of showing: C0 controls (ESC, CR, BS…), DEL, C1 controls
 * (0x9B is a one-byte CSI on some terminals), line and paragraph separators, and the bidirectional overrides and
 * isolates that reorder what a reader sees ("Trojan Source").
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g

const NAMED: Readonly<Record<string, string>> = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}

function escapeChar(c: string): string {
  const named = NAMED[c]
  if (named !== undefined) return named
  const code = c.charCodeAt(0)
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`
}

/**
 * One line of text for a terminal: every control character shown escaped (`\x1b`, `\n`, `\u{202e}`), so a value
 * cannot move the cursor, clear the screen, hide lines or reorder text. Printable text is unchanged.
 */
export function escapeTerminal(text: string): string {
  UNSAFE.lastIndex = 0
  return UNSAFE.test(text) ? text.replace(UNSAFE, escapeChar) : text
}

/**
 * Text of several lines for a terminal (an error message with its details): each line escaped, the line breaks
 * between them kept.
 */
export function escapeTerminalLines(text: string): string {
  return text.split('\n').map(escapeTerminal).join('\n')
}

/**
 * Markdown punctuation replaced by numeric character references: they render as the character both in Markdown
 * text and inside HTML blocks (`<details>`, `<summary>`), where backslash escapes would show as backslashes.
 */
const MARKDOWN_ENTITY: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '|': '&#124;',
  '[': '&#91;',
  ']': '&#93;',
  '(': '&#40;',
  ')': '&#41;',
  '!': '&#33;',
  '`': '&#96;',
  '#': '&#35;',
  '*': '&#42;',
  '_': '&#95;',
  '~': '&#126;',
  '\\': '&#92;',
  '$': '&#36;',
  '^': '&#94;',
  '{': '&#123;',
  '}': '&#125;',
}
const MARKDOWN_SPECIAL = /[&<>"'|[\]()!`#*_~\\$^{}]/g

/** A zero-width space: breaks `@name` mentions and `https://` / `www.` autolinks without changing what is read. */
const ZWSP = '&#8203;'

/**
 * Untrusted text for GitHub-flavoured Markdown, in a table cell, a paragraph or an HTML block: it cannot open or
 * close HTML (`</details>`, `<img>`, comments), break a table row or a line, start a heading, list, quote or code
 * block, render an image or a link (including bare URLs GitHub links by itself), mention a user or team, or
 * reference an issue. Control characters are shown escaped first (a line break becomes `\n`), so the value stays
 * on one line. Mask addresses before escaping: the `@` is broken up here.
 */
export function escapeMarkdown(text: string): string {
  let s = escapeTerminal(text)
  s = s.replace(MARKDOWN_SPECIAL, (c) => MARKDOWN_ENTITY[c]!)
  // Mentions (@user, @org/team) and e-mail autolinks.
  s = s.replaceAll('@', `@${ZWSP}`)
  // Autolinks GitHub creates from bare text: scheme:// and www.
  s = s.replace(/:\/\//g, `:${ZWSP}//`).replace(/\b(www)\./gi, `$1${ZWSP}.`)
  // What only matters at the start of a line, should a renderer ever put the value there: list markers, setext
  // underlines, blockquotes (already entities), indented code.
  s = s.replace(/^(\s*)([-+=])/, (_m, space: string, c: string) => `${space.replaceAll(' ', '&#32;')}&#${c.charCodeAt(0)};`)
  s = s.replace(/^(\d+)([.)])/, (_m, digits: string, c: string) => `${digits}&#${c.charCodeAt(0)};`)
  s = s.replace(/^ +/, (spaces) => '&#32;'.repeat(spaces.length))
  return s
}

/**
 * Characters JSON.stringify leaves raw that a terminal acts on when the JSON is printed (C1 controls, line
 * separators, bidi controls). Escaped as \uXXXX, the document parses to the same values.
 */
const JSON_UNSAFE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g

/** A JSON text (from JSON.stringify) with the characters above escaped; parses to the same value. */
export function escapeJsonText(json: string): string {
  JSON_UNSAFE.lastIndex = 0
  if (!JSON_UNSAFE.test(json)) return json
  return json.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** One JSON document on one line, ready to print: JSON.stringify, then escapeJsonText, then a line break. */
export function jsonLine(value: unknown): string {
  return `${escapeJsonText(JSON.stringify(value))}\n`
}

/**
 * Untrusted text for Markdown with the addresses inside it masked (unless `showAddresses`): like escapeMarkdown,
 * but a masked address keeps its readable `a***@example.com` shape (`***` cannot open emphasis there: it is
 * followed by `@`), with the mention after the `@` still broken.
 */
export function escapeMarkdownMasked(text: string, showAddresses: boolean): string {
  if (showAddresses || !text.includes('@')) return escapeMarkdown(text)
  const spans = findAddresses(text)
  if (spans.length === 0) return escapeMarkdown(text)
  let out = ''
  let from = 0
  for (const span of spans) {
    if (span.start > from) out += escapeMarkdown(text.slice(from, span.start))
    let local = text.slice(span.start, span.at)
    if (local.startsWith('"')) local = local.slice(1)
    const first = local.codePointAt(0)
    out += `${first === undefined ? '' : escapeMarkdown(String.fromCodePoint(first))}***${escapeMarkdown(text.slice(span.at, span.end))}`
    from = span.end
  }
  if (from < text.length) out += escapeMarkdown(text.slice(from))
  return out
}
