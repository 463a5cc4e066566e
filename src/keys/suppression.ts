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
 *   prefix + ":" + base64url(first 16 bytes of SHA-256("suppress\n" + match + "\n" + normalised value))
 *
 * where match is `to` or `contactKey` and the value is normalised as above. The prefix names how the hash was made
 * (suppressionHashMode): `sha256` without a state key; with MCSEND_STATE_KEY set, HMAC-SHA-256 under that key
 * replaces SHA-256 and the prefix is `hmac-` and the start of the key's fingerprint. A list hashed one way matches
 * nobody under another, so the plan refuses a list whose prefix is not its own (plan/build.ts) instead of
 * suppressing nobody. `mcsend suppress hash` computes them.
 */
export function suppressionHash(hasher: StateHasher, match: SuppressMatch, value: string): string {
  return `${suppressionHashMode(hasher)}:${hasher.suppressionDigest(`${match}\n${normaliseSuppressed(match, value)}`)}`
}

/** Characters of the key's fingerprint a keyed hash names: enough to tell keys apart, short enough for a list. */
const FINGERPRINT_CHARS = 10

/**
 * How a hasher makes suppression hashes: `sha256` (no state key) or `hmac-` and the first characters of the key's
 * fingerprint (keys/keyed.ts keyFingerprint, which the state records too).
 */
export function suppressionHashMode(hasher: StateHasher): string {
  if (!hasher.keyed || hasher.fingerprint === undefined) return 'sha256'
  const fingerprint = hasher.fingerprint.slice(hasher.fingerprint.lastIndexOf(':') + 1)
  return `hmac-${fingerprint.slice(0, FINGERPRINT_CHARS)}`
}

/** A hash as suppressionHash writes it: the mode, a colon and 22 base64url characters (16 bytes). */
export const SUPPRESSION_HASH_PATTERN = /^(sha256|hmac-[A-Za-z0-9_-]{10}):[A-Za-z0-9_-]{22}$/

/** A bare digest without the mode prefix (as nothing writes today): refused with its own hint. */
export const UNPREFIXED_SUPPRESSION_HASH_PATTERN = /^[A-Za-z0-9_-]{22}$/

/** The mode prefix of a value matching SUPPRESSION_HASH_PATTERN. */
export function suppressionHashModeOf(hash: string): string {
  return hash.slice(0, hash.indexOf(':'))
}

/** How a mode reads in a message: `without MCSEND_STATE_KEY`, or `with the state key whose fingerprint starts hmac-sha256:…`. */
export function describeSuppressionHashMode(mode: string): string {
  return mode === 'sha256' ? 'without MCSEND_STATE_KEY' : `with the state key whose fingerprint starts hmac-sha256:${mode.slice('hmac-'.length)}`
}
