/**
 * bench/json-source: a large JSON recipient source (one array), read three ways as whole processes: JSON.parse
 * alone (the baseline), the strict parser of src/manifest/strict-json.ts alone (built, dist/), and `mcsend validate`
 * (parser, schema checks and all). --compare FILE adds another build of strict-json.js, e.g. the one before a change,
 * so the two parsers are timed side by side. The runs alternate; medians of --runs runs each (default 7).
 *
 *   npx tsx bench/json-source.ts [--rows N] [--runs N] [--compare path/to/strict-json.js]
 */
import {stat, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {dataDir, fmt, measureNode, ROOT, writeRowsOnce, type Measured} from './lib.js'

function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const ROWS = numberArg('--rows', 300_000)
const RUNS = numberArg('--runs', 7)
const compareArg = process.argv.indexOf('--compare')
const COMPARE = compareArg > 0 ? path.resolve(process.argv[compareArg + 1]!) : undefined

async function generate(dir: string): Promise<{json: string; manifest: string}> {
  const json = path.join(dir, `recipients-${ROWS}.json`)
  const manifest = path.join(dir, `json-${ROWS}.yaml`)
  // Nested attributes and escapes, so the parser walks objects inside objects and decodes strings.
  const row = (i: number) => `  {"contactKey": "cust-${i}", "to": "user${i}@example.com", "attributes": {"FirstName": "Name \\"${i % 997}\\"", "Plan": "pro", "Seats": ${i % 50}}}${i + 1 < ROWS ? ',' : ''}\n`
  await writeRowsOnce(json, ROWS, row, '[\n', ']\n')
  const lines = ['apiVersion: mcsend/v1', 'kind: Send', 'name: bench-json', 'definitionKey: bench', 'recipients:', `  - json: ./${path.basename(json)}`, '']
  await writeFile(manifest, lines.join('\n'))
  return {json, manifest}
}

function median(runs: Measured[]): Measured {
  return [...runs].sort((a, b) => a.wallMs - b.wallMs)[Math.floor(runs.length / 2)]!
}

/** Runs each command RUNS times, alternating them so a busy moment on a shared machine falls on all of them. */
async function measureAlternating(commands: string[][]): Promise<Measured[]> {
  const runs: Measured[][] = commands.map(() => [])
  for (let i = 0; i < RUNS; i++) {
    for (const [c, args] of commands.entries()) {
      const run = await measureNode(args)
      if (run.code !== 0) {
        process.stderr.write(run.stderr)
        throw new Error(`${args.join(' ')} exited ${run.code}`)
      }
      runs[c]!.push(run)
    }
  }
  return runs.map(median)
}

const dir = await dataDir()
const {json, manifest} = await generate(dir)
const size = (await stat(json)).size
const only = path.join(ROOT, 'bench', 'json-parse-only.mjs')
const commands: [string, string[]][] = [
  ['JSON.parse alone', [only, 'json-parse', json]],
  ['strict parser alone', [only, path.join(ROOT, 'dist', 'manifest', 'strict-json.js'), json]],
  ...(COMPARE === undefined ? [] : [['--compare parser', [only, COMPARE, json]] as [string, string[]]]),
  ['mcsend validate', [path.join(ROOT, 'bin', 'run.js'), 'validate', manifest]],
]
const results = await measureAlternating(commands.map(([, args]) => args))
const base = results[0]!.wallMs
console.log(`bench/json-source: ${fmt(ROWS)} recipients, JSON ${fmt(size / 1e6, 1)} MB, median of ${RUNS} runs each`)
for (const [i, [label]] of commands.entries()) {
  const r = results[i]!
  console.log(`  ${label.padEnd(20)} ${fmt(r.wallMs / 1000, 2)} s wall, ${fmt(r.maxRssMb)} MB peak RSS, ${fmt(r.wallMs / base, 2)}x JSON.parse`)
}
