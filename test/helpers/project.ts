import {spawn} from 'node:child_process'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {onTestFinished} from 'vitest'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const BIN = path.join(ROOT, 'bin', 'run.js')

export interface Project {
  dir: string
  manifest: string
  cleanup(): Promise<void>
}

export interface ProjectOptions {
  name?: string
  definitionKey?: string
  recipients: number
  batchSize?: number
  /** Extra inline recipients, as YAML flow maps. */
  inline?: string[]
  withAttributes?: boolean
}

/** A temporary project: one manifest with a CSV source of `recipients` rows (cN, cN@example.com). */
export async function makeProject(options: ProjectOptions): Promise<Project> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-test-'))
  const rows = ['id,email' + (options.withAttributes ? ',FirstName' : '')]
  for (let i = 0; i < options.recipients; i++) rows.push(`c${i},c${i}@example.com${options.withAttributes ? `,Name${i}` : ''}`)
  await writeFile(path.join(dir, 'people.csv'), `${rows.join('\n')}\n`)
  const lines = [
    'apiVersion: mcsend/v1',
    'kind: Send',
    `name: ${options.name ?? 'test-send'}`,
    `definitionKey: ${options.definitionKey ?? 'release-notes'}`,
    'attributes:',
    '  ReleaseVersion: "1.0.0"',
  ]
  if (options.batchSize !== undefined) lines.push(`batchSize: ${options.batchSize}`)
  lines.push('recipients:', '  - csv: ./people.csv', '    columns: {contactKey: id, to: email}')
  if (options.inline && options.inline.length > 0) {
    lines.push('  - inline:')
    for (const r of options.inline) lines.push(`      - ${r}`)
  }
  const manifest = path.join(dir, 'send.yaml')
  await writeFile(manifest, `${lines.join('\n')}\n`)
  return {dir, manifest, cleanup: () => rm(dir, {recursive: true, force: true})}
}

/** makeProject, removed when the current test finishes. */
export async function projectForTest(options: ProjectOptions): Promise<Project> {
  const project = await makeProject(options)
  onTestFinished(() => project.cleanup())
  return project
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface Running {
  child: import('node:child_process').ChildProcess
  done: Promise<RunResult>
  stderrSoFar(): string
}

/** Spawns the built CLI (bin/run.js) with a clean, colourless environment. */
export function startCli(args: string[], options: {cwd: string; env?: NodeJS.ProcessEnv; input?: string}): Running {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NO_COLOR: '1',
    ...options.env,
  }
  const child = spawn(process.execPath, [BIN, ...args], {cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  if (options.input !== undefined) child.stdin!.end(options.input)
  else child.stdin!.end()
  const done = new Promise<RunResult>((resolve) => {
    child.on('close', (code, signal) => resolve({code, signal, stdout, stderr}))
  })
  return {child, done, stderrSoFar: () => stderr}
}

export function runCli(args: string[], options: {cwd: string; env?: NodeJS.ProcessEnv; input?: string}): Promise<RunResult> {
  return startCli(args, options).done
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 20): Promise<void> {
  const start = Date.now()
  while (!(await predicate())) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, stepMs))
  }
}
