import type {Attributes, Recipient, Send} from '../../src/manifest/types.js'
import {emptyState} from '../../src/state/serialize.js'
import type {MessageRecord, SendSnapshot, StateData} from '../../src/state/types.js'

export function recipient(contactKey: string, to = `${contactKey}@example.com`, attributes?: Attributes, line = 1): Recipient {
  const r: Recipient = {contactKey, to, file: 'sends/test.yaml', line}
  if (attributes !== undefined) r.attributes = attributes
  return r
}

export function makeSend(overrides: Partial<Send> & {recipients: Recipient[]}): Send {
  return {
    apiVersion: 'mcsend/v1',
    kind: 'Send',
    name: 'test-send',
    definitionKey: 'test-def',
    revision: 1,
    attributes: {},
    file: 'sends/test.yaml',
    line: 1,
    column: 1,
    sources: [],
    ...overrides,
  }
}

/** Recipients c0..c(n-1) with addresses cN@example.com. */
export function manyRecipients(n: number, attributes?: (i: number) => Attributes): Recipient[] {
  return Array.from({length: n}, (_, i) => recipient(`c${i}`, `c${i}@example.com`, attributes?.(i), i + 2))
}

export {emptyState}

export function stateWith(records: MessageRecord[]): StateData {
  const s = emptyState()
  s.lineage = 'test-lineage'
  s.serial = 3
  for (const r of records) s.messages.set(r.messageKey, r)
  return s
}

/** The snapshot an apply of `send` would have stored (batch size 500 unless the send sets one), with `overrides`. */
export function snapshotOf(send: Send, overrides: Partial<SendSnapshot> = {}): SendSnapshot {
  const {name, definitionKey, revision, attributes, sources} = send
  return {name, definitionKey, revision, attributes, batchSize: send.batchSize ?? 500, sources, appliedAt: '2025-06-01T10:00:00.000Z', ...overrides}
}
