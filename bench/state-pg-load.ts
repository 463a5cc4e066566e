/**
 * bench/state-pg-load: time PgStateStore.load() of a workspace with 1,000,000 records (chunked bulk reads), and its
 * heap growth. Needs PostgreSQL (MCSEND_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/test); works in a
 * throwaway schema it drops at the end. Exits 1 if the loaded records are not the ones written.
 *
 *   npx tsx bench/state-pg-load.ts [--rows N]
 */
import {isDeepStrictEqual} from 'node:util'

import {PgStateStore} from '../src/state/pg-store.js'
import {expectedBigRecord, fillBigWorkspace, isolatedSchemaUrl, uniqueName} from '../test/helpers/pg.js'

const rowsArg = process.argv.indexOf('--rows')
const ROWS = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 1_000_000

const schema = await isolatedSchemaUrl()
try {
  const workspace = uniqueName('big')
  await (await PgStateStore.connect({url: schema.url, workspace})).close()
  let started = performance.now()
  await fillBigWorkspace(schema.url, workspace, ROWS)
  console.log(`inserted ${ROWS.toLocaleString('en')} rows with generate_series in ${Math.round(performance.now() - started)} ms`)

  const store = await PgStateStore.connect({url: schema.url, workspace})
  try {
    const heapBefore = process.memoryUsage().heapUsed
    started = performance.now()
    const state = await store.load()
    const ms = performance.now() - started
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6
    console.log(`load(): ${state.messages.size.toLocaleString('en')} records in ${Math.round(ms)} ms, heap +${Math.round(heapMb)} MB`)
    const probe = Math.min(123_457, ROWS - 1)
    const right = state.messages.size === ROWS && isDeepStrictEqual(state.messages.get(`big-r1-${probe}`), expectedBigRecord(probe))
    if (!right) {
      console.error('load() returned other records than were written')
      process.exitCode = 1
    }
  } finally {
    await store.close()
  }
} finally {
  await schema.drop()
}
