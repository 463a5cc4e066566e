/**
 * bench/apply-200k: applies 200,000 recipients (no attributes) to the project's fake Marketing Cloud on loopback
 * with default settings, as a whole `mcsend apply --auto-approve --json` process. The fake runs in this benchmark
 * process (as a real service would run elsewhere), so the figures are mcsend's own. Prints wall time,
 * recipients per second, peak RSS, and the time spent recording batches in the state for the first and the last
 * tenth of batches (the cost of a state commit must not grow with the state).
 * Targets (issue 3, 2-core machine): >= 20,000 recipients/s; <= 500 MB peak RSS; last/first tenth <= 1.5.
 *
 *   npx tsx bench/apply-200k.ts [--rows N] [--state SPEC] [--workspace W]
 */
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {startSandbox} from '../src/sandbox/server.js'
import {arg, dropWorkspace, fmt, measureNode, pgProblem, ROOT} from './lib.js'

export interface ApplyBenchResult {
  rows: number
  wallMs: number
  perSecond: number
  maxRssMb: number
  firstTenthMs: number
  lastTenthMs: number
  batches: number
}

export async function benchApply(rows: number, stateSpec: ((dir: string) => string) | undefined, workspace?: string): Promise<ApplyBenchResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-bench-'))
  try {
    const lines = ['id,email']
    for (let i = 0; i < rows; i++) lines.push(`c${i},c${i}@example.com`)
    await writeFile(path.join(dir, 'people.csv'), `${lines.join('\n')}\n`)
    await writeFile(
      path.join(dir, 'bench.yaml'),
      ['apiVersion: mcsend/v1', 'kind: Send', 'name: bench-apply', 'definitionKey: bench', 'recipients:', '  - csv: ./people.csv', '    columns: {contactKey: id, to: email}', ''].join('\n'),
    )
    const sandbox = await startSandbox({dataDir: path.join(dir, 'fake'), definitions: {bench: 'Active'}})
    const args = [path.join(ROOT, 'bin', 'run.js'), 'apply', 'bench.yaml', '--auto-approve', '--json', '--state', stateSpec ? stateSpec(dir) : path.join(dir, 'state.json')]
    if (workspace) args.push('--workspace', workspace)
    const env = {MCSEND_AUTH_URL: sandbox.authUrl, MCSEND_CLIENT_ID: sandbox.clientId, MCSEND_CLIENT_SECRET: sandbox.clientSecret}
    const {code, stdout, stderr, wallMs, maxRssMb} = await measureNode(args, {cwd: dir, env, captureStdout: true})
    const delivered = sandbox.outbox().length
    await sandbox.close()
    if (delivered !== rows) throw new Error(`the fake accepted ${delivered} messages, expected ${rows}`)
    if (code !== 0) throw new Error(`apply exited ${code}: ${stderr.slice(-2000)}`)
    const events = stdout.trim().split('\n').map((l) => JSON.parse(l) as {type: string; stateMs?: number; accepted?: number})
    const finished = events.filter((e) => e.type === 'batch_finished')
    const summary = events.find((e) => e.type === 'summary')
    if (summary?.accepted !== rows) throw new Error(`expected ${rows} accepted, got ${summary?.accepted}`)
    const tenth = Math.max(1, Math.floor(finished.length / 10))
    const mean = (xs: typeof finished) => xs.reduce((n, e) => n + (e.stateMs ?? 0), 0) / xs.length
    return {
      rows,
      wallMs,
      perSecond: rows / (wallMs / 1000),
      maxRssMb,
      firstTenthMs: mean(finished.slice(0, tenth)),
      lastTenthMs: mean(finished.slice(-tenth)),
      batches: finished.length,
    }
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}

export function printApplyBench(label: string, r: ApplyBenchResult): void {
  const ratio = r.lastTenthMs / r.firstTenthMs
  console.log(`bench/apply-200k (${label}): ${fmt(r.rows)} recipients in ${fmt(r.batches)} requests`)
  console.log(`  wall                 ${fmt(r.wallMs / 1000, 2)} s  (${fmt(r.perSecond)} recipients/s, whole process incl. startup and planning)`)
  console.log(`  peak RSS             ${fmt(r.maxRssMb)} MB`)
  console.log(`  state per batch      first tenth ${fmt(r.firstTenthMs, 2)} ms, last tenth ${fmt(r.lastTenthMs, 2)} ms (ratio ${fmt(ratio, 2)})`)
  console.log(
    `  targets              >= 20,000/s: ${r.perSecond >= 20_000 ? 'met' : 'MISSED'}; RSS <= 500 MB: ${r.maxRssMb <= 500 ? 'met' : 'MISSED'}; ratio <= 1.5: ${ratio <= 1.5 ? 'met' : 'MISSED'}`,
  )
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = Number(arg('--rows') ?? 200_000)
  const spec = arg('--state')
  if (spec) {
    printApplyBench(spec.startsWith('postgres') ? 'PostgreSQL state' : 'file state', await benchApply(rows, () => spec, arg('--workspace')))
  } else {
    // Both backends, one after the other: the default file store, then PostgreSQL when one is reachable.
    printApplyBench('file state', await benchApply(rows, undefined))
    const url = process.env.MCSEND_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test'
    const unreachable = await pgProblem(url)
    if (unreachable) {
      console.log(`bench/apply-200k (PostgreSQL state): skipped: no PostgreSQL (${unreachable})`)
    } else {
      const workspace = `bench-${Date.now().toString(36)}`
      try {
        printApplyBench('PostgreSQL state', await benchApply(rows, () => url, workspace))
      } finally {
        await dropWorkspace(url, workspace)
      }
    }
  }
}
