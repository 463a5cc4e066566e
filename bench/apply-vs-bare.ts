/**
 * bench/apply-vs-bare: THE apply figure (issue 15). `mcsend apply` (the built CLI, a whole process) against a bare
 * sender (bench/bare-sender.mjs: Node built-ins only, no mcsend code) posting the same batches with the same
 * concurrency (4) to the same fake Marketing Cloud: `mcsend sandbox --json --port 0` in its own process, a fresh
 * one for every run, reached in credentials mode (MCSEND_AUTH_URL, MCSEND_CLIENT_ID, MCSEND_CLIENT_SECRET only).
 * Four cases: with attributes (batches of 500) and without (batches of 2,000), each with the file state and the
 * PostgreSQL state. Runs alternate (bare first, then mcsend first, …); the table gives medians of the wall time
 * and of the peak RSS, the ratio of the medians, and the CPU time (user + system) of each sender: on a busy machine
 * the CPU time moves less than the wall time.
 * Goals (2-core machine): ratio <= 1.4x; mcsend peak RSS <= 250 MB.
 *
 *   npx tsx bench/apply-vs-bare.ts [--rows N] [--runs N] [--only attributes|plain] [--state file|pg] [--baseline DIR]
 *   MCSEND_BENCH_ROWS=20000 npx tsx bench/apply-vs-bare.ts     # a quick run while developing
 *
 * --baseline DIR adds another build of mcsend (a checkout of an older commit, built) to every run, in the same
 * alternation, so a change is measured side by side with what it replaces.
 */
import {spawn} from 'node:child_process'
import {mkdtemp, rm, stat, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {arg, customerRow, dropWorkspace, fmt, measureNode, median, pgProblem, ROOT, type Measured} from './lib.js'

const ROWS = Number(arg('--rows') ?? process.env.MCSEND_BENCH_ROWS ?? 200_000)
const RUNS = Number(arg('--runs') ?? 3)
const PG_URL = process.env.MCSEND_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test'
const BIN = path.join(ROOT, 'bin', 'run.js')
const BASELINE = arg('--baseline')
const BASELINE_BIN = BASELINE === undefined ? undefined : path.resolve(BASELINE, 'bin', 'run.js')
const BARE = path.join(ROOT, 'bench', 'bare-sender.mjs')
const DEFINITION = 'bench'
const NAME = 'bench-apply'

interface Sandbox {
  env: {MCSEND_AUTH_URL: string; MCSEND_CLIENT_ID: string; MCSEND_CLIENT_SECRET: string}
  stop(): Promise<void>
}

/** `mcsend sandbox --json --port 0` as its own process, with a fresh data directory (so every key is new to it). */
async function startSandbox(dataDir: string): Promise<Sandbox> {
  const child = spawn(process.execPath, [BIN, 'sandbox', '--json', '--port', '0', '--data-dir', dataDir, '--definition', `${DEFINITION}=Active`], {
    env: {PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1'},
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const doc = await new Promise<{env: Sandbox['env']}>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const nl = out.indexOf('\n')
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)))
    })
    child.once('exit', (code) => reject(new Error(`mcsend sandbox exited with ${code} before listening`)))
  })
  return {
    env: doc.env,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await exited
      }
    },
  }
}

/** Both senders post with the same concurrency and the same batch sizes (500 with attributes, 2,000 without). */
const PARALLELISM = 4
const batchSizeOf = (attributes: boolean): number => (attributes ? 500 : 2000)

/** The size of the last file state each build wrote, by `build case`. */
const stateBytes = new Map<string, number>()

interface Case {
  label: string
  attributes: boolean
  batchSize: number
  state: 'file' | 'pg'
}

interface Sample {
  bare: Measured
  mcsend: Measured
  baseline?: Measured
}

