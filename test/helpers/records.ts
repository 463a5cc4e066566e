import type {MessageRecord} from '../../src/state/types.js'

/** A well-formed state record number `i` (hash fields are placeholders, never real hashes of anything). */
export function testRecord(i: number, overrides: Partial<MessageRecord> = {}): MessageRecord {
  return {
    messageKey: `release-r1-${i}`,
    send: 'release',
    revision: 1,
    status: 'accepted',
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    toHash: `to-${i}`,
    attributesHash: `attr-${i}`,
    contactHash: `contact-${i}`,
    ...overrides,
  }
}
