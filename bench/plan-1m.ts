/**
 * bench/plan-1m: times `mcsend plan --json > /dev/null` on 1,000,000 CSV recipients as a whole process
 * (wall time, peak RSS), next to parsing the same file with csv-parse alone.
 * Targets (issue 2, 2-core machine): at most 6 s wall, at most 700 MB peak RSS, at most 3x the bare parse.
 *
 *   npx tsx bench/plan-1m.ts [--rows N]
 */
import {stat, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {dataDir, fmt, measureNode, ROOT, writeCustomersOnce} from './lib.js'

const rowsArg = process.argv.indexOf('--rows')
const ROWS = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 1_000_000

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

const parseOnly = await measureNode([path.join(ROOT, 'bench', 'csv-parse-only.mjs'), csv])
const plan = await measureNode([path.join(ROOT, 'bin', 'run.js'), 'plan', manifest, '--json', '--state', state])
if (plan.code !== 0) {
  process.stderr.write(plan.stderr)
  throw new Error(`mcsend plan exited ${plan.code}`)
}
const ratio = plan.wallMs / parseOnly.wallMs
console.log(`bench/plan-1m: ${fmt(ROWS)} recipients, CSV ${fmt(size / 1e6, 1)} MB`)
console.log(`  csv-parse alone      ${fmt(parseOnly.wallMs / 1000, 2)} s wall, ${fmt(parseOnly.maxRssMb)} MB peak RSS`)
console.log(`  mcsend plan --json   ${fmt(plan.wallMs / 1000, 2)} s wall, ${fmt(plan.maxRssMb)} MB peak RSS`)
console.log(`  ratio plan/parse     ${fmt(ratio, 2)}x`)
console.log(`  targets              wall <= 6 s: ${plan.wallMs <= 6000 ? 'met' : 'MISSED'}; RSS <= 700 MB: ${plan.maxRssMb <= 700 ? 'met' : 'MISSED'}; ratio <= 3x: ${ratio <= 3 ? 'met' : 'MISSED'}`)