async function writeInputs(dir: string): Promise<{withAttributes: string; plain: string}> {
  const rowsWith: string[] = ['id,email,FirstName,Plan']
  const rowsPlain: string[] = ['id,email']
  for (let i = 0; i < ROWS; i++) {
    rowsWith.push(customerRow(i).slice(0, -1))
    rowsPlain.push(`cust-${i},user${i}@example.com`)
  }
  await writeFile(path.join(dir, 'with.csv'), `${rowsWith.join('\n')}\n`)
  await writeFile(path.join(dir, 'plain.csv'), `${rowsPlain.join('\n')}\n`)
  // The batch size is written out (the bare sender is given the same), not left to mcsend's default.
  const manifest = (csv: string, batchSize: number) =>
    ['apiVersion: mcsend/v1', 'kind: Send', `name: ${NAME}`, `definitionKey: ${DEFINITION}`, `batchSize: ${batchSize}`, 'recipients:', `  - csv: ./${csv}`, '    columns: {contactKey: id, to: email}', ''].join('\n')
  await writeFile(path.join(dir, 'with.yaml'), manifest('with.csv', batchSizeOf(true)))
  await writeFile(path.join(dir, 'plain.yaml'), manifest('plain.csv', batchSizeOf(false)))
  return {withAttributes: 'with', plain: 'plain'}
}

async function runBare(dir: string, c: Case, run: number): Promise<Measured> {
  const sandbox = await startSandbox(path.join(dir, `fake-bare-${c.label}-${run}`))
  try {
    const csv = path.join(dir, c.attributes ? 'with.csv' : 'plain.csv')
    const m = await measureNode([BARE, csv, NAME, DEFINITION, String(c.batchSize), String(PARALLELISM)], {cwd: dir, env: sandbox.env, captureStdout: true})
    if (m.code !== 0) throw new Error(`the bare sender exited ${m.code}: ${m.stderr.slice(-2000)}`)
    const accepted = (JSON.parse(m.stdout) as {accepted: number}).accepted
    if (accepted !== ROWS) throw new Error(`the bare sender got ${accepted} accepted, expected ${ROWS}`)
    return m
  } finally {
    await sandbox.stop()
  }
}

async function runMcsend(dir: string, c: Case, run: number, bin = BIN): Promise<Measured> {
  const tag = bin === BIN ? 'mcsend' : 'baseline'
  const sandbox = await startSandbox(path.join(dir, `fake-${tag}-${c.label}-${run}`))
  const workspace = `bench-${tag}-${Date.now().toString(36)}-${run}`
  const state = c.state === 'pg' ? PG_URL : path.join(dir, `state-${tag}-${c.label}-${run}`, 'state.json')
  try {
    const args = [bin, 'apply', c.attributes ? 'with.yaml' : 'plain.yaml', '--auto-approve', '--json', '--parallelism', String(PARALLELISM), '--state', state]
    if (c.state === 'pg') args.push('--workspace', workspace)
    const m = await measureNode(args, {cwd: dir, env: sandbox.env, captureStdout: true})
    if (m.code !== 0) throw new Error(`mcsend apply exited ${m.code}: ${m.stderr.slice(-2000)}`)
    const summary = m.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as {type?: string; accepted?: number})
      .find((e) => e.type === 'summary')
    if (summary?.accepted !== ROWS) throw new Error(`mcsend apply accepted ${summary?.accepted}, expected ${ROWS}`)
    if (c.state === 'file') stateBytes.set(`${tag} ${c.label}`, (await stat(state)).size)
    return m
  } finally {
    await sandbox.stop()
    if (c.state === 'pg') await dropWorkspace(PG_URL, workspace)
  }
}

