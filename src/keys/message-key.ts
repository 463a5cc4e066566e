import {sha256Base64url} from './hash.js'

/** Marketing Cloud accepts messageKeys of up to 100 characters (docs/marketing-cloud-api.md). */
export const MAX_MESSAGE_KEY_LENGTH = 100

/**
 * The separator between the parts that are hashed. `name` is a slug and `revision` an integer, so neither can
 * contain it, and the contactKey is last: the joined string is unambiguous whatever the contactKey holds.
 */
export const KEY_SEPARATOR = '\n'

/**
 * The deterministic messageKey of one recipient of one send:
 *
 *   `${name}.r${revision}.` + base64url(SHA-256(name + "\n" + revision + "\n" + contactKey))
 *
 * The digest keeps all 256 bits (43 characters). Nothing else (order, attributes, `to`, definitionKey, machine,
 * time) goes in, so re-runs, reordered sources and fixed attribute typos never produce a second email, and a
 * deliberate `revision` bump does. Documented in the README with a shell recipe that reproduces it.
 */
export function deriveMessageKey(name: string, revision: number, contactKey: string): string {
  return messageKeyDeriver(name, revision)(contactKey)
}

/**
 * What every derived messageKey of a send and revision starts with (`NAME.rREV.`). Names are limited to 40
 * characters by the schema, so the cut only guards against misuse. The state stores keys after this prefix.
 */
export function messageKeyPrefix(name: string, revision: number): string {
  return `${name}.r${revision}.`.slice(0, MAX_MESSAGE_KEY_LENGTH - DIGEST_LENGTH)
}

/** The same derivation with the per-send parts computed once: the planner calls it once per recipient. */
export function messageKeyDeriver(name: string, revision: number): (contactKey: string) => string {
  const hashed = `${name}${KEY_SEPARATOR}${revision}${KEY_SEPARATOR}`
  const prefix = messageKeyPrefix(name, revision)
  // join() builds one flat string; `prefix + digest` would make a cons string that is flattened later, in the
  // old generation, the first time it is serialised (about 80 MB more for a million keys).
  return (contactKey) => [prefix, sha256Base64url(hashed + contactKey)].join('')
}

/** base64url of a 32-byte digest, without padding. */
const DIGEST_LENGTH = 43

