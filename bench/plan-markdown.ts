/**
 * bench/plan-markdown: times `mcsend plan --format markdown` (the pull-request comment) on N CSV recipients with
 * per-recipient attributes, as whole processes, side by side with a baseline build of mcsend (another commit), in
 * alternating runs; prints the medians of wall time and peak RSS, their ratio, and the size of each Markdown.
 *
 *   git worktree add /tmp/mcsend-base <commit> && (cd /tmp/mcsend-base && npm ci && npm run build)
 *   npx tsx bench/plan-markdown.ts --baseline /tmp/mcsend-base [--rows 1000000] [--runs 5]
 */
import {writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {arg, dataDir, fmt, measureNode, median, ROOT, writeCustomersOnce, type Measured} from './lib.js'

const baseline = arg('--baseline')
if (baseline === undefined) {
  console.error('usage: npx tsx bench/plan-markdown.ts --baseline DIR [--rows N] [--runs R]  (DIR: a built mcsend checkout)')
  process.exit(64)
}
const ROWS = Number(arg('--rows') ?? 1_000_000)
const RUNS = Number(arg('--runs') ?? 5)

async function generate(dir: string): Promise<string> {
  const csv = path.join(dir, `review-${ROWS}.csv`)
  const manifest = path.join(dir, `review-${ROWS}.yaml`)
  await writeCustomersOnce(csv, ROWS)
  const lines = [
    'apiVersion: mcsend/v1',
    'kind: Send',
    'name: bench-review',
    'definitionKey: bench',
    'attributes: {ReleaseVersion: "4.2.0", ReleaseDate: "2025-06-03"}',
    'recipients:',
    `  - csv: ./${path.basename(csv)}`,
    '    columns: {contactKey: id, to: email}',
    '  - inline:',
    '      - {contactKey: partner-ops, to: partner-ops@example.org, attributes: {FirstName: Partners, Plan: partner}}',
    '',
  ]
  await writeFile(manifest, lines.join('\n'))
  return manifest
}

const dir = await dataDir()
const manifest = await generate(dir)
const state = path.join(dir, 'review-bench-state.json')
const run = (root: string): Promise<Measured> =>
  measureNode([path.join(root, 'bin', 'run.js'), 'plan', manifest, '--format', 'markdown', '--state', state, '--no-step-summary'], {cwd: dir, captureStdout: true})

const samples: {base: Measured; now: Measured}[] = []
for (let i = 0; i < RUNS; i++) {
  // Alternate which one runs first, so neither always gets the warmer page cache.
  const first = i % 2 === 0 ? 'base' : 'now'
  const a = await run(first === 'base' ? path.resolve(baseline) : ROOT)
  const b = await run(first === 'base' ? ROOT : path.resolve(baseline))
  const pair = first === 'base' ? {base: a, now: b} : {base: b, now: a}
  for (const m of [pair.base, pair.now]) {
    if (m.code !== 0) {
      console.error(`plan failed (exit ${m.code}): ${m.stderr.slice(0, 500)}`)
      process.exit(1)
    }
  }
  samples.push(pair)
}

const [load1] = os.loadavg()
console.log(`bench/plan-markdown: ${fmt(ROWS)} recipients + 1 inline, medians of ${RUNS} alternating runs, ${os.cpus().length} cores, load ${fmt(load1 ?? 0, 2)}`)
console.log('| build | wall (median) | peak RSS (median) | Markdown characters |')
console.log('|---|--:|--:|--:|')
for (const which of ['base', 'now'] as const) {
  const wall = median(samples.map((s) => s[which].wallMs))
  const rss = median(samples.map((s) => s[which].maxRssMb))
  console.log(`| ${which === 'base' ? `baseline (${baseline})` : 'this checkout'} | ${fmt(wall)} ms | ${fmt(rss)} MB | ${fmt(samples[0]![which].stdout.length)} |`)
}
const ratio = median(samples.map((s) => s.now.wallMs)) / median(samples.map((s) => s.base.wallMs))
console.log(`ratio of the medians (this / baseline): ${fmt(ratio, 2)}`)
