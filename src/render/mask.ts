import type {Attributes} from '../manifest/types.js'

// Loose on purpose: anything with one @ between non-empty parts and a dot in the domain counts as an address.
const EMAIL_LIKE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

export function looksLikeEmail(value: string): boolean {
  return EMAIL_LIKE.test(value)
}

/** `ann@example.com` -> `a***@example.com`. Values that are not addresses are returned as they are. */
export function maskEmail(value: string): string {
  const at = value.lastIndexOf('@')
  if (at <= 0 || !looksLikeEmail(value)) return value
  return `${value[0]}***${value.slice(at)}`
}

export interface MaskOptions {
  /** --show-addresses: print addresses in clear. */
  showAddresses: boolean
}

/** Masks a value if it is an email address (contactKeys and attribute values may be addresses). */
export function maskValue(value: string, options: MaskOptions): string {
  return options.showAddresses ? value : maskEmail(value)
}

export function maskAttributes(attributes: Attributes, options: MaskOptions): Attributes {
  if (options.showAddresses) return attributes
  const out: Attributes = {}
  for (const [k, v] of Object.entries(attributes)) out[k] = typeof v === 'string' ? maskEmail(v) : v
  return out
}
