import {randomUUID} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it, type TestContext} from 'vitest'

import {makeProject, runCli, type Project, type RunResult} from '../helpers/project.js'
import {startSandboxProcess, type SandboxProcess} from '../helpers/sandbox-process.js'

// One table of cases, two modes (design.md, "Two paths, one behaviour"):
// - sandbox: the spawned CLI with --sandbox (the fake runs inside the CLI process, state .mcsend/sandbox/state.json);
// - credentials: the spawned CLI given only MCSEND_AUTH_URL / MCSEND_CLIENT_ID / MCSEND_CLIENT_SECRET, pointing at
//   `mcsend sandbox` running as its own process, with the default state (.mcsend/state.json), as a user with an
//   account runs it.
// Every case uses its own send name, so the cases can share one sandbox process without sharing messageKeys.

interface Mode {
  name: 'sandbox' | 'credentials'
  run(p: Project, args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult>
  /** The messageKeys the fake accepted for this project's send. */
  delivered(p: Project, send: string): Promise<string[]>
  /** The state file the CLI writes in this mode, relative to the project. */
  stateFile: string
}

let server: SandboxProcess

beforeAll(async () => {
  server = await startSandboxProcess()
})

afterAll(async () => {
  await server?.stop()
})

const sandboxMode: Mode = {
  name: 'sandbox',
  run: (p, args, env) => runCli([...args, '--sandbox'], {cwd: p.dir, env}),
  async delivered(p, send) {
    let text = ''
    try {
      text = await readFile(path.join(p.dir, '.mcsend/sandbox/outbox.ndjson'), 'utf8')
    } catch {
      return []
    }
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => (JSON.parse(l) as {messageKey: string}).messageKey)
      .filter((k) => k.startsWith(`${send}.`))
  },
  stateFile: '.mcsend/sandbox/state.json',
}

const credentialsMode: Mode = {
  name: 'credentials',
  run: (p, args, env) => runCli(args, {cwd: p.dir, env: {...server.env, ...env}}),
  delivered: async (_p, send) => (await server.outbox()).map((e) => e.messageKey).filter((k) => k.startsWith(`${send}.`)),
  stateFile: '.mcsend/state.json',
}

const modes: Mode[] = [sandboxMode, credentialsMode]

async function project(t: TestContext, recipients: number): Promise<{p: Project; send: string}> {
  const send = `case-${randomUUID().slice(0, 8)}`
  const p = await makeProject({recipients, batchSize: 500, name: send})
  t.onTestFinished(() => p.cleanup())
  return {p, send}
}

async function savedKeys(p: Project, file: string): Promise<string[]> {
  const saved = JSON.parse(await readFile(path.join(p.dir, file), 'utf8')) as {sends: {batches: {messages: {messageKey: string}[]}[]}[]}
  return saved.sends.flatMap((s) => s.batches.flatMap((b) => b.messages.map((m) => m.messageKey)))
}

describe.concurrent.each(modes)('$name mode', (mode) => {
  it('plan --out then apply FILE sends exactly the saved plan once; the same file is then stale', async (t) => {
    const {p, send} = await project(t, 600)
    const plan = await mode.run(p, ['plan', 'send.yaml', '--out', 'plan.json', '--detailed-exitcode', '--no-step-summary'])
    expect(plan.code, plan.stderr).toBe(2)
    expect(plan.stderr).toContain(mode.name === 'sandbox' ? 'apply plan.json --sandbox' : 'apply plan.json`')
    const keys = await savedKeys(p, 'plan.json')
    expect(keys).toHaveLength(600)

    const apply = await mode.run(p, ['apply', 'plan.json'])
    expect(apply.code, apply.stderr).toBe(0)
    expect(apply.stdout).toContain('600 accepted')
    expect((await mode.delivered(p, send)).sort()).toEqual([...keys].sort())
    expect(JSON.parse(await readFile(path.join(p.dir, mode.stateFile), 'utf8'))).toMatchObject({serial: 1})

    const again = await mode.run(p, ['apply', 'plan.json'])
    expect(again.code, again.stderr).toBe(5)
    expect(again.stderr).toMatch(/state: \S+state\.json changed since the plan \(serial 0 → 1\)/)
    expect(await mode.delivered(p, send)).toHaveLength(600)

    const after = await mode.run(p, ['plan', 'send.yaml', '--detailed-exitcode', '--no-step-summary'])
    expect(after.code, after.stderr).toBe(0)
    expect(after.stdout).toContain('Plan: nothing to send across 1 send (600 already sent).')
  })

  it('refuses a saved plan made for the other target, naming both, and sends nothing', async (t) => {
    const {p, send} = await project(t, 3)
    const other = mode.name === 'sandbox' ? credentialsMode : sandboxMode
    expect((await other.run(p, ['plan', '--out', 'plan.json'])).code).toBe(0)
    const apply = await mode.run(p, ['apply', 'plan.json'])
    expect(apply.code).toBe(5)
    expect(apply.stderr).toMatch(mode.name === 'sandbox' ? /made for Marketing Cloud, but this apply targets the sandbox/ : /made for the sandbox \(plan --sandbox\), but this apply targets Marketing Cloud/)
    expect(await mode.delivered(p, send)).toEqual([])
  })
})
