import {describe, expect, it} from 'vitest'

import {StateError} from '../../src/errors.js'
import {PG_MIGRATIONS, migratePgSchema} from '../../src/state/pg-migrations.js'
import type {MessageRecord, MessageStatus} from '../../src/state/types.js'
import {adminClient, isolatedSchemaUrl, pgAvailable, pgStores, uniqueName} from '../helpers/pg.js'
import {testRecord} from '../helpers/records.js'

function record(i: number, overrides: Partial<MessageRecord> = {}): MessageRecord {
  return testRecord(i, {status: 'pending', ...overrides})
}

describe.skipIf(!pgAvailable)('PostgreSQL state store writes', () => {
  const stores = pgStores()
  const open = stores.open

  /** message_key -> id of the transaction that wrote the row's current version. */
  async function writers(workspace: string): Promise<Map<string, string>> {
    const admin = await adminClient()
    try {
      const rows = await admin.query<{key: string; xmin: string}>('SELECT message_key AS key, xmin::text AS xmin FROM mcsend_messages WHERE workspace = $1', [workspace])
      return new Map(rows.rows.map((r) => [r.key, r.xmin]))
    } finally {
      await admin.end()
    }
  }


  it('writes appends that queue up together in one transaction, later calls winning', async () => {
    const store = await open()
    await store.append([record(9)])
    const before = await writers(store.workspace)

    // Called in one tick: the connection is busy with the first, the others queue and are written together.
    const calls = [
      store.append([record(1), record(2)]),
      store.append([record(3)]),
      store.append([record(1, {status: 'accepted', requestId: 'req-c'})]),
      store.append([record(2, {status: 'failed', errorCode: 30_005, errorMessage: 'rejected'}), record(4)]),
    ]
    await Promise.all(calls)

    const after = await writers(store.workspace)
    const txids = new Set([1, 2, 3, 4].map((i) => after.get(record(i).messageKey)))
    expect(txids.size).toBe(1)
    expect(txids.has(before.get(record(9).messageKey))).toBe(false)
    const state = await (await open(store.workspace)).load()
    expect(state.messages.get(record(1).messageKey)).toEqual(record(1, {status: 'accepted', requestId: 'req-c'}))
    expect(state.messages.get(record(2).messageKey)).toEqual(record(2, {status: 'failed', errorCode: 30_005, errorMessage: 'rejected'}))
    expect(state.messages.size).toBe(5)
  })

  it('stores any text unchanged (quotes, backslashes, braces, commas, NULL, empty, non-ASCII)', async () => {
    const store = await open()
    const odd = [
      record(1, {messageKey: 'key, with "quotes" and {braces}', errorMessage: String.raw`back\slash \"escaped\" \\ end\\`}),
      record(2, {messageKey: 'NULL', requestId: 'NULL', errorMessage: ''}),
      record(3, {send: 'rélease ✉ 送信', toHash: ' leading and trailing spaces ', status: 'accepted', requestId: 'r'}),
      record(4, {status: 'failed', errorCode: 0, delivery: {event: 'notSent', statusCode: 24, statusMessage: 'say "no" \\ {x}', checkedAt: '2026-01-01T01:00:00.000Z'}}),
    ]
    await store.append(odd)
    const state = await (await open(store.workspace)).load()
    expect(state.messages.size).toBe(odd.length)
    for (const r of odd) expect(state.messages.get(r.messageKey)).toEqual(r)
  })

  it('stores records written in groups (shared send, time, answer; keys after SEND.rREV.) as they were given', async () => {
    const store = await open()
    const at = '2026-01-01T00:00:05.000Z'
    const batch = [
      // The key prefix of their group, sent once: what follows it may be any text, even nothing.
      record(1, {messageKey: 'release.r1.abc', at}),
      record(2, {messageKey: 'release.r1.', at}),
      record(3, {messageKey: 'release.r1.x, "y" {z} \\ NULL', at}),
      // Starts like another revision's prefix, or not like any: kept whole.
      record(4, {messageKey: 'release.r12.abc', at}),
      record(5, {messageKey: 'chosen-key', at}),
      // Other groups in the same call: another send, status, answer and error (each its own text).
      record(6, {messageKey: 'other.r3.k', send: 'other', revision: 3, at}),
      record(7, {messageKey: 'release.r1.k7', status: 'accepted', requestId: 'req "1"', at}),
      record(8, {messageKey: 'release.r1.k8', status: 'failed', requestId: 'req "1"', errorCode: 30_005, errorMessage: 'bad, "quoted" {x}', at}),
      record(9, {messageKey: 'release.r1.k9', status: 'failed', requestId: 'req "1"', errorCode: 30_005, errorMessage: '', at}),
      record(10, {messageKey: 'release.r1.k10', status: 'failed', requestId: 'req "1"', errorCode: 30_005, errorMessage: 'NULL', at}),
      record(11, {messageKey: 'release.r1.k11', at}),
      // Non-ASCII text (multi-byte UTF-8, a surrogate pair) in the key after its prefix and in the hashes.
      record(12, {messageKey: 'release.r1.送信 ✉ 😀', toHash: 'é', attributesHash: '😀😀', contactHash: '', at}),
    ]
    // Two calls in one tick: written together, in one statement.
    await Promise.all([store.append(batch.slice(0, 6)), store.append(batch.slice(6))])
    const state = await (await open(store.workspace)).load()
    expect(state.messages.size).toBe(batch.length)
    for (const r of batch) expect(state.messages.get(r.messageKey)).toEqual(r)
  })

  it('fails only the call whose records the database refuses, and keeps the others of its group', async () => {
    const store = await open()
    await store.append([record(9)])
    const good = store.append([record(1)])
    const bad = store.append([record(2, {status: 'lost' as MessageStatus})])
    const alsoGood = store.append([record(3)])
    const results = await Promise.allSettled([good, bad, alsoGood])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    const error = (results[1] as PromiseRejectedResult).reason as unknown
    expect(error).toBeInstanceOf(StateError)
    expect((error as StateError).message).toMatch(/while recording 1 record/)
    const state = await store.load()
    expect([...state.messages.keys()].sort()).toEqual([record(1).messageKey, record(3).messageKey, record(9).messageKey])
  })

  it('rejects every call of a group with a StateError when the connection is lost', async () => {
    const store = await open()
    await store.append([record(1)])
    const admin = await adminClient()
    try {
      await admin.query('SELECT pg_terminate_backend($1)', [store.sessionPid])
    } finally {
      await admin.end()
    }
    const results = await Promise.allSettled([store.append([record(2)]), store.append([record(3)]), store.append([record(4)])])
    for (const result of results) {
      expect(result.status).toBe('rejected')
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(StateError)
      expect(((result as PromiseRejectedResult).reason as StateError).message).toMatch(/lost the connection to the PostgreSQL state/)
    }
    const state = await (await open(store.workspace)).load()
    expect([...state.messages.keys()]).toEqual([record(1).messageKey])
  })

  it('upgrades a version 1 schema in place, keeping its records', async () => {
    const schema = await isolatedSchemaUrl()
    try {
      const ws = uniqueName('ws')
      const admin = await adminClient(schema.url)
      try {
        expect(await migratePgSchema(admin, 'test', PG_MIGRATIONS.slice(0, 1))).toEqual([1])
        await admin.query(`INSERT INTO mcsend_workspaces (workspace, lineage, serial) VALUES ($1, 'lineage-v1', 3)`, [ws])
        await admin.query(
          `INSERT INTO mcsend_messages (workspace, message_key, send, revision, status, at, to_hash, attributes_hash, contact_hash)
           VALUES ($1, 'release-r1-1', 'release', 1, 'accepted', '2026-01-01T00:00:01Z', 'to-1', 'attr-1', 'contact-1')`,
          [ws],
        )
      } finally {
        await admin.end()
      }

      // Two processes starting at once: the upgrade runs exactly once.
      const [store] = await Promise.all([open(ws, schema.url), open(ws, schema.url)])
      await store!.append([record(2, {status: 'accepted', requestId: 'req-2'})])
      const state = await store!.load()
      expect(state.lineage).toBe('lineage-v1')
      expect(state.messages.get('release-r1-1')).toEqual(record(1, {status: 'accepted'}))
      expect(state.messages.get('release-r1-2')).toEqual(record(2, {status: 'accepted', requestId: 'req-2'}))

      const check = await adminClient(schema.url)
      try {
        const versions = await check.query<{version: number}>('SELECT version FROM mcsend_schema_migrations ORDER BY version')
        expect(versions.rows.map((r) => r.version)).toEqual(PG_MIGRATIONS.map((m) => m.version))
        const collations = await check.query<{table: string; column: string; collation: string | null}>(
          `SELECT table_name AS table, column_name AS column, collation_name AS collation FROM information_schema.columns
           WHERE table_schema = $1 AND column_name IN ('workspace', 'message_key') ORDER BY 1, 2`,
          [schema.schema],
        )
        expect(collations.rows.map((r) => r.collation)).toEqual(collations.rows.map(() => 'C'))
        expect(collations.rows).toHaveLength(5)
        const options = await check.query<{options: string[] | null}>(
          `SELECT reloptions AS options FROM pg_class WHERE oid = (quote_ident($1) || '.mcsend_messages')::regclass`,
          [schema.schema],
        )
        expect(options.rows[0]?.options).toContain('fillfactor=50')
      } finally {
        await check.end()
      }
    } finally {
      await stores.closeAll()
      await schema.drop()
    }
  })
})
