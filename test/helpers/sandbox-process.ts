import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {BIN} from './project.js'
import {onTestFinished} from 'vitest'

/**
 * Credentials mode: the sandbox as its own process (`mcsend sandbox --json --port 0`), and the environment a user
 * with an account would set (MCSEND_AUTH_URL, MCSEND_CLIENT_ID, MCSEND_CLIENT_SECRET). The CLI under test gets
 * only that environment, never --sandbox. Tests steer the sandbox through its control routes.
 */
export interface SandboxProcess {
  url: string
  /** The credentials a user with an account sets (no MCSEND_STATE: the test chooses its state). */
  env: {MCSEND_AUTH_URL: string; MCSEND_CLIENT_ID: string; MCSEND_CLIENT_SECRET: string}
  /** The sandbox's own state file, as `mcsend sandbox` prints it in its exports. */
  state: string
  dataDir: string
  /** A control request (/mcsend-sandbox/...); throws unless the answer is 2xx. */
  control(method: 'GET' | 'POST' | 'PUT' | 'DELETE', route: string, body?: unknown): Promise<unknown>
  /** Every message the sandbox accepted, from its control route. */
  outbox(): Promise<{messageKey: string; mid: string; definitionKey: string; contactKey: string; to: string}[]>
  stop(): Promise<void>
}

/** The environment a user with an account sets, pointed at an in-process sandbox (startSandbox): credentials mode. */
export function credentialsEnv(sandbox: {authUrl: string; clientId: string; clientSecret: string}): SandboxProcess['env'] {
  return {MCSEND_AUTH_URL: sandbox.authUrl, MCSEND_CLIENT_ID: sandbox.clientId, MCSEND_CLIENT_SECRET: sandbox.clientSecret}
}

export interface SandboxProcessOptions {
  /** --definition KEY=STATE flags. */
  definitions?: string[]
  dataDir?: string
}

/** startSandboxProcess, stopped when the current test finishes. */
export async function sandboxProcessForTest(options: SandboxProcessOptions = {}): Promise<SandboxProcess> {
  const sandbox = await startSandboxProcess(options)
  onTestFinished(() => sandbox.stop())
  return sandbox
}

export async function startSandboxProcess(options: SandboxProcessOptions = {}): Promise<SandboxProcess> {
  const ownDir = options.dataDir === undefined
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'mcsend-sandbox-')))
  const args = [BIN, 'sandbox', '--json', '--port', '0', '--data-dir', dataDir, ...(options.definitions ?? []).flatMap((d) => ['--definition', d])]
  const child: ChildProcess = spawn(process.execPath, args, {env: {PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  // The first stdout line is the connection document; the process keeps running after it.
  const doc = await new Promise<{url: string; clientSecret: string; state: string; env: SandboxProcess['env']}>((resolve, reject) => {
    let out = ''
    const onData = (d: Buffer) => {
      out += d.toString()
      const nl = out.indexOf('\n')
      if (nl === -1) return
      child.stdout!.off('data', onData)
      try {
        resolve(JSON.parse(out.slice(0, nl)))
      } catch (error) {
        reject(error as Error)
      }
    }
    child.stdout!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`mcsend sandbox exited with ${code} before listening: ${stderr}`)))
  })
  const control = async (method: string, route: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${doc.url}/mcsend-sandbox/${route}`, {
      method,
      headers: {'x-mcsend-sandbox-secret': doc.clientSecret, ...(body === undefined ? {} : {'content-type': 'application/json'})},
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`control ${method} ${route}: HTTP ${res.status} ${text}`)
    return text === '' ? undefined : JSON.parse(text)
  }
  return {
    url: doc.url,
    env: {MCSEND_AUTH_URL: doc.env.MCSEND_AUTH_URL, MCSEND_CLIENT_ID: doc.env.MCSEND_CLIENT_ID, MCSEND_CLIENT_SECRET: doc.env.MCSEND_CLIENT_SECRET},
    state: doc.state,
    dataDir,
    control,
    outbox: async () => ((await control('GET', 'outbox')) as {entries: Awaited<ReturnType<SandboxProcess['outbox']>>}).entries,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await exited
      }
      if (ownDir) await rm(dataDir, {recursive: true, force: true})
    },
  }
}
