import {randomBytes} from 'node:crypto'

import pg from 'pg'
import {afterAll, afterEach} from 'vitest'

import {redactPgUrl} from '../../src/state/pg-errors.js'
import {PgStateStore} from '../../src/state/pg-store.js'

/** The test server: MCSEND_TEST_PG_URL, or the local trust-auth default. */
export const PG_URL = process.env.MCSEND_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test'

async function probe(): Promise<string | undefined> {
  const client = new pg.Client({connectionString: PG_URL, connectionTimeoutMillis: 3000})
  client.on('error', () => undefined)
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (error) {
    return (error as Error).message
  } finally {
    await client.end().catch(() => undefined)
  }
}

const unreachable = await probe()
if (unreachable !== undefined && process.env.MCSEND_REQUIRE_PG === '1') {
  // .ci/run sets this: in CI the PostgreSQL tests must run, never skip.
  throw new Error(`MCSEND_REQUIRE_PG=1 but PostgreSQL is unreachable at ${redactPgUrl(PG_URL)}: ${unreachable}`)
}
if (unreachable !== undefined) {
  process.stderr.write(`skipped: no PostgreSQL (${redactPgUrl(PG_URL)}: ${unreachable})\n`)
}

/**
 * Whether the test server answered (probed once per test file, when this module loads). Suites use
 * `describe.skipIf(!pgAvailable)(...)`: a missing server is reported as skipped (the reason is on stderr), never failed.
 */
export const pgAvailable = unreachable === undefined

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`
}

/** A plain client for test set-up and inspection (not the code under test). */
export async function adminClient(url = PG_URL): Promise<pg.Client> {
  const client = new pg.Client({connectionString: url})
  client.on('error', () => undefined)
  await client.connect()
  return client
}

/** Deletes everything mcsend stored for the workspace (tables may not exist yet). */
export async function dropWorkspace(workspace: string, url = PG_URL): Promise<void> {
  const client = await adminClient(url)
  try {
    for (const table of ['mcsend_messages', 'mcsend_sends', 'mcsend_lock_holders', 'mcsend_workspaces']) {
      await client.query(`DO $$ BEGIN IF to_regclass('${table}') IS NOT NULL THEN DELETE FROM ${table} WHERE workspace = '${workspace.replaceAll("'", "''")}'; END IF; END $$`)
    }
  } finally {
    await client.end()
  }
}

/** A URL whose connections use their own fresh schema (search_path), for migration tests; returns a dropper. */
export async function isolatedSchemaUrl(): Promise<{url: string; schema: string; drop: () => Promise<void>}> {
  const schema = uniqueName('mcsend_t')
  const admin = await adminClient()
  await admin.query(`CREATE SCHEMA ${schema}`)
  await admin.end()
  const url = new URL(PG_URL)
  url.searchParams.set('options', `-c search_path=${schema}`)
  return {
    url: url.toString(),
    schema,
    drop: async () => {
      const client = await adminClient()
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await client.end()
    },
  }
}

/** Backend pids of the sessions that hold the advisory lock (namespace, lockKey), e.g. a workspace's run lock. */
export async function lockHolderPids(client: pg.Client, lockKey: number, namespace: number): Promise<number[]> {
  const result = await client.query<{pid: number}>(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid::bigint = $1 AND objid::bigint = $2`,
    [namespace >>> 0, lockKey >>> 0],
  )
  return result.rows.map((r) => r.pid)
}

/**
 * Fills `workspace` (lineage 'lineage-big', serial 7) in a fresh schema with `rows` generated records, fast:
 * the table is made UNLOGGED (a throwaway schema needs no crash safety). Record i has key `big-r1-<i>`; every
 * 1000th is failed (code 30005), the others accepted. Like apply's, they come in batches of 500 sharing a time and
 * a request id (`req-<i / 500>`). See expectedBigRecord.
 */
export async function fillBigWorkspace(url: string, workspace: string, rows: number): Promise<void> {
  const admin = await adminClient(url)
  try {
    await admin.query('ALTER TABLE mcsend_messages SET UNLOGGED')
    await admin.query('SET synchronous_commit = off')
    await admin.query(`INSERT INTO mcsend_workspaces (workspace, lineage, serial) VALUES ($1, 'lineage-big', 7)`, [workspace])
    await admin.query(
      `INSERT INTO mcsend_messages (workspace, message_key, send, revision, status, at, request_id, error_code, error_message, to_hash, attributes_hash, contact_hash)
       SELECT $1, 'big-r1-' || i, 'big', 1,
              CASE WHEN i % 1000 = 0 THEN 'failed' ELSE 'accepted' END,
              timestamptz '2026-01-01T00:00:00Z' + (i / 500) * interval '1 second',
              CASE WHEN i % 1000 = 0 THEN NULL ELSE 'req-' || (i / 500) END,
              CASE WHEN i % 1000 = 0 THEN 30005 END,
              CASE WHEN i % 1000 = 0 THEN 'rejected' END,
              'to-' || i, 'attr-' || i, 'contact-' || i
       FROM generate_series(1, $2::int) AS i`,
      [workspace, rows],
    )
    await admin.query('ANALYZE mcsend_messages')
  } finally {
    await admin.end()
  }
}

/** Record i as fillBigWorkspace wrote it (i not a multiple of 1000: an accepted record). */
export function expectedBigRecord(i: number): Record<string, unknown> {
  return {
    messageKey: `big-r1-${i}`,
    send: 'big',
    revision: 1,
    status: 'accepted',
    at: new Date(Date.UTC(2026, 0, 1) + Math.floor(i / 500) * 1000).toISOString(),
    requestId: `req-${Math.floor(i / 500)}`,
    toHash: `to-${i}`,
    attributesHash: `attr-${i}`,
    contactHash: `contact-${i}`,
  }
}

/**
 * The PgStateStores of one suite (call it inside the describe): `open` connects one to a workspace (a fresh one
 * unless named); each store is closed after its test and every workspace dropped after the suite. `closeAll`
 * closes them sooner, e.g. before an isolated schema is dropped.
 */
export function pgStores(): {open(workspace?: string, url?: string): Promise<PgStateStore>; closeAll(): Promise<void>} {
  const stores: PgStateStore[] = []
  const workspaces: string[] = []
  const closeAll = async () => {
    for (const store of stores.splice(0)) await store.close()
  }
  afterEach(closeAll)
  afterAll(async () => {
    for (const ws of workspaces) await dropWorkspace(ws)
  })
  return {
    closeAll,
    async open(workspace, url = PG_URL) {
      const ws = workspace ?? uniqueName('ws')
      if (!workspaces.includes(ws)) workspaces.push(ws)
      const store = await PgStateStore.connect({url, workspace: ws})
      stores.push(store)
      return store
    },
  }
}
