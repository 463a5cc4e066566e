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

function stateHash(input: string): string {
  // base64url is cut at whole characters: the first 11 of the full digest's text are those of its first 9 bytes, so
  // the digest goes straight to a string (no Buffer per hash: three per recipient on the apply path).
  if (oneShot) return (oneShot('sha256', input, 'base64url') as string).slice(0, STATE_HASH_LENGTH)
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
  return stateHash(canonicalAttributesText(shared, own))
}

/**
 * The text the attributes hash is taken of: `attributes\n` and the JSON of the effective attributes (shared merged
 * with the recipient's own, own winning) as `[[name, value], …]` sorted by name, exactly as
 *
 *   JSON.stringify(Object.keys(merged).sort().map((k) => [k, merged[k]]))
 *
 * writes it (stored hashes depend on these bytes). Built without the merged object, the pairs or a generic
 * stringify: recipients of one source carry the same attribute names in the same order, so the sorted layout of
 * the names is computed once per such list of names and reused (see AttributeLayout).
 */
export function canonicalAttributesText(shared: Attributes, own: Attributes | undefined): string {
  const {names, fromOwn, prefixes} = layoutFor(shared, own)
  if (names.length === 0) return 'attributes\n[]'
  let text = 'attributes\n['
  for (let i = 0; i < names.length; i++) {
    const value = (fromOwn[i] ? own! : shared)[names[i]!]
    let json: string
    if (typeof value === 'string') json = jsonString(value)
    else if (typeof value === 'number') json = Number.isFinite(value) ? String(value) : 'null'
    else if (typeof value === 'boolean') json = value ? 'true' : 'false'
    // Not a value a manifest or a source makes: the generic path, whatever it makes of it.
    else return legacyCanonicalText(shared, own)
    text += prefixes[i]! + json
  }
  return `${text}]]`
}

/** The canonical text as first written: what the fast path must equal (test/unit/state-hash.test.ts proves it). */
function legacyCanonicalText(shared: Attributes, own: Attributes | undefined): string {
  const merged: Attributes = own ? {...shared, ...own} : shared
  const keys = Object.keys(merged).sort()
  return `attributes\n${JSON.stringify(keys.map((k) => [k, merged[k]]))}`
}

/** Characters that JSON.stringify escapes in a string (control characters, quote, backslash, lone surrogates). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/** JSON.stringify(value) for a string, skipping it for the usual plain text (paired surrogates take the slow way). */
function jsonString(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`
}

/**
 * The effective attribute names (the shared object's and the recipient's own enumerable names, as the spread and
 * Object.keys see them) sorted as Array.prototype.sort sorts them, whether each value is the recipient's own, and
 * the text before each value: `["A",` for the first, `],["B",` after.
 */
interface AttributeLayout {
  shared: Attributes
  ownNames: string[]
  names: string[]
  fromOwn: boolean[]
  prefixes: string[]
}

/** The last layout built: recipients of one source share it. One entry, so nothing grows. */
let lastLayout: AttributeLayout | undefined

function layoutFor(shared: Attributes, own: Attributes | undefined): AttributeLayout {
  const ownNames = own === undefined ? [] : Object.keys(own)
  const last = lastLayout
  if (last !== undefined && last.shared === shared && sameNames(last.ownNames, ownNames)) return last
  const ownSet = new Set(ownNames)
  const names = [...new Set([...Object.keys(shared), ...ownNames])].sort()
  const layout: AttributeLayout = {
    shared,
    ownNames,
    names,
    fromOwn: names.map((name) => ownSet.has(name)),
    prefixes: names.map((name, i) => `${i === 0 ? '' : '],'}[${JSON.stringify(name)},`),
  }
  lastLayout = layout
  return layout
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
