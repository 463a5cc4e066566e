import {spawn} from 'node:child_process'
import {createWriteStream} from 'node:fs'
import {mkdir, stat} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = fileURLToPath(new URL('../', import.meta.url))
export const DATA = path.join(ROOT, 'bench', '.data')
const RSS_HOOK = path.join(ROOT, 'bench', 'max-rss.mjs')

export async function dataDir(): Promise<string> {
  await mkdir(DATA, {recursive: true})
  return DATA
}

export interface Measured {
  wallMs: number
  maxRssMb: number
  /** User + system CPU time of the process (all its threads), ms. */
  cpuMs: number
  code: number | null
  /** Empty unless `captureStdout`. */
  stdout: string
  stderr: string
}

/** Runs `node <args>` as a whole process (stdout discarded unless asked for); returns wall time and peak RSS. */
export function measureNode(args: string[], options: {cwd?: string; env?: NodeJS.ProcessEnv; captureStdout?: boolean} = {}): Promise<Measured> {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint()
    const child = spawn(process.execPath, ['--import', RSS_HOOK, ...args], {
      cwd: options.cwd ?? ROOT,
      env: {...process.env, NO_COLOR: '1', ...options.env},
      stdio: ['ignore', options.captureStdout ? 'pipe' : 'ignore', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - start) / 1e6
      const m = /BENCH_MAX_RSS_KB=(\d+) BENCH_CPU_US=(\d+)/.exec(stderr)
      resolve({
        wallMs,
        maxRssMb: m ? Number(m[1]) / 1024 : Number.NaN,
        cpuMs: m ? Number(m[2]) / 1000 : Number.NaN,
        code,
        stdout,
        stderr: stderr.replace(/\nBENCH_MAX_RSS_KB=\d+ BENCH_CPU_US=\d+\n/, ''),
      })
    })
  })
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', {maximumFractionDigits: digits, minimumFractionDigits: digits})
}

/**
 * Writes `head`, then `line(i)` for i from 0 to rows - 1, then `tail`, streaming in chunks of about 1 MB; skipped
 * when the file already holds something (generated data is kept in bench/.data between runs).
 */
export async function writeRowsOnce(file: string, rows: number, line: (i: number) => string, head = '', tail = ''): Promise<void> {
  if (await stat(file).then((s) => s.size > 0).catch(() => false)) return
  const out = createWriteStream(file)
  let chunk = head
  for (let i = 0; i < rows; i++) {
    chunk += line(i)
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()))
      chunk = ''
    }
  }
  out.write(chunk + tail)
  await new Promise<void>((r) => out.end(() => r()))
}

/** The value after `name` on the command line (`--rows 1000` gives '1000'), or undefined when the flag is absent. */
export function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i > 0 ? process.argv[i + 1] : undefined
}

/** The median of the samples (the mean of the two middle ones for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

const PLANS = ['free', 'pro', 'team', 'enterprise']

/** The header of the customer CSV the benchmarks generate: a key, an address and two attribute columns. */
export const CUSTOMER_HEAD = 'id,email,FirstName,Plan\n'

/** Row i of that CSV (with its newline). */
export function customerRow(i: number): string {
  return `cust-${i},user${i}@example.com,Name${i % 997},${PLANS[i % 4]}\n`
}

/** Writes the customer CSV with `rows` rows once (kept in bench/.data between runs, see writeRowsOnce). */
export function writeCustomersOnce(file: string, rows: number): Promise<void> {
  return writeRowsOnce(file, rows, customerRow, CUSTOMER_HEAD)
}

/** Why PostgreSQL at `url` cannot be reached, or undefined when it can. */
export async function pgProblem(url: string): Promise<string | undefined> {
  const {default: pg} = await import('pg')
  const client = new pg.Client({connectionString: url, connectionTimeoutMillis: 3000})
  client.on('error', () => undefined)
  try {
    await client.connect()
    return undefined
  } catch (error) {
    return (error as Error).message
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Deletes what a benchmark run left of `workspace` in the PostgreSQL state (a table not yet created is skipped). */
export async function dropWorkspace(url: string, workspace: string): Promise<void> {
  const {default: pg} = await import('pg')
  const client = new pg.Client({connectionString: url})
  await client.connect()
  try {
    for (const table of ['mcsend_messages', 'mcsend_sends', 'mcsend_lock_holders', 'mcsend_workspaces']) {
      await client.query(`DELETE FROM ${table} WHERE workspace = $1`, [workspace]).catch(() => undefined)
    }
  } finally {
    await client.end()
  }
}
