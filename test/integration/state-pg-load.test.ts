import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {PgStateStore} from '../../src/state/pg-store.js'
import {adminClient, isolatedSchemaUrl, pgAvailable, uniqueName} from '../helpers/pg.js'

/** 1,000,000 by default; MCSEND_TEST_PG_ROWS lowers it on a slow machine. */
const ROWS = Number(process.env.MCSEND_TEST_PG_ROWS || 1_000_000)

describe.skipIf(!pgAvailable)('PostgreSQL state store at scale', () => {
  let schema: Awaited<ReturnType<typeof isolatedSchemaUrl>>
  const workspace = uniqueName('big')

  beforeAll(async () => {
    schema = await isolatedSchemaUrl()
    const store = await PgStateStore.connect({url: schema.url, workspace})
    await store.close()
    const admin = await adminClient(schema.url)
    try {
      // Test set-up only: this throwaway schema needs no crash safety, so skip the WAL to fill it faster.
      await admin.query('ALTER TABLE mcsend_messages SET UNLOGGED')
      await admin.query('SET synchronous_commit = off')
      const started = performance.now()
      await admin.query(`INSERT INTO mcsend_workspaces (workspace, lineage, serial) VALUES ($1, 'lineage-big', 7)`, [workspace])
      await admin.query(
        `INSERT INTO mcsend_messages (workspace, message_key, send, revision, status, at, request_id, error_code, error_message, to_hash, attributes_hash, contact_hash)
         SELECT $1, 'big-r1-' || i, 'big', 1,
                CASE WHEN i % 1000 = 0 THEN 'failed' ELSE 'accepted' END,
                timestamptz '2026-01-01T00:00:00Z' + i * interval '1 millisecond',
                CASE WHEN i % 1000 = 0 THEN NULL ELSE 'req-' || (i / 2000) END,
                CASE WHEN i % 1000 = 0 THEN 30005 END,
                CASE WHEN i % 1000 = 0 THEN 'rejected' END,
                'to-' || i, 'attr-' || i, 'contact-' || i
         FROM generate_series(1, $2::int) AS i`,
        [workspace, ROWS],
      )
      await admin.query('ANALYZE mcsend_messages')
      process.stderr.write(`state-pg: inserted ${ROWS.toLocaleString('en')} rows with generate_series in ${Math.round(performance.now() - started)} ms\n`)
    } finally {
      await admin.end()
    }
  }, 120_000)

  afterAll(async () => {
    await schema?.drop()
  })

  it(`loads ${ROWS.toLocaleString('en')} records in chunked bulk reads`, async () => {
    const store = await PgStateStore.connect({url: schema.url, workspace})
    try {
      const heapBefore = process.memoryUsage().heapUsed
      const started = performance.now()
      const state = await store.load()
      const ms = performance.now() - started
      const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6
      process.stderr.write(`state-pg: load of ${state.messages.size.toLocaleString('en')} records took ${Math.round(ms)} ms (heap +${Math.round(heapMb)} MB)\n`)

      expect(state.lineage).toBe('lineage-big')
      expect(state.serial).toBe(7)
      expect(state.messages.size).toBe(ROWS)
      expect(state.messages.get('big-r1-123457')).toEqual({
        messageKey: 'big-r1-123457',
        send: 'big',
        revision: 1,
        status: 'accepted',
        at: new Date(Date.UTC(2026, 0, 1) + 123_457).toISOString(),
        requestId: 'req-61',
        toHash: 'to-123457',
        attributesHash: 'attr-123457',
        contactHash: 'contact-123457',
      })
      expect(state.messages.get('big-r1-5000')).toMatchObject({status: 'failed', errorCode: 30_005, errorMessage: 'rejected'})
      expect(state.messages.get('big-r1-5000')).not.toHaveProperty('requestId')
      // Row-by-row reading would take minutes; chunked bulk reads take seconds.
      expect(ms).toBeLessThan(60_000)
    } finally {
      await store.close()
    }
  }, 120_000)
})
