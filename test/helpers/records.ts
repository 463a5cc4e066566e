import {hashAttributes, hashContactKey, hashTo} from '../../src/keys/hash.js'
import {deriveMessageKey} from '../../src/keys/message-key.js'
import type {Attributes} from '../../src/manifest/types.js'
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

export interface RecordedRecipient {
  send: string
  contactKey: string
  /** Default `<contactKey>@example.com`. */
  to?: string
  revision?: number
  /** Default: the derived messageKey of send, revision and contactKey. */
  messageKey?: string
  /** The send's shared attributes and the recipient's own, hashed as the executor hashes them. */
  shared?: Attributes
  attributes?: Attributes
}

/** The state record the executor writes for one recipient: the real key and hashes; accepted unless overridden. */
export function recipientRecord(r: RecordedRecipient, overrides: Partial<MessageRecord> = {}): MessageRecord {
  const revision = r.revision ?? 1
  return {
    messageKey: r.messageKey ?? deriveMessageKey(r.send, revision, r.contactKey),
    send: r.send,
    revision,
    status: 'accepted',
    at: '2026-03-01T10:00:00.000Z',
    toHash: hashTo(r.to ?? `${r.contactKey}@example.com`),
    attributesHash: hashAttributes(r.shared ?? {}, r.attributes),
    contactHash: hashContactKey(r.contactKey),
    ...overrides,
  }
}
