// Fixtures for the file state store's tests (memfs, records with well-formed hashes, send snapshots).

import {Volume, createFsFromVolume} from 'memfs'

import {sha256Base64url} from '../../src/keys/hash.js'
import type {StateFs} from '../../src/state/file-io.js'
import type {MessageRecord, MessageStatus, SendSnapshot} from '../../src/state/types.js'

/** A short base64url digest, as keys/hash.ts produces for the state. */
function fakeHash(value: string): string {
  return sha256Base64url(value, 16)
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
