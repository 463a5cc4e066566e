import {randomBytes} from 'node:crypto'

import pg from 'pg'

import {redactPgUrl} from '../../src/state/pg-errors.js'

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
