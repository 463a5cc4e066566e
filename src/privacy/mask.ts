import {findAddresses, type AddressSpan} from './address.js'

/** Attribute values as manifests hold them (a local copy of the type: this module imports nothing of ours). */
type AttributeMap = Record<string, string | number | boolean>

/** The first code point of a string, whole (an astral character is two UTF-16 units). */
function firstCodePoint(s: string): string {
  const cp = s.codePointAt(0)
  return cp === undefined ? '' : String.fromCodePoint(cp)
}

function maskSpan(value: string, span: AddressSpan): string {
  let local = value.slice(span.start, span.at)
  if (local.startsWith('"')) local = local.slice(1)
  return `${firstCodePoint(local)}***${value.slice(span.at, span.end)}`
}

/**
 * Masks every address inside `text`, keeping the first code point of its local part and its domain:
 * `Ann <ann@example.com>` -> `Ann <a***@example.com>`, `"ann lee"@example.com` -> `a***@example.com`.
 * Text without an address is returned as it is.
 */
export function maskAddresses(text: string): string {
  return replaceAddresses(text, (span) => maskSpan(text, span))
}

/** Replaces every address inside free text with `[redacted]`: for text that is stored (the state), not shown. */
export function redactAddresses(text: string): string {
  return replaceAddresses(text, () => '[redacted]')
}

/** `text` with every address found in it replaced by `replacement(span)`; the same string when it holds none. */
function replaceAddresses(text: string, replacement: (span: AddressSpan) => string): string {
  if (!text.includes('@')) return text
  const spans = findAddresses(text)
  if (spans.length === 0) return text
  let out = ''
  let from = 0
  for (const span of spans) {
    out += text.slice(from, span.start) + replacement(span)
    from = span.end
  }
  return out + text.slice(from)
}

export interface MaskOptions {
  /** --show-addresses: print addresses in clear. */
  showAddresses: boolean
}

/** Masks the addresses inside a value (a contactKey, an attribute value, a definitionKey…) unless --show-addresses. */
export function maskValue(value: string, options: MaskOptions): string {
  return options.showAddresses ? value : maskAddresses(value)
}

export function maskAttributes<T extends AttributeMap>(attributes: T, options: MaskOptions): T {
  if (options.showAddresses) return attributes
  const out: AttributeMap = {}
  for (const [k, v] of Object.entries(attributes)) out[maskAddresses(k)] = typeof v === 'string' ? maskAddresses(v) : v
  return out as T
}

/**
 * The rule of what may be stored in clear (state, saved plans, logs meant to be kept): text that holds no address.
 * Anything else is stored as a hash or redacted.
 */
export function mayStoreInClear(value: string): boolean {
  return !value.includes('@') || findAddresses(value).length === 0
}
