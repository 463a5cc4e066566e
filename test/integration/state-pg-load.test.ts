import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {PgStateStore} from '../../src/state/pg-store.js'
import {expectedBigRecord, fillBigWorkspace, isolatedSchemaUrl, pgAvailable, uniqueName} from '../helpers/pg.js'

/**
 * load() reads the records in chunks of 50,000 (LOAD_CHUNK in src/state/pg-store.ts): 100,000 rows fill two chunks
 * and end exactly on a boundary, so the last FETCH returns nothing (a partial last chunk is what every smaller
 * state has). The million-row load and its timing are in bench/state-pg-load.ts.
 */
const ROWS = 100_000

describe.skipIf(!pgAvailable)('PostgreSQL state store: chunked loads', () => {
  let schema: Awaited<ReturnType<typeof isolatedSchemaUrl>>

  beforeAll(async () => {
    schema = await isolatedSchemaUrl()
  })

  afterAll(async () => {
    await schema?.drop()
  })

  it('loads all records across chunks, ending on a chunk boundary', async () => {
    const workspace = uniqueName('big')
    // The first connection creates the tables.
    const first = await PgStateStore.connect({url: schema.url, workspace})
    await first.close()
    await fillBigWorkspace(schema.url, workspace, ROWS)

    const store = await PgStateStore.connect({url: schema.url, workspace})
    try {
      const state = await store.load()
      expect(state.lineage).toBe('lineage-big')
      expect(state.serial).toBe(7)
      expect(state.messages.size).toBe(ROWS)
      for (const i of [1, 49_999, 50_001, 99_999]) expect(state.messages.get(`big-r1-${i}`)).toEqual(expectedBigRecord(i))
      expect(state.messages.get('big-r1-5000')).toMatchObject({status: 'failed', errorCode: 30_005, errorMessage: 'rejected'})
      expect(state.messages.get('big-r1-5000')).not.toHaveProperty('requestId')
    } finally {
      await store.close()
    }
  })
})
