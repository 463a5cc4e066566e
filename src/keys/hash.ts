import crypto, {createHash} from 'node:crypto'

/** Attribute values as manifests carry them (structurally the same as manifest/types.ts Attributes). */
type Attributes = Readonly<Record<string, string | number | boolean>>

// crypto.hash (Node >= 20.12) is a one-shot digest, about twice as fast as createHash for short inputs.
const oneShot = (crypto as {hash?: (algorithm: string, data: string, encoding: 'base64url' | 'buffer') => string | Buffer}).hash

/** base64url SHA-256 of a UTF-8 string, optionally truncated to `bytes` bytes of digest. */
export function sha256Base64url(input: string, bytes = 32): string {
  if (bytes >= 32) {
    // The full digest straight to base64url: no intermediate buffer (this runs once per recipient in plans).
    return oneShot ? (oneShot('sha256', input, 'base64url') as string) : createHash('sha256').update(input, 'utf8').digest('base64url')
  }
  const digest = oneShot ? (oneShot('sha256', input, 'buffer') as Buffer) : createHash('sha256').update(input, 'utf8').digest()
  return digest.subarray(0, bytes).toString('base64url')
}

export function sha256Hex(input: string | Uint8Array): string {
  return createHash('sha256').update(input).digest('hex')
}

/**
 * State hashes are the first 11 base64url characters of the digest: 66 bits, plenty to notice a change or find a
 * contact's records, and short enough that a state record fits in under 100 bytes. States written before held 22
 * characters (128 bits) whose first 11 are the same bits: compare with sameHash.
 */
export const STATE_HASH_LENGTH = 11
/** The digest bytes that hold the first 11 base64url characters (9 bytes make 12). */
const STATE_HASH_BYTES = 9

/** The state hash of a digest given as bytes (SHA-256, or HMAC-SHA-256 in keyed mode). */
export function stateHashOf(digest: Uint8Array): string {
  return Buffer.from(digest.buffer, digest.byteOffset, STATE_HASH_BYTES).toString('base64url').slice(0, STATE_HASH_LENGTH)
}

function stateHash(input: string): string {
  return sha256Base64url(input, STATE_HASH_BYTES).slice(0, STATE_HASH_LENGTH)
}

/**
 * Whether a hash read from a state matches one computed now: equal, or the longer (22-character) hash an older
 * state holds of the same value.
 */
export function sameHash(stored: string, computed: string): boolean {
  return stored === computed || (stored.length === 2 * STATE_HASH_LENGTH && computed.length === STATE_HASH_LENGTH && stored.startsWith(computed))
}

/** Hash of a recipient's address, stored in the state instead of the address itself. */
export function hashTo(to: string): string {
  return stateHash(`to\n${to}`)
}

/** Hash of a contactKey, so erasure requests can find records without the state holding the key. */
export function hashContactKey(contactKey: string): string {
  return stateHash(`contact\n${contactKey}`)
}

/** Hash of the effective attributes (shared merged with per-recipient), independent of key order. */
export function hashAttributes(shared: Attributes, own: Attributes | undefined): string {
  if (own === undefined) {
    // Recipients without attributes of their own all share the send's hash: compute it once per send.
    let cached = sharedOnly.get(shared)
    if (cached === undefined) {
      cached = computeAttributesHash(shared, undefined)
      sharedOnly.set(shared, cached)
    }
    return cached
  }
  return computeAttributesHash(shared, own)
}

const sharedOnly = new WeakMap<Attributes, string>()

function computeAttributesHash(shared: Attributes, own: Attributes | undefined): string {
  const merged: Attributes = own ? {...shared, ...own} : shared
  const keys = Object.keys(merged).sort()
  const canonical = JSON.stringify(keys.map((k) => [k, merged[k]]))
  return stateHash(`attributes\n${canonical}`)
}
