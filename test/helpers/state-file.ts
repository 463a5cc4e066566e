// Fixtures for the file state store's tests (memfs, records with well-formed hashes, send snapshots).

import {Volume, createFsFromVolume} from 'memfs'

import {sha256Base64url} from '../../src/keys/hash.js'
import type {StateFs} from '../../src/state/file-io.js'
import {recordJson} from '../../src/state/serialize.js'
import type {MessageRecord, MessageStatus, SendSnapshot} from '../../src/state/types.js'

/** A short base64url digest, as keys/hash.ts produces for the state (11 characters). */
function fakeHash(value: string): string {
  return sha256Base64url(value, 9).slice(0, 11)
}

export function record(contact: string, status: MessageStatus = 'pending', extra: Partial<MessageRecord> = {}): MessageRecord {
  return {
    messageKey: `notes.r1.${fakeHash(`key ${contact}`)}`,
    send: 'notes',
    revision: 1,
    status,
    at: '2026-11-26T10:00:00.000Z',
    toHash: fakeHash(`to ${contact}@example.com`),
    attributesHash: fakeHash(`attrs ${contact}`),
    contactHash: fakeHash(`contact ${contact}`),
    ...extra,
  }
}

export function records(count: number, status: MessageStatus = 'pending', prefix = 'c'): MessageRecord[] {
  return Array.from({length: count}, (_, i) => record(`${prefix}${i}`, status))
}

export function sendSnapshot(name = 'notes', extra: Partial<SendSnapshot> = {}): SendSnapshot {
  return {
    name,
    definitionKey: 'release-notes',
    revision: 1,
    attributes: {ReleaseVersion: '4.2.0', Beta: false},
    batchSize: 2000,
    sources: [{file: 'customers.csv', sha256: fakeHash('csv')}],
    appliedAt: '2026-11-26T10:00:00.000Z',
    ...extra,
  }
}

export function memVolume(files: Record<string, string> = {}) {
  const volume = Volume.fromJSON(files)
  const fs = createFsFromVolume(volume).promises as unknown as StateFs
  return {volume, fs}
}

/** A fixed clock, so snapshots are reproducible. */
export const fixedClock = () => new Date('2026-11-26T12:00:00.000Z')

/** A state file as mcsend wrote it before format 2: the header, then one line per record keyed by messageKey. */
export function formatOneState(messages: MessageRecord[], head: {lineage: string; serial: number; toolVersion?: string; updatedAt: string; sends: Record<string, SendSnapshot>}): string {
  const lines = [...messages].sort((a, b) => (a.messageKey < b.messageKey ? -1 : 1)).map((m) => `    ${JSON.stringify(m.messageKey)}: ${recordJson(m, false)}`)
  const header = JSON.stringify({formatVersion: 1, ...head}, null, 2).slice(0, -2)
  return `${header},\n  "messages": {\n${lines.join(',\n')}\n  }\n}\n`
}

/**
 * The records of a state file's JSON by messageKey, in either format: format 1's `messages`, or format 2's
 * `batches` (a compact entry's key is `SEND.rREVISION.` + what follows its 33 characters of hashes).
 */
export function stateFileMessages(doc: unknown): Record<string, {status: string; send: string; revision: number}> {
  const d = doc as {messages?: Record<string, {status: string; send: string; revision: number}>; batches?: {send: string; revision: number; status: string; keys: (string | {m?: string; messageKey?: string})[]}[]}
  if (d.messages !== undefined) return d.messages
  const out: Record<string, {status: string; send: string; revision: number}> = {}
  for (const group of d.batches ?? []) {
    for (const entry of group.keys) {
      const compact = typeof entry === 'string' ? entry : entry.m
      const key = compact === undefined ? (entry as {messageKey: string}).messageKey : `${group.send}.r${group.revision}.${compact.slice(33)}`
      out[key] = {status: group.status, send: group.send, revision: group.revision}
    }
  }
  return out
}
