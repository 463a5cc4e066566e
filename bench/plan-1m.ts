/**
 * bench/plan-1m: times `mcsend plan --json > /dev/null` on 1,000,000 CSV recipients as a whole process (wall time,
 * CPU time, peak RSS), next to parsing the same file with csv-parse alone. Runs alternate (parse, plan, baseline
 * plan; then the other way round) and the figures are medians.
 * Goals (issue 15, 2-core machine): plan at most 1.6x the bare parse's wall time, at most 450 MB peak RSS.
 *
 *   npx tsx bench/plan-1m.ts [--rows N] [--runs N] [--baseline DIR]
 *
 * --baseline DIR adds another build of mcsend (a checkout of an older commit, built) to every run, in the same
 * alternation, so a change is measured side by side with what it replaces. On a busy machine the CPU time moves
 * less than the wall time.
 */
import {stat, writeFile} from 'node:fs/promises'
import path from 'node:path'

import os from 'node:os'

import {arg, dataDir, fmt, measureNode, median, ROOT, writeCustomersOnce, type Measured} from './lib.js'

const ROWS = Number(arg('--rows') ?? 1_000_000)
const RUNS = Number(arg('--runs') ?? 3)
const BASELINE = arg('--baseline')

async function generate(dir: string): Promise<{csv: string; manifest: string}> {
  const csv = path.join(dir, `plan-${ROWS}.csv`)
  const manifest = path.join(dir, `plan-${ROWS}.yaml`)
  await writeCustomersOnce(csv, ROWS)
  await writeFile(
    manifest,
    [
      'apiVersion: mcsend/v1',
      'kind: Send',
      'name: bench-plan',
      'definitionKey: bench',
      'attributes: {ReleaseVersion: "1.0"}',
      'recipients:',
      `  - csv: ./${path.basename(csv)}`,
      '    columns: {contactKey: id, to: email}',
      '',
    ].join('\n'),
  )
  return {csv, manifest}
}

const dir = await dataDir()
const {csv, manifest} = await generate(dir)
const size = (await stat(csv)).size
const state = path.join(dir, 'plan-bench-state.json')

async function plan(root: string): Promise<Measured> {
  const m = await measureNode([path.join(root, 'bin', 'run.js'), 'plan', manifest, '--json', '--state', state])
  if (m.code !== 0) {
    process.stderr.write(m.stderr)
    throw new Error(`mcsend plan (${root}) exited ${m.code}`)
  }
  return m
}

const parseOnly = (): Promise<Measured> => measureNode([path.join(ROOT, 'bench', 'csv-parse-only.mjs'), csv])
const samples: {parse: Measured; plan: Measured; baseline?: Measured}[] = []
console.log(`bench/plan-1m: ${fmt(ROWS)} recipients, CSV ${fmt(size / 1e6, 1)} MB, medians of ${RUNS} alternating runs, ${os.cpus().length} cores, load ${fmt(os.loadavg()[0] ?? 0, 2)} at start`)
for (let run = 0; run < RUNS; run++) {
  // Alternate the order, so no process always runs on a warmer (or busier) machine.
  if (run % 2 === 0) {
    const parse = await parseOnly()
    const baseline = BASELINE === undefined ? undefined : await plan(path.resolve(BASELINE))
    samples.push({parse, baseline, plan: await plan(ROOT)})
  } else {
    const planned = await plan(ROOT)
    const baseline = BASELINE === undefined ? undefined : await plan(path.resolve(BASELINE))
    samples.push({parse: await parseOnly(), baseline, plan: planned})
  }
}
const parseMs = median(samples.map((s) => s.parse.wallMs))
const row = (label: string, runs: Measured[]): {wall: number; rss: number} => {
  const wall = median(runs.map((m) => m.wallMs))
  const rss = median(runs.map((m) => m.maxRssMb))
  const cpu = median(runs.map((m) => m.cpuMs))
  console.log(`  ${label.padEnd(22)} ${fmt(wall / 1000, 2)} s wall (${fmt(wall / parseMs, 2)}x), ${fmt(cpu / 1000, 2)} s CPU, ${fmt(rss)} MB peak RSS`)
  return {wall, rss}
}
row('csv-parse alone', samples.map((s) => s.parse))
const baselineRuns = samples.flatMap((s) => (s.baseline === undefined ? [] : [s.baseline]))
if (baselineRuns.length > 0) row('baseline plan --json', baselineRuns)
const mine = row('mcsend plan --json', samples.map((s) => s.plan))
const ratio = mine.wall / parseMs
console.log(`  goals                  ratio <= 1.6x: ${ratio <= 1.6 ? 'met' : 'MISSED'}; RSS <= 450 MB: ${mine.rss <= 450 ? 'met' : 'MISSED'}; load ${fmt(os.loadavg()[0] ?? 0, 2)} at the end`)
