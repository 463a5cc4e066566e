import type {StateHasher} from './keyed.js'

/** What a suppression list holds: contactKeys, or email addresses. */
export type SuppressMatch = 'contactKey' | 'to'

/**
 * The form a suppression value is compared in: an address without surrounding spaces and in lower case (a list
 * written `Ann@Example.com` must still stop `ann@example.com`: suppressing too much is the safe side), a
 * contactKey exactly as written (Marketing Cloud tells subscriber keys apart by case).
 */
export function normaliseSuppressed(match: SuppressMatch, value: string): string {
  return match === 'to' ? value.trim().toLowerCase() : value
}

/**
 * The hash a hashed suppression list holds for a value, so a list can be committed without the addresses in it:
 *
 *   base64url(first 16 bytes of SHA-256("suppress\n" + match + "\n" + normalised value))
 *
 * where match is `to` or `contactKey` and the value is normalised as above. With MCSEND_STATE_KEY set, HMAC-SHA-256
 * under that key replaces SHA-256 (a list must be hashed with the key the plan runs with). `mcsend suppress hash`
 * computes them.
 */
export function suppressionHash(hasher: StateHasher, match: SuppressMatch, value: string): string {
  return hasher.suppressionDigest(`${match}\n${normaliseSuppressed(match, value)}`)
}

/** A hash as suppressionHash writes it: 22 base64url characters (16 bytes). */
export const SUPPRESSION_HASH_PATTERN = /^[A-Za-z0-9_-]{22}$/
