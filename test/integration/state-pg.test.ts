import {describe, expect, it} from 'vitest'
import type pg from 'pg'

import {CliError, StateError, StateLockedError} from '../../src/errors.js'
import {PG_LOCK_NAMESPACE_WORKSPACE, PG_MIGRATIONS, migratePgSchema} from '../../src/state/pg-migrations.js'
import {guardStore} from '../../src/state/guard.js'
import {PgStateStore, workspaceLockKey} from '../../src/state/pg-store.js'
import type {LockOwner, MessageRecord, SendSnapshot} from '../../src/state/types.js'
import {PG_URL, adminClient, isolatedSchemaUrl, lockHolderPids, pgAvailable, pgStores, uniqueName} from '../helpers/pg.js'
import {testRecord} from '../helpers/records.js'


function record(i: number, overrides: Partial<MessageRecord> = {}): MessageRecord {
  return testRecord(i, {requestId: `req-${i}`, ...overrides})
}

function owner(operation: string, pid: number): LockOwner {
  return {operation, who: 'tester@build-7', pid, host: 'build-7', since: '2026-11-26T10:00:00.000Z'}
}

const snapshot: SendSnapshot = {
  name: 'release',
  definitionKey: 'release-notes',
  revision: 1,
  attributes: {ReleaseVersion: '4.2.0', Beta: false, Build: 42},
  batchSize: 500,
  sources: [{file: 'customers.csv', sha256: 'abc'}],
  appliedAt: '2026-11-26T10:00:00.000Z',
}

