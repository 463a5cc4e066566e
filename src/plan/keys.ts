import {createHash} from 'node:crypto'

/** Marketing Cloud accepts messageKeys of up to 100 characters (sfmc-api.md §2). */
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
  const digest = createHash('sha256')
    .update(`${name}${KEY_SEPARATOR}${revision}${KEY_SEPARATOR}${contactKey}`, 'utf8')
    .digest('base64url')
  const prefix = `${name}.r${revision}.`
  const room = MAX_MESSAGE_KEY_LENGTH - digest.length
  // Names are limited to 40 characters by the schema, so this cut only guards against misuse of the function.
  return (prefix.length > room ? prefix.slice(0, room) : prefix) + digest
}
