import {createHmac, createSecretKey} from 'node:crypto'

import {STATE_HASH_LENGTH, canonicalAttributesText, hashAttributes, hashContactKey, hashTo, sha256Base64url} from './hash.js'
import {messageKeyDeriver, messageKeyPrefix} from './message-key.js'

/** Attribute values as manifests carry them. */
type Attributes = Readonly<Record<string, string | number | boolean>>

/** The environment variable holding the state key (a secret, like the client secret). */
export const STATE_KEY_VARIABLE = 'MCSEND_STATE_KEY'
/** Shorter keys could be guessed from the fingerprint the state records. */
export const MIN_STATE_KEY_LENGTH = 16

/**
 * The hashes the state holds and the messageKeys the plan derives, unkeyed (SHA-256) or keyed (HMAC-SHA-256
 * under MCSEND_STATE_KEY). Unkeyed, anyone holding a committed state can hash a list of addresses and confirm
 * which were emailed; keyed, only holders of the key can. messageKeys join keyed mode: derived from a contactKey
 * that is an address, an unkeyed key would confirm the same thing.
 */
export interface StateHasher {
  readonly keyed: boolean
  /** Identifies the key without revealing it (recorded in the state); undefined when unkeyed. */
  readonly fingerprint: string | undefined
  hashTo(to: string): string
  hashContactKey(contactKey: string): string
  hashAttributes(shared: Attributes, own: Attributes | undefined): string
  /** A value stored as a hash instead of in clear (a snapshot value holding an address): `hash:…`. */
  hashValue(value: string): string
  messageKeyDeriver(name: string, revision: number): (contactKey: string) => string
  /**
   * The digest a hashed suppression list holds (keys/suppression.ts): base64url of the first 16 bytes of
   * SHA-256("suppress\n" + input), or of HMAC-SHA-256 under the key. Fixed, unlike the state's own hashes, so a
   * committed list keeps matching whatever the state format does.
   */
  suppressionDigest(input: string): string
}

const VALUE_HASH_BYTES = 16
const SUPPRESSION_DIGEST_BYTES = 16

export const UNKEYED: StateHasher = {
  keyed: false,
  fingerprint: undefined,
  hashTo,
  hashContactKey,
  hashAttributes,
  hashValue: (value) => `hash:${sha256Base64url(`value\n${value}`, VALUE_HASH_BYTES)}`,
  messageKeyDeriver,
  suppressionDigest: (input) => sha256Base64url(`suppress\n${input}`, SUPPRESSION_DIGEST_BYTES),
}

/** Why a state key cannot be used, or undefined. */
export function stateKeyProblem(key: string): string | undefined {
  if (key.trim() !== key) return `${STATE_KEY_VARIABLE} must not start or end with whitespace`
  if (key.length < MIN_STATE_KEY_LENGTH) return `${STATE_KEY_VARIABLE} must be at least ${MIN_STATE_KEY_LENGTH} characters (it has ${key.length})`
  return undefined
}

/** The fingerprint of a key: an HMAC of a fixed text, so it names the key without revealing it. */
export function keyFingerprint(key: string): string {
  return `hmac-sha256:${createHmac('sha256', key).update('mcsend state key fingerprint v1').digest('base64url').slice(0, 22)}`
}

/** The hasher for a key (HMAC-SHA-256), or the unkeyed one when `key` is undefined or empty. */
export function makeStateHasher(key: string | undefined): StateHasher {
  if (key === undefined || key === '') return UNKEYED
  // The key imported once (HMAC takes the key's UTF-8 bytes either way): a string key is converted on every call,
  // about half of the cost of a short hash, and apply takes three per recipient.
  const secret = createSecretKey(Buffer.from(key, 'utf8'))
  const hmacDigest = (input: string): Buffer => createHmac('sha256', secret).update(input, 'utf8').digest()
  const hmac = (input: string, bytes = 32): string => {
    const digest = hmacDigest(input)
    return (bytes >= 32 ? digest : digest.subarray(0, bytes)).toString('base64url')
  }
  /**
   * The same length and bits as the unkeyed state hashes (see hash.ts): the first 11 characters of the digest's
   * base64url text, without a Buffer per hash.
   */
  const stateHmac = (input: string): string => createHmac('sha256', secret).update(input, 'utf8').digest('base64url').slice(0, STATE_HASH_LENGTH)
  const sharedOnly = new WeakMap<Attributes, string>()
  const attributes = (shared: Attributes, own: Attributes | undefined): string => stateHmac(canonicalAttributesText(shared, own))
  return {
    keyed: true,
    fingerprint: keyFingerprint(key),
    hashTo: (to) => stateHmac(`to\n${to}`),
    hashContactKey: (contactKey) => stateHmac(`contact\n${contactKey}`),
    hashAttributes: (shared, own) => {
      if (own !== undefined) return attributes(shared, own)
      let cached = sharedOnly.get(shared)
      if (cached === undefined) {
        cached = attributes(shared, undefined)
        sharedOnly.set(shared, cached)
      }
      return cached
    },
    hashValue: (value) => `hash:${hmac(`value\n${value}`, VALUE_HASH_BYTES)}`,
    suppressionDigest: (input) => hmac(`suppress\n${input}`, SUPPRESSION_DIGEST_BYTES),
    // The same layout as the unkeyed key (see message-key.ts), with HMAC-SHA-256 under the key as the digest.
    messageKeyDeriver: (name, revision) => {
      const hashed = `${name}\n${revision}\n`
      const prefix = messageKeyPrefix(name, revision)
      return (contactKey) => [prefix, hmac(hashed + contactKey)].join('')
    },
  }
}
