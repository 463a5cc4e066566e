import type {ClientBase} from 'pg'

import {StateError} from '../errors.js'

/** Advisory-lock namespace (first key) of mcsend; the second key says what is locked. "mcs" + 1. */
export const PG_LOCK_NAMESPACE_MIGRATIONS = 0x6d637301
/** Namespace of the per-workspace run locks (second key: a hash of the workspace). "mcs" + 2. */
export const PG_LOCK_NAMESPACE_WORKSPACE = 0x6d637302

export interface PgMigration {
  version: number
  name: string
  sql: string
}

/**
 * The schema, as an ordered list of migrations. Never edit a released migration: add a new one.
 * Tables are prefixed `mcsend_` so the state can live in a database shared with other things.
 */
export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE mcsend_workspaces (
        workspace text PRIMARY KEY,
        lineage text NOT NULL,
        serial bigint NOT NULL DEFAULT 0,
        -- true when records changed since the last commit (a run in progress, or one that crashed)
        dirty boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE mcsend_messages (
        workspace text NOT NULL,
        message_key text NOT NULL,
        send text NOT NULL,
        revision integer NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'accepted', 'failed')),
        at timestamptz NOT NULL,
        request_id text,
        error_code integer,
        error_message text,
        to_hash text NOT NULL,
        attributes_hash text NOT NULL,
        contact_hash text NOT NULL,
        delivery jsonb,
        PRIMARY KEY (workspace, message_key)
      );
      CREATE TABLE mcsend_sends (
        workspace text NOT NULL,
        name text NOT NULL,
        snapshot jsonb NOT NULL,
        PRIMARY KEY (workspace, name)
      );
      CREATE TABLE mcsend_lock_holders (
        workspace text PRIMARY KEY,
        owner jsonb NOT NULL,
        backend_pid integer NOT NULL,
        locked_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 2,
    name: 'faster record writes',
    // Keys compare bytewise (COLLATE "C"): cheaper index maintenance than a linguistic collation, and key order
    // carries no meaning. Every workspace column changes together so that they still compare with one another.
    // Half-empty pages (fillfactor 50; new pages only) leave room for the outcome that follows each pending
    // record, so that update stays on its page (HOT) and adds no index entry. Rebuilds the indexes: a few
    // seconds per million records, once.
    sql: `
      ALTER TABLE mcsend_messages
        ALTER COLUMN workspace TYPE text COLLATE "C",
        ALTER COLUMN message_key TYPE text COLLATE "C",
        SET (fillfactor = 50);
      ALTER TABLE mcsend_workspaces ALTER COLUMN workspace TYPE text COLLATE "C";
      ALTER TABLE mcsend_sends ALTER COLUMN workspace TYPE text COLLATE "C";
      ALTER TABLE mcsend_lock_holders ALTER COLUMN workspace TYPE text COLLATE "C";
    `,
  },
  {
    version: 3,
    name: 'state metadata',
    // The Marketing Cloud the state belongs to and the fingerprint of its state key; NULL: unknown (a state
    // written before they were recorded). Adding nullable columns rewrites nothing.
    sql: `
      ALTER TABLE mcsend_workspaces
        ADD COLUMN target jsonb,
        ADD COLUMN key_fingerprint text;
    `,
  },
]

const PG_SCHEMA_VERSION = PG_MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0)

/** Runs fn between `begin` and COMMIT on client; rolls back (and rethrows) when fn or the commit fails. */
export async function inTransaction<T>(client: ClientBase, fn: () => Promise<T>, begin = 'BEGIN'): Promise<T> {
  await client.query(begin)
  try {
    const result = await fn()
    await client.query('COMMIT')
    return result
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  }
}

async function appliedVersions(client: ClientBase): Promise<number[]> {
  const exists = await client.query<{present: boolean}>(`SELECT to_regclass('mcsend_schema_migrations') IS NOT NULL AS present`)
  if (!exists.rows[0]?.present) return []
  const result = await client.query<{version: number}>('SELECT version FROM mcsend_schema_migrations ORDER BY version')
  return result.rows.map((r) => Number(r.version))
}

function refuseNewer(versions: number[], where: string): void {
  const newest = versions.at(-1) ?? 0
  if (newest > PG_SCHEMA_VERSION) {
    throw new StateError(
      `the PostgreSQL state at ${where} has schema version ${newest}, newer than this mcsend knows (${PG_SCHEMA_VERSION})`,
      'upgrade mcsend to the version the rest of your team or CI uses',
    )
  }
}

/**
 * Brings the schema up to date. Each pending migration runs in its own transaction that first takes a
 * transaction-scoped advisory lock, so two processes starting at once apply each migration exactly once.
 * Returns the versions applied by this call.
 */
export async function migratePgSchema(client: ClientBase, where: string, migrations: readonly PgMigration[] = PG_MIGRATIONS): Promise<number[]> {
  // Fast path without any lock: a schema that is already current needs one cheap read.
  const known = await appliedVersions(client)
  refuseNewer(known, where)
  if (migrations.every((m) => known.includes(m.version))) return []

  const applied: number[] = []
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    await inTransaction(client, async () => {
      await client.query('SELECT pg_advisory_xact_lock($1::int4, 0)', [PG_LOCK_NAMESPACE_MIGRATIONS])
      await client.query(`
        CREATE TABLE IF NOT EXISTS mcsend_schema_migrations (
          version integer PRIMARY KEY,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`)
      const done = await client.query('SELECT 1 FROM mcsend_schema_migrations WHERE version = $1', [migration.version])
      if (done.rowCount === 0) {
        await client.query(migration.sql)
        await client.query('INSERT INTO mcsend_schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name])
        applied.push(migration.version)
      }
    })
  }
  return applied
}
