/**
 * bench/plan-out: `mcsend plan --out FILE` of 2,000,000 CSV recipients as a whole process (wall time, peak RSS, the
 * saved plan's size), then `mcsend show FILE --json` of that plan. The saved plan is written as a stream.
 * Goal (issue 15, 2-core machine): plan --out <= 1 GB peak RSS.
 *
 *   npx tsx bench/plan-out.ts [--rows N]
 */
import {rm, stat, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {dataDir, fmt, measureNode, ROOT, writeCustomersOnce} from './lib.js'

const rowsArg = process.argv.indexOf('--rows')
const ROWS = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 2_000_000

async function generate(dir: string): Promise<string> {
  const csv = path.join(dir, `plan-out-${ROWS}.csv`)
  const manifest = path.join(dir, `plan-out-${ROWS}.yaml`)
  await writeCustomersOnce(csv, ROWS)
  await writeFile(
    manifest,
    ['apiVersion: mcsend/v1', 'kind: Send', 'name: bench-plan-out', 'definitionKey: bench', 'recipients:', `  - csv: ./${path.basename(csv)}`, '    columns: {contactKey: id, to: email}', ''].join('\n'),
  )
  return manifest
}

const dir = await dataDir()
const manifest = await generate(dir)
const out = path.join(dir, `plan-out-${ROWS}.plan.json`)
const state = path.join(dir, 'plan-out-state.json')
await rm(out, {force: true})
const plan = await measureNode([path.join(ROOT, 'bin', 'run.js'), 'plan', manifest, '--out', out, '--state', state])
if (plan.code !== 0) {
  process.stderr.write(plan.stderr)
  throw new Error(`mcsend plan --out exited ${plan.code}`)
}
const size = (await stat(out)).size
const show = await measureNode([path.join(ROOT, 'bin', 'run.js'), 'show', out, '--json'])
if (show.code !== 0) {
  process.stderr.write(show.stderr)
  throw new Error(`mcsend show exited ${show.code}`)
}
console.log(`bench/plan-out: ${fmt(ROWS)} recipients, load ${fmt(os.loadavg()[0] ?? 0, 2)}`)
console.log(`  plan --out        ${fmt(plan.wallMs / 1000, 2)} s wall, ${fmt(plan.maxRssMb)} MB peak RSS, saved plan ${fmt(size / 1e6)} MB`)
console.log(`  show FILE --json  ${fmt(show.wallMs / 1000, 2)} s wall, ${fmt(show.maxRssMb)} MB peak RSS`)
console.log(`  goal              plan --out <= 1,024 MB: ${plan.maxRssMb <= 1024 ? 'met' : 'MISSED'}`)
await rm(out, {force: true})
