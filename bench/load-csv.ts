/**
 * Times the manifest loader on a 1,000,000-row CSV source (columns id, email, FirstName, Plan; about 45 MB),
 * next to csv-parse alone on the same file, and prints memory use.
 *
 *   npx tsx bench/load-csv.ts [rows]
 *
 * The data is generated once under bench/.data/ (gitignored).
 */
import fs from 'node:fs'
import path from 'node:path'

import {parse} from 'csv-parse'

import {loadManifests} from '../src/manifest/load.js'
import {DATA as dataDir} from './lib.js'

const rows = Number(process.argv[2] ?? 1_000_000)
const csvFile = path.join(dataDir, `customers-${rows}.csv`)
const manifestFile = path.join(dataDir, `load-csv-${rows}.yaml`)

const FIRST_NAMES = ['Ann', 'Bruno', 'Chen', 'Dana', 'Emil', 'Fatima', 'Gus', 'Hana', 'Ivan', 'Julia', 'Kofi', 'Lena', 'Mia', 'Noah']
const PLANS = ['starter', 'pro', 'enterprise']

function generate(): void {
  if (fs.existsSync(csvFile)) return
  fs.mkdirSync(dataDir, {recursive: true})
  const out = fs.openSync(`${csvFile}.tmp`, 'w')
  let buffer = 'id,email,FirstName,Plan\n'
  for (let i = 1; i <= rows; i++) {
    const first = FIRST_NAMES[i % FIRST_NAMES.length]!
    buffer += `cust-${String(i).padStart(8, '0')},${first.toLowerCase()}.${i}@example.com,${first},${PLANS[i % PLANS.length]}\n`
    if (buffer.length > 1 << 20) {
      fs.writeSync(out, buffer)
      buffer = ''
    }
  }
  fs.writeSync(out, buffer)
  fs.closeSync(out)
  fs.renameSync(`${csvFile}.tmp`, csvFile)
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`
}

async function bareParse(): Promise<{records: number; ms: number}> {
  const start = performance.now()
  let records = 0
  const parser = fs.createReadStream(csvFile, {highWaterMark: 1 << 20}).pipe(parse({bom: true, relax_column_count: true}))
  for await (const record of parser) if (record) records++
  return {records, ms: performance.now() - start}
}

generate()
fs.writeFileSync(
  manifestFile,
  [
    'apiVersion: mcsend/v1',
    'kind: Send',
    'name: bench-load-csv',
    'definitionKey: bench',
    'recipients:',
    `  - csv: ./${path.basename(csvFile)}`,
    '    columns: {contactKey: id, to: email}',
    '',
  ].join('\n'),
)
const size = fs.statSync(csvFile).size
process.stdout.write(`file: ${path.relative(process.cwd(), csvFile)} (${rows.toLocaleString('en')} rows, ${mb(size)})\n`)

const rssBefore = process.memoryUsage().rss
const start = performance.now()
const result = await loadManifests([manifestFile], {fs, cwd: process.cwd()})
const loadMs = performance.now() - start
const afterLoad = process.memoryUsage()
const recipients = result.sends[0]?.recipients.length ?? 0
if (result.problems.length > 0) process.stdout.write(`problems: ${JSON.stringify(result.problems.slice(0, 3))}\n`)
process.stdout.write(
  `load (loadManifests):  ${loadMs.toFixed(0)} ms for ${recipients.toLocaleString('en')} recipients; ` +
    `rss ${mb(afterLoad.rss)} (before ${mb(rssBefore)}), heap used ${mb(afterLoad.heapUsed)}, ` +
    `peak rss ${mb(process.resourceUsage().maxRSS * 1024)}\n`,
)

const bare = await bareParse()
process.stdout.write(`bare csv-parse stream: ${bare.ms.toFixed(0)} ms for ${bare.records.toLocaleString('en')} records (header included)\n`)
process.stdout.write(`peak rss (whole run):  ${mb(process.resourceUsage().maxRSS * 1024)}\n`)
// Keep the result alive until here so the memory figures above measure it.
if (recipients < 0) process.stdout.write(String(result.sends.length))
