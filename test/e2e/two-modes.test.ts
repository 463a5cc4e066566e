import {randomUUID} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it, type TestContext} from 'vitest'

import {makeProject, runCli, type Project, type RunResult} from '../helpers/project.js'
import {startSandboxProcess, type SandboxProcess} from '../helpers/sandbox-process.js'
import {compileSchema} from '../helpers/schemas.js'

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

describe.concurrent.each(modes)('$name mode: the state knows its target', (mode) => {
  it('records the target on the first apply; status and the state commands then read it', async (t) => {
    const {p} = await project(t, 3)
    const apply = await mode.run(p, ['apply', 'send.yaml', '--auto-approve'])
    expect(apply.code, apply.stderr).toBe(0)
    const state = JSON.parse(await readFile(path.join(p.dir, mode.stateFile), 'utf8')) as {target: unknown}
    // Credentials mode learns the business unit from the token (GET /v2/userinfo): MCSEND_ACCOUNT_ID is not set.
    expect(state.target).toEqual(mode.name === 'sandbox' ? {kind: 'sandbox'} : {kind: 'marketing-cloud', authHost: '127.0.0.1', accountId: '100000001'})
    const status = await mode.run(p, ['status', '--json'])
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({totals: {accepted: 3}})
    // state commands take --sandbox for the sandbox's state (credentials mode uses the default state).
    const list = await runCli(['state', 'list', '--json', ...(mode.name === 'sandbox' ? ['--sandbox'] : [])], {cwd: p.dir})
    expect(list.code, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout)).toMatchObject({total: 3})
  })
})

describe('credentials mode only: another business unit', () => {
  // Only credentials mode can switch business units: --sandbox ignores MCSEND_ACCOUNT_ID.
  it('refuses a state of another business unit (plan, apply, status) naming both, until `state retarget` moves it', async (t) => {
    const {p, send} = await project(t, 2)
    expect((await credentialsMode.run(p, ['apply', 'send.yaml', '--auto-approve'])).code).toBe(0)
    const other = {MCSEND_ACCOUNT_ID: '200000002'}
    for (const args of [['plan', 'send.yaml'], ['apply', 'send.yaml', '--auto-approve'], ['status']]) {
      const r = await credentialsMode.run(p, args, other)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(5)
      expect(r.stderr).toContain('the state belongs to the sandbox at 127.0.0.1, business unit 100000001, but this run targets the sandbox at 127.0.0.1, business unit 200000002')
      expect(r.stderr).toContain('mcsend state retarget')
    }
    expect((await server.outbox()).filter((e) => e.messageKey.startsWith(`${send}.`)).map((e) => e.mid)).toEqual(['100000001', '100000001'])
    const moved = await credentialsMode.run(p, ['state', 'retarget'], other)
    expect(moved.code, moved.stderr).toBe(0)
    expect(moved.stdout).toContain('moved from the sandbox at 127.0.0.1, business unit 100000001 to the sandbox at 127.0.0.1, business unit 200000002')
    const plan = await credentialsMode.run(p, ['plan', 'send.yaml', '--detailed-exitcode'], other)
    expect(plan.code, plan.stderr).toBe(0)
    const again = await credentialsMode.run(p, ['state', 'retarget', '--json'], other)
    const doc = JSON.parse(again.stdout) as unknown
    const validate = compileSchema('state-retarget')
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true)
    expect(doc).toMatchObject({changed: false, to: {kind: 'marketing-cloud', authHost: '127.0.0.1', accountId: '200000002'}})
  })
})

describe('sandbox mode only: an empty real state next to a sandbox state', () => {
  // Only --sandbox writes .mcsend/sandbox/state.json beside the default state.
  it('plan and state list say so', async (t) => {
    const {p} = await project(t, 2)
    expect((await sandboxMode.run(p, ['apply', 'send.yaml', '--auto-approve'])).code).toBe(0)
    const plan = await runCli(['plan', 'send.yaml'], {cwd: p.dir})
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.stderr).toContain('the state .mcsend/state.json is empty, but a sandbox state exists at .mcsend/sandbox/state.json: add --sandbox to use it')
    const list = await runCli(['state', 'list'], {cwd: p.dir})
    expect(list.stderr).toContain('add --sandbox to use it')
  })
})

describe('credentials mode only: an answer that settles nothing, then --refresh', () => {
  // Only a sandbox in its own process can be steered (control routes): the in-process one of --sandbox cannot.
  it('a 4xx listing a recipient without a code leaves it pending; plan --refresh asks the status endpoint', async (t) => {
    const {p, send} = await project(t, 1)
    const plan = await credentialsMode.run(p, ['plan', 'send.yaml', '--json'])
    const key = (JSON.parse(plan.stdout) as {sends: {batches: {messages: {messageKey: string}[]}[]}[]}).sends[0]!.batches[0]!.messages[0]!.messageKey
    await server.control('POST', 'faults', {kind: 'answer', route: 'send', status: 400, body: {errorcode: 109103, responses: [{messageKey: key}]}})
    const apply = await credentialsMode.run(p, ['apply', 'send.yaml', '--auto-approve'])
    expect(apply.code, apply.stderr).toBe(4)
    expect(apply.stdout).toContain('1 unanswered (kept pending)')
    const refresh = await credentialsMode.run(p, ['plan', 'send.yaml', '--refresh'])
    expect(refresh.code, refresh.stderr).toBe(0)
    // The answer was scripted: nothing reached the outbox, so the status endpoint does not know the key.
    expect(refresh.stdout).toMatch(/1 message to send/)
    expect(await credentialsMode.delivered(p, send)).toEqual([])
    const again = await credentialsMode.run(p, ['apply', 'send.yaml', '--auto-approve'])
    expect(again.code, again.stderr).toBe(0)
    expect(await credentialsMode.delivered(p, send)).toEqual([key])
  })
})