describe.skipIf(!pgAvailable)('PostgreSQL state store', () => {
  const stores = pgStores()
  const open = stores.open

  /** `body` against a schema of its own; then every store is closed and the schema dropped. */
  async function inIsolatedSchema(body: (schema: {url: string; schema: string}) => Promise<void>): Promise<void> {
    const schema = await isolatedSchemaUrl()
    try {
      await body(schema)
    } finally {
      await stores.closeAll()
      await schema.drop()
    }
  }

  /** `body` with an administrator's connection to `url`, ended afterwards. */
  async function asAdmin(url: string, body: (admin: pg.Client) => Promise<void>): Promise<void> {
    const admin = await adminClient(url)
    try {
      await body(admin)
    } finally {
      await admin.end()
    }
  }


  describe('migrations', () => {
    it('creates the schema once when several stores connect at the same time, and is idempotent', async () => {
      await inIsolatedSchema(async (schema) => {
        const ws = uniqueName('ws')
        const concurrent = await Promise.all([open(ws, schema.url), open(ws, schema.url), open(ws, schema.url)])
        expect(concurrent).toHaveLength(3)
        await asAdmin(schema.url, async (admin) => {
          const applied = await admin.query<{version: number}>('SELECT version FROM mcsend_schema_migrations ORDER BY version')
          expect(applied.rows.map((r) => r.version)).toEqual(PG_MIGRATIONS.map((m) => m.version))
          const tables = await admin.query<{name: string}>(
            `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
            [schema.schema],
          )
          expect(tables.rows.map((r) => r.name)).toEqual(['mcsend_lock_holders', 'mcsend_messages', 'mcsend_schema_migrations', 'mcsend_sends', 'mcsend_workspaces'])
          // Running again applies nothing.
          expect(await migratePgSchema(admin, 'test')).toEqual([])
          // A schema from a newer mcsend is refused rather than used.
          await admin.query(`INSERT INTO mcsend_schema_migrations (version, name) VALUES (999, 'from the future')`)
        })
        const error = await open(ws, schema.url).catch((e: unknown) => e)
        expect(error).toBeInstanceOf(StateError)
        expect((error as StateError).message).toMatch(/schema version 999, newer than this mcsend knows/)
      })
    })
  })

  describe('records', () => {
    it('loads an absent workspace as an empty state', async () => {
      const store = await open()
      const state = await store.load()
      expect(state).toEqual({formatVersion: 1, lineage: '', serial: 0, sends: {}, messages: new Map()})
    })

    it('round-trips records, optional fields and send snapshots, upserting by messageKey', async () => {
      const store = await open()
      const pending = [record(1, {status: 'pending', requestId: undefined}), record(2, {status: 'pending', requestId: undefined})]
      await store.append(pending)
      const failed = record(2, {status: 'failed', requestId: undefined, errorCode: 30_005, errorMessage: 'invalid "to" address'})
      const delivered = record(1, {delivery: {event: 'notSent', statusCode: 24, statusMessage: 'ListDetectiveExclusion', at: '2026-01-01T00:05:00.000Z', checkedAt: '2026-01-01T01:00:00.000Z'}})
      await store.append([failed, delivered])
      await store.putSend(snapshot)

      const other = await open(store.workspace)
      const state = await other.load()
      expect(state.messages.size).toBe(2)
      expect(state.messages.get(delivered.messageKey)).toEqual(delivered)
      expect(state.messages.get(failed.messageKey)).toEqual(failed)
      expect(Object.keys(state.messages.get(failed.messageKey) ?? {})).not.toContain('requestId')
      expect(state.sends).toEqual({release: snapshot})
    })

    it('keeps the last of duplicate keys within one append', async () => {
      const store = await open()
      await store.append([record(1, {status: 'pending'}), record(1, {status: 'accepted', requestId: 'second'})])
      const state = await store.load()
      expect(state.messages.get(record(1).messageKey)).toMatchObject({status: 'accepted', requestId: 'second'})
    })

    it('writes a large append as one transaction of bulk statements', async () => {
      const store = await open()
      const many = Array.from({length: 25_000}, (_, i) => record(i))
      await store.append(many)
      const state = await store.load()
      expect(state.messages.size).toBe(25_000)
      expect(state.messages.get(record(24_999).messageKey)).toEqual(record(24_999))
    })

    it('removes records and reports how many existed', async () => {
      const store = await open()
      await store.append([record(1), record(2), record(3)])
      expect(await store.remove([record(1).messageKey, record(3).messageKey, 'no-such-key', record(1).messageKey])).toBe(2)
      expect(await store.remove(['no-such-key'])).toBe(0)
      const state = await store.load()
      expect([...state.messages.keys()]).toEqual([record(2).messageKey])
    })

    it('keeps workspaces apart', async () => {
      const a = await open()
      const b = await open()
      await a.append([record(1)])
      await b.append([record(2)])
      expect([...(await a.load()).messages.keys()]).toEqual([record(1).messageKey])
      expect([...(await b.load()).messages.keys()]).toEqual([record(2).messageKey])
    })

    it('serialises concurrent calls in call order', async () => {
      const store = await open()
      await Promise.all(Array.from({length: 8}, (_, batch) => store.append([record(1, {requestId: `batch-${batch}`})])))
      expect((await store.load()).messages.get(record(1).messageKey)?.requestId).toBe('batch-7')
    })
  })

  describe('serial and lineage', () => {
    it('creates the lineage on the first write and bumps the serial once per commit that changed something', async () => {
      const store = await open()
      await store.commit()
      expect(await store.load()).toMatchObject({lineage: '', serial: 0})

      await store.append([record(1)])
      await store.append([record(2)])
      await store.commit()
      const first = await store.load()
      expect(first.lineage).toMatch(/^[0-9a-f-]{36}$/)
      expect(first.serial).toBe(1)

      await store.commit()
      expect((await store.load()).serial).toBe(1)

      await store.putSend(snapshot)
      await store.commit()
      expect(await store.load()).toMatchObject({lineage: first.lineage, serial: 2})

      expect(await store.remove(['nothing-here'])).toBe(0)
      await store.commit()
      expect((await store.load()).serial).toBe(2)
    })

    it('counts the writes of a run that died before commit as one change on the next load', async () => {
      const crashed = await open()
      await crashed.append([record(1)])
      await crashed.commit()
      await crashed.append([record(2)])
      await crashed.close()

      const next = await open(crashed.workspace)
      const state = await next.load()
      expect(state.serial).toBe(2)
      expect(state.messages.size).toBe(2)
      expect((await next.load()).serial).toBe(2)
      await next.commit()
      expect((await next.load()).serial).toBe(2)
    })
  })

  describe('metadata (target, keyFingerprint)', () => {
    const target = {kind: 'marketing-cloud' as const, authHost: 'mc123.auth.marketingcloudapis.com', accountId: '514000123'}

    it('is durable at once, read back by another session, and bumps the serial once per commit that changed it', async () => {
      const store = await open()
      const lock = await store.lock(owner('apply', 1))
      await store.append([record(1)])
      await store.commit()
      expect((await store.load()).target).toBeUndefined() // NULL: unknown
      await store.setMeta({target, keyFingerprint: 'sha256:Ab3_x'})
      // Committed before commit(): another session (a crash after this point) sees it.
      const other = await open(store.workspace)
      expect(await other.load()).toMatchObject({target, keyFingerprint: 'sha256:Ab3_x'})
      await store.commit()
      expect(await store.load()).toMatchObject({serial: 2, target, keyFingerprint: 'sha256:Ab3_x'})

      await store.setMeta({target: {...target}})
      await store.setMeta({keyFingerprint: 'sha256:Ab3_x'})
      await store.commit()
      expect((await store.load()).serial).toBe(2)

      await store.setMeta({keyFingerprint: 'fp-2'})
      await store.commit()
      expect(await store.load()).toMatchObject({serial: 3, target, keyFingerprint: 'fp-2'})
      await lock.release()
    })

    it('creates the workspace when metadata is its first write', async () => {
      const store = await open()
      await store.setMeta({target: {kind: 'sandbox'}})
      await store.commit()
      expect(await store.load()).toMatchObject({serial: 1, target: {kind: 'sandbox'}})
      expect((await store.load()).lineage).toMatch(/^[0-9a-f-]{36}$/)
    })

    it('refuses (through the store guard) a target or fingerprint holding an address, storing nothing', async () => {
      const store = guardStore(await open())
      await expect(store.setMeta({target: {kind: 'marketing-cloud', authHost: 'ann@example.com'}})).rejects.toThrow(/authHost/)
      await expect(store.setMeta({keyFingerprint: 'ann@example.com'})).rejects.toThrow(/keyFingerprint/)
      expect(await store.load()).toMatchObject({lineage: '', serial: 0})
    })

    it('adds its columns in migration 3 to a schema at version 2 and keeps existing workspaces (unknown metadata)', async () => {
      await inIsolatedSchema(async (schema) => {
        await asAdmin(schema.url, async (admin) => {
          await migratePgSchema(admin, 'test', PG_MIGRATIONS.filter((m) => m.version <= 2))
          await admin.query(`INSERT INTO mcsend_workspaces (workspace, lineage, serial) VALUES ('old', 'lin-old', 5)`)
        })
        const store = await open('old', schema.url)
        expect(await store.load()).toMatchObject({lineage: 'lin-old', serial: 5})
        expect((await store.load()).target).toBeUndefined()
        await store.setMeta({target})
        await store.commit()
        expect(await store.load()).toMatchObject({serial: 6, target})
      })
    })
  })

  describe('locking', () => {
    it('refuses a second locker, naming the holder, until the first releases', async () => {
      const a = await open()
      const b = await open(a.workspace)
      const lock = await a.lock(owner('apply', 4242))
      const error = await b.lock(owner('plan', 1)).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(StateLockedError)
      expect((error as StateLockedError).exitCode).toBe(5)
      expect((error as StateLockedError).message).toContain('locked by apply (pid 4242 on host build-7, tester@build-7) since 2026-11-26T10:00:00Z')
      expect((error as StateLockedError).hint).toMatch(/state unlock/)
      expect(await b.lockInfo()).toEqual({owner: owner('apply', 4242), stale: false})

      await lock.release()
      await lock.release()
      expect(await b.lockInfo()).toBeUndefined()
      const again = await b.lock(owner('plan', 1))
      await again.release()
    })

    it('loses the lock with its connection when the holder dies: the fence stops it, what it learned is kept, it commits nothing', async () => {
      const a = await open()
      const b = await open(a.workspace)
      await a.lock(owner('apply', 1))
      await a.append([record(1)])
      const admin = await adminClient()
      try {
        const pids = await lockHolderPids(admin, workspaceLockKey(a.workspace), PG_LOCK_NAMESPACE_WORKSPACE)
        expect(pids).toHaveLength(1)
        await admin.query('SELECT pg_terminate_backend($1)', [pids[0]])
      } finally {
        await admin.end()
      }
      await expect.poll(async () => (await b.lockInfo())?.stale, {timeout: 5000}).toBe(true)
      const lockB = await b.lock(owner('apply', 2))
      expect((await b.lockInfo())?.owner.pid).toBe(2)

      const fence = await a.checkLock().catch((e: unknown) => e)
      expect(fence).toBeInstanceOf(StateError)
      expect((fence as StateError).message).toMatch(/no longer holds the lock/)
      // An outcome it learned before it noticed is a fact about Marketing Cloud: recorded, never over a newer record.
      await b.append([record(3, {status: 'accepted', at: '2026-11-26T12:00:00.000Z'})])
      await a.append([record(2, {status: 'accepted'}), record(3, {status: 'failed', at: '2026-11-26T11:00:00.000Z'})])
      const seen = (await b.load()).messages
      expect([...seen.keys()].sort()).toEqual([record(1), record(2), record(3)].map((r) => r.messageKey).sort())
      expect(seen.get(record(3).messageKey)?.status).toBe('accepted')
      const commit = await a.commit().catch((e: unknown) => e)
      expect(commit).toBeInstanceOf(StateError)
      expect((commit as StateError).message).toMatch(/lost the lock/)
      await lockB.release()
    })

    it('reports a holder row without a live session as stale and unlock clears it', async () => {
      const store = await open()
      const admin = await adminClient()
      try {
        await admin.query(`INSERT INTO mcsend_lock_holders (workspace, owner, backend_pid) VALUES ($1, $2, 2147483000)`, [
          store.workspace,
          JSON.stringify(owner('apply', 77)),
        ])
      } finally {
        await admin.end()
      }
      expect(await store.lockInfo()).toEqual({owner: owner('apply', 77), stale: true})
      expect(await store.unlock(false)).toEqual(owner('apply', 77))
      expect(await store.lockInfo()).toBeUndefined()
      // A stale row also never blocks a new locker.
      const lock = await store.lock(owner('apply', 78))
      await lock.release()
    })

    it('describes a session that holds the lock without a holder row', async () => {
      const store = await open()
      const admin = await adminClient()
      try {
        await admin.query('SELECT pg_advisory_lock($1::int4, $2::int4)', [PG_LOCK_NAMESPACE_WORKSPACE, workspaceLockKey(store.workspace)])
        const adminPid = (await admin.query<{pid: number}>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid
        expect(await store.lockInfo()).toMatchObject({owner: {operation: 'unknown', who: 'postgres', pid: adminPid}, stale: false})
        const error = await store.lock(owner('apply', 1)).catch((e: unknown) => e)
        expect(error).toBeInstanceOf(StateLockedError)
        expect((error as StateLockedError).message).toContain(`locked by unknown (pid ${adminPid} on host`)
      } finally {
        await admin.end()
      }
      const lock = await store.lock(owner('apply', 2))
      await lock.release()
    })

    it('refuses to unlock a live lock without force and ends the holder session with force', async () => {
      const a = await open()
      const b = await open(a.workspace)
      await a.lock(owner('apply', 11))
      const refused = await b.unlock(false).catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(StateLockedError)
      expect((refused as StateLockedError).message).toContain('live run: apply (pid 11')
      expect((refused as StateLockedError).hint).toMatch(/--force/)

      expect(await b.unlock(true)).toEqual(owner('apply', 11))
      expect(await b.lockInfo()).toBeUndefined()
      const lock = await b.lock(owner('apply', 12))
      await lock.release()
    })
  })

  describe('failures', () => {
    it('turns a connection terminated mid-run into a clear StateError and keeps the earlier appends', async () => {
      const store = await open()
      await store.append([record(1), record(2)])
      const admin = await adminClient()
      try {
        await admin.query('SELECT pg_terminate_backend($1)', [store.sessionPid])
      } finally {
        await admin.end()
      }
      const error = await store.append([record(3)]).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(StateError)
      expect((error as StateError).exitCode).toBe(1)
      expect((error as StateError).message).toMatch(/lost the connection to the PostgreSQL state at 127\.0\.0\.1:5432\/test while recording 1 record/)
      expect((error as StateError).hint).toMatch(/recorded before this point is kept/)

      const next = await open(store.workspace)
      expect([...(await next.load()).messages.keys()].sort()).toEqual([record(1).messageKey, record(2).messageKey])
    })

    it('names the server, never the password, when the connection is refused', async () => {
      const error = await PgStateStore.connect({url: 'postgres://mcsend:hunter2@127.0.0.1:1/teamstate', workspace: 'default'}).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(StateError)
      const {message, hint} = error as StateError
      expect(message).toBe('cannot connect to the PostgreSQL state at 127.0.0.1:1/teamstate: connection refused')
      expect(hint).toMatch(/server is running/)
      expect(`${message} ${hint}`).not.toContain('hunter2')
    })

    it('says when the database does not exist or the user is refused', async () => {
      const url = new URL(PG_URL)
      url.pathname = `/${uniqueName('nodb')}`
      const missing = await PgStateStore.connect({url: url.toString(), workspace: 'default'}).catch((e: unknown) => e)
      expect(missing).toBeInstanceOf(StateError)
      expect((missing as StateError).message).toMatch(/the database in the state URL does not exist on 127\.0\.0\.1:5432\//)

      const role = new URL(PG_URL)
      role.username = uniqueName('nobody')
      role.password = 's3cret-pw'
      const refused = await PgStateStore.connect({url: role.toString(), workspace: 'default'}).catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(StateError)
      expect((refused as StateError).message).toMatch(/PostgreSQL at 127\.0\.0\.1:5432\/test (refused|refused the password)/)
      expect((refused as StateError).message).not.toContain('s3cret-pw')
    })

    it('rejects an unusable workspace name as invalid input', async () => {
      const error = await PgStateStore.connect({url: PG_URL, workspace: ''}).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(CliError)
      expect((error as CliError).exitCode).toBe(3)
    })

    it('shows the URL without its password in location', async () => {
      const url = new URL(PG_URL)
      url.password = 'topsecret'
      const store = await open(undefined, url.toString())
      expect(store.location).not.toContain('topsecret')
      expect(store.location).toContain(`(workspace ${store.workspace})`)
    })
  })
})
