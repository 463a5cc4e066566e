/**
 * bench/state-pg-load: PgStateStore.load() of a workspace with 1,000,000 records (chunked bulk reads), each load in
 * its own process (bench/pg-load-child.mjs, the built store in dist/): its wall and CPU time and the heap the loaded
 * state holds. With --baseline DIR, another built checkout loads the same workspace in the same runs, alternating
 * which goes first, so a change is measured side by side with what it replaces. Needs PostgreSQL
 * (MCSEND_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/test); works in a throwaway schema it drops at the
 * end. Exits 1 if the loaded records are not the ones written.
 *
 *   npm run build && npx tsx bench/state-pg-load.ts [--rows N] [--runs N] [--baseline DIR]
 */
import os from 'node:os'
import path from 'node:path'
import {isDeepStrictEqual} from 'node:util'

import {PgStateStore} from '../src/state/pg-store.js'
import {expectedBigRecord, fillBigWorkspace, isolatedSchemaUrl, uniqueName} from '../test/helpers/pg.js'
import {arg, fmt, measureNode, median, ROOT} from './lib.js'

const ROWS = Number(arg('--rows') ?? 1_000_000)
const RUNS = Number(arg('--runs') ?? 3)
const BASELINE = arg('--baseline')
const CHILD = path.join(ROOT, 'bench', 'pg-load-child.mjs')

interface Load {
  ms: number
  cpuMs: number
  heldMb: number
  size: number
  record?: unknown
}

const builds: {label: string; root: string}[] = [{label: 'this checkout', root: ROOT}]
if (BASELINE !== undefined) builds.push({label: 'baseline', root: path.resolve(BASELINE)})

const schema = await isolatedSchemaUrl()
try {
  const workspace = uniqueName('big')
  await (await PgStateStore.connect({url: schema.url, workspace})).close()
  const started = performance.now()
  await fillBigWorkspace(schema.url, workspace, ROWS)
  console.log(`bench/state-pg-load: ${fmt(ROWS)} records inserted in ${fmt(performance.now() - started)} ms; medians of ${RUNS} runs, load ${fmt(os.loadavg()[0]!, 2)} at start`)

  const probe = Math.min(123_457, ROWS - 1)
  const results = new Map<string, {load: Load; rssMb: number}[]>(builds.map((b) => [b.label, []]))
  for (let run = 0; run < RUNS; run++) {
    const order = run % 2 === 0 ? builds : [...builds].reverse()
    for (const build of order) {
      const m = await measureNode(['--expose-gc', CHILD, build.root, schema.url, workspace, `big-r1-${probe}`], {captureStdout: true})
      if (m.code !== 0) throw new Error(`the load (${build.label}) exited ${m.code}: ${m.stderr.slice(-2000)}`)
      const load = JSON.parse(m.stdout) as Load
      if (load.size !== ROWS || !isDeepStrictEqual(load.record, expectedBigRecord(probe))) {
        console.error(`${build.label}: load() returned other records than were written`)
        process.exitCode = 1
      }
      results.get(build.label)!.push({load, rssMb: m.maxRssMb})
    }
  }
  console.log('| build | load() wall | load() CPU | heap held by the state | per record | peak RSS |')
  console.log('|---|---|---|---|---|---|')
  for (const build of builds) {
    const r = results.get(build.label)!
    const held = median(r.map((x) => x.load.heldMb))
    console.log(
      `| ${build.label} | ${fmt(median(r.map((x) => x.load.ms)))} ms | ${fmt(median(r.map((x) => x.load.cpuMs)))} ms | ${fmt(held)} MB | ${fmt((held * 1e6) / ROWS)} bytes | ${fmt(median(r.map((x) => x.rssMb)))} MB |`,
    )
  }
  console.log(`load ${fmt(os.loadavg()[0]!, 2)} at the end`)
} finally {
  await schema.drop()
}