const only = arg('--only')
const stateArg = arg('--state')
const cases: Case[] = []
for (const attributes of [true, false]) {
  if (only === 'attributes' && !attributes) continue
  if (only === 'plain' && attributes) continue
  for (const state of ['file', 'pg'] as const) {
    if (stateArg !== undefined && stateArg !== state) continue
    cases.push({label: `${attributes ? 'attributes' : 'plain'}-${state}`, attributes, batchSize: batchSizeOf(attributes), state})
  }
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-bench-bare-'))
try {
  await writeInputs(dir)
  const unreachable = cases.some((c) => c.state === 'pg') ? await pgProblem(PG_URL) : undefined
  const [load1] = os.loadavg()
  console.log(`bench/apply-vs-bare: ${fmt(ROWS)} recipients, medians of ${RUNS} alternating runs, concurrency 4, ${os.cpus().length} cores, load ${fmt(load1 ?? 0, 2)} at start`)
  const rows: string[][] = []
  let met = true
  for (const c of cases) {
    if (c.state === 'pg' && unreachable) {
      rows.push([c.label, 'skipped: no PostgreSQL', ...Array.from({length: BASELINE_BIN === undefined ? 6 : 7}, () => '')])
      continue
    }
    const samples: Sample[] = []
    for (let run = 0; run < RUNS; run++) {
      // Alternate which goes first, so neither always runs on a warmer (or busier) machine.
      if (run % 2 === 0) {
        const bare = await runBare(dir, c, run)
        const baseline = BASELINE_BIN === undefined ? undefined : await runMcsend(dir, c, run, BASELINE_BIN)
        samples.push({bare, baseline, mcsend: await runMcsend(dir, c, run)})
      } else {
        const mcsend = await runMcsend(dir, c, run)
        const baseline = BASELINE_BIN === undefined ? undefined : await runMcsend(dir, c, run, BASELINE_BIN)
        samples.push({bare: await runBare(dir, c, run), baseline, mcsend})
      }
    }
    const bareMs = median(samples.map((s) => s.bare.wallMs))
    const mcsendMs = median(samples.map((s) => s.mcsend.wallMs))
    const ratio = mcsendMs / bareMs
    const rss = median(samples.map((s) => s.mcsend.maxRssMb))
    const ok = ratio <= 1.4 && rss <= 250
    met &&= ok
    const baseline = samples.flatMap((s) => (s.baseline === undefined ? [] : [s.baseline]))
    const baselineCells =
      baseline.length === 0
        ? []
        : [`${fmt(median(baseline.map((m) => m.wallMs)) / 1000, 2)} s (${fmt(median(baseline.map((m) => m.wallMs)) / bareMs, 2)}x, ${fmt(median(baseline.map((m) => m.maxRssMb)))} MB, ${fmt(median(baseline.map((m) => m.cpuMs)) / 1000, 2)} s CPU)`]
    rows.push([
      `${c.attributes ? 'with attributes' : 'no attributes'}, ${c.state === 'pg' ? 'PostgreSQL' : 'file'} state`,
      `${c.batchSize}`,
      `${fmt(bareMs / 1000, 2)} s`,
      ...baselineCells,
      `${fmt(mcsendMs / 1000, 2)} s`,
      `${fmt(ratio, 2)}x`,
      `${fmt(median(samples.map((s) => s.bare.maxRssMb)))} / ${fmt(rss)} MB`,
      `${fmt(median(samples.map((s) => s.bare.cpuMs)) / 1000, 2)} / ${fmt(median(samples.map((s) => s.mcsend.cpuMs)) / 1000, 2)} s`,
      ok ? 'met' : 'MISSED',
    ])
  }
  const head = ['case', 'batch', 'bare', ...(BASELINE_BIN === undefined ? [] : ['baseline (ratio, RSS, CPU)']), 'mcsend apply', 'ratio', 'peak RSS bare / mcsend', 'CPU bare / mcsend', 'goal (<= 1.4x, <= 250 MB)']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] as number)).join(' | ')} |`
  console.log(line(head))
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
  for (const r of rows) console.log(line(r))
  for (const [what, bytes] of stateBytes) console.log(`file state (${what}): ${fmt(bytes / 1e6, 1)} MB, ${fmt(bytes / ROWS)} bytes per record (goal <= 100)`)
  console.log(`load ${fmt(os.loadavg()[0] ?? 0, 2)} at the end; goals ${met ? 'met' : 'not all met'}`)
} finally {
  await rm(dir, {recursive: true, force: true})
}
