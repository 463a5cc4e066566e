import {randomUUID} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it, vi, type TestContext} from 'vitest'

import {makeProject, runCli, startCli, waitFor, type Project, type RunResult} from '../helpers/project.js'
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

// Each case spawns the CLI a few times, several cases at once: on a loaded machine one case can need more than the
// default 30 s. The time limit only fails a hung case; no assertion depends on time.
vi.setConfig({testTimeout: 90_000})

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

/** `mcsend ARGS` in this mode, which must succeed (exit 0; its stderr says why not). */
async function succeeds(mode: Mode, p: Project, args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult> {
  const run = await mode.run(p, args, env)
  expect(run.code, run.stderr).toBe(0)
  return run
}

async function project(t: TestContext, recipients: number, batchSize = 500): Promise<{p: Project; send: string}> {
  const send = `case-${randomUUID().slice(0, 8)}`
  const p = await makeProject({recipients, batchSize, name: send})
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

    const apply = await succeeds(mode, p, ['apply', 'plan.json'])
    expect(apply.stdout).toContain('600 accepted')
    expect((await mode.delivered(p, send)).sort()).toEqual([...keys].sort())
    expect(JSON.parse(await readFile(path.join(p.dir, mode.stateFile), 'utf8'))).toMatchObject({serial: 1})

    const again = await mode.run(p, ['apply', 'plan.json'])
    expect(again.code, again.stderr).toBe(5)
    expect(again.stderr).toMatch(/state: \S+state\.json changed since the plan \(serial 0 → 1\)/)
    expect(await mode.delivered(p, send)).toHaveLength(600)

    const after = await succeeds(mode, p, ['plan', 'send.yaml', '--detailed-exitcode', '--no-step-summary'])
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

/** The messageKeys of the plan, by contactKey (`plan --json`). */
async function plannedKeys(mode: Mode, p: Project): Promise<Map<string, string>> {
  const plan = await succeeds(mode, p, ['plan', 'send.yaml', '--json'])
  const doc = JSON.parse(plan.stdout) as {sends: {batches: {messages: {messageKey: string; contactKey: string}[]}[]}[]}
  return new Map(doc.sends.flatMap((s) => s.batches.flatMap((b) => b.messages.map((m) => [m.contactKey, m.messageKey] as const))))
}

/** A full address of the test projects (cN@example.com); the masked form c***@example.com does not match. */
const FULL_ADDRESS = /\bc\d+@example\.com/

describe.concurrent.each(modes)('$name mode: the state commands', (mode) => {
  it('state rm KEY --yes, then a re-apply: Marketing Cloud answers 109110, the key is not delivered again', async (t) => {
    const {p, send} = await project(t, 2)
    await succeeds(mode, p, ['apply', 'send.yaml', '--auto-approve'])
    const keys = (await mode.delivered(p, send)).sort()
    expect(keys).toHaveLength(2)
    const key = keys[0]!

    const rm = await succeeds(mode, p, ['state', 'rm', key, '--yes'])
    expect(rm.stdout).toContain('Removed 1 record from ')
    expect(rm.stdout).toContain(key)
    const plan = await mode.run(p, ['plan', 'send.yaml', '--detailed-exitcode', '--no-step-summary'])
    expect(plan.code, plan.stderr).toBe(2)
    expect(plan.stdout).toContain('Plan: 1 message to send in 1 request across 1 send (1 already sent).')

    const again = await succeeds(mode, p, ['apply', 'send.yaml', '--auto-approve'])
    expect(again.stdout).toContain('Apply complete: 1 accepted, 1 of them Marketing Cloud already had (109110): not re-delivered')
    expect((await mode.delivered(p, send)).sort()).toEqual(keys)
    const show = await succeeds(mode, p, ['state', 'show', key, '--json'])
    expect(JSON.parse(show.stdout)).toMatchObject({messageKey: key, status: 'accepted', errorCode: 109110, errorMessage: expect.stringContaining('already had this key')})
  })

  it('state forget --contact-key X --yes removes that contact\'s records and prints no address', async (t) => {
    const {p, send} = await project(t, 3)
    const keys = await plannedKeys(mode, p)
    expect((await mode.run(p, ['apply', 'send.yaml', '--auto-approve'])).code).toBe(0)
    const forget = await succeeds(mode, p, ['state', 'forget', '--contact-key', 'c1', '--yes'])
    expect(forget.stdout).toContain('Removed 1 record of contact c1 from ')
    expect(forget.stdout).toContain(keys.get('c1'))
    expect(forget.stdout + forget.stderr).not.toMatch(/@/)
    const list = await succeeds(mode, p, ['state', 'list', '--json'])
    const records = (JSON.parse(list.stdout) as {records: {messageKey: string}[]}).records.map((r) => r.messageKey).sort()
    expect(records).toEqual([keys.get('c0'), keys.get('c2')].sort())
    expect(list.stdout).not.toMatch(FULL_ADDRESS)
    // Forgetting touches only the state: nothing was sent again.
    expect((await mode.delivered(p, send)).sort()).toEqual([...keys.values()].sort())
  })

  it('state show KEY --json and state list --status accepted --json after an apply', async (t) => {
    const {p, send} = await project(t, 3)
    await succeeds(mode, p, ['apply', 'send.yaml', '--auto-approve'])
    const keys = (await mode.delivered(p, send)).sort()
    expect(keys).toHaveLength(3)

    const show = await succeeds(mode, p, ['state', 'show', keys[1]!, '--json'])
    const record = JSON.parse(show.stdout) as unknown
    const validRecord = compileSchema('state-record')
    expect(validRecord(record), JSON.stringify(validRecord.errors)).toBe(true)
    expect(record).toMatchObject({messageKey: keys[1], send, revision: 1, status: 'accepted'})
    expect(show.stdout).not.toMatch(FULL_ADDRESS)

    const list = await succeeds(mode, p, ['state', 'list', '--status', 'accepted', '--json'])
    const doc = JSON.parse(list.stdout) as {total: number; records: {messageKey: string; status: string}[]}
    const validList = compileSchema('state-list')
    expect(validList(doc), JSON.stringify(validList.errors)).toBe(true)
    expect(doc.total).toBe(3)
    expect(doc.records.map((r) => r.messageKey).sort()).toEqual(keys)
    expect(doc.records.every((r) => r.status === 'accepted')).toBe(true)
    expect(list.stdout).not.toMatch(FULL_ADDRESS)
  })
})

/** GitHub Actions' default variables for a run, and a secret the Markdown must never print. */
const ACTIONS_ENV = {
  GITHUB_SHA: 'abcdef0123456789abcdef0123456789abcdef01',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'acme/sends',
  GITHUB_RUN_ID: '4242',
  GITHUB_TOKEN: 'ghs_not-a-real-token',
}
const PROVENANCE = 'Commit `abcdef012345` · [CI run](https://github.com/acme/sends/actions/runs/4242)'

describe.concurrent.each(modes)('$name mode: the review output', (mode) => {
  it('plan --out plan.json --format markdown and show plan.json --format markdown: what merging sends, where, from which commit, and no address', async (t) => {
    const send = `case-${randomUUID().slice(0, 8)}`
    const p = await makeProject({recipients: 3, batchSize: 500, name: send, withAttributes: true, inline: ['{contactKey: partner-ops, to: partner-ops@example.org, attributes: {FirstName: Partners}}']})
    t.onTestFinished(() => p.cleanup())
    const plan = await succeeds(mode, p, ['plan', 'send.yaml', '--out', 'plan.json', '--format', 'markdown', '--no-step-summary'], ACTIONS_ENV)
    // show reads only the file (no state, no connection, no --sandbox): the same command in both modes.
    const show = await runCli(['show', 'plan.json', '--format', 'markdown'], {cwd: p.dir, env: ACTIONS_ENV})
    expect(show.code, show.stderr).toBe(0)
    // Credentials mode names the tenant by the auth host of MCSEND_AUTH_URL; no MCSEND_ACCOUNT_ID is set.
    const where = mode.name === 'sandbox' ? 'the sandbox' : "Marketing Cloud tenant `127.0.0.1`, the credentials' default business unit"
    const totals = `| \`${send}\` | \`release-notes\` | 1 | 4 | 0 | 0 | 0 | 1 |`
    for (const out of [plan.stdout, show.stdout]) {
      expect(out.split('\n').slice(1, 4)).toEqual([`### Merging sends 4 emails to ${where}`, '', PROVENANCE])
      expect(out).toContain(totals)
      expect(out).toContain('| `ReleaseVersion` | `1.0.0` |')
      expect(out).toContain('| `people.csv` | 3 | 3 | 0 |\n| inline in `send.yaml` | 1 | 1 | 0 |')
      expect(out).toContain('**Requests:** 1 request of 4 messages.')
      expect(out).toContain('<details><summary>messageKeys of these recipients</summary>')
      expect(out).not.toMatch(FULL_ADDRESS)
      expect(out).not.toMatch(/partner-ops@|ghs_/)
    }
    // The live plan samples recipients with their addresses (masked) and attributes; the saved plan holds neither.
    expect(plan.stdout).toContain('| action | contactKey | to | FirstName |\n|---|---|---|---|\n| create | c0 | c***@&#8203;example.com | `Name0` |')
    expect(show.stdout).toContain('| action | contactKey |\n|---|---|\n| create | c0 |')
    expect(plan.stderr + show.stderr).not.toMatch(FULL_ADDRESS)
    expect(await mode.delivered(p, send)).toEqual([])
  })

  it('plan --show-addresses --format markdown: addresses in clear on stdout only; $GITHUB_STEP_SUMMARY stays masked', async (t) => {
    const {p, send} = await project(t, 3, 500)
    const summary = path.join(p.dir, 'step-summary.md')
    const plan = await succeeds(mode, p, ['plan', 'send.yaml', '--format', 'markdown', '--show-addresses'], {...ACTIONS_ENV, GITHUB_STEP_SUMMARY: summary})
    expect(plan.stdout).toContain('c0@&#8203;example.com')
    const stepSummary = await readFile(summary, 'utf8')
    expect(stepSummary).toContain('### Merging sends 3 emails to')
    expect(stepSummary).toContain('c***@&#8203;example.com')
    expect(stepSummary).not.toMatch(FULL_ADDRESS)
    expect(stepSummary).not.toContain('c0@&#8203;example.com')
    expect(await mode.delivered(p, send)).toEqual([])
  })

  it('apply --format markdown: the result for a comment on the merge, the plan on stderr', async (t) => {
    const {p, send} = await project(t, 5, 2)
    const apply = await succeeds(mode, p, ['apply', 'send.yaml', '--auto-approve', '--format', 'markdown'], ACTIONS_ENV)
    // The target the connection reached: credentials mode learns the business unit from the token.
    const where = mode.name === 'sandbox' ? 'the built-in sandbox &#40;nothing reaches a real inbox&#41;' : 'Marketing Cloud tenant 127.0.0.1, business unit 100000001'
    expect(apply.stdout.split('\n').slice(0, 4)).toEqual(['<!-- mcsend-apply -->', `### mcsend apply complete: 5 messages accepted by ${where}`, '', PROVENANCE])
    expect(apply.stdout).toContain('| accepted | 5 |\n| rejected | 0 |\n| pending (no answer; the next apply settles them) | 0 |')
    expect(apply.stdout).not.toContain('Rejected by code')
    expect(apply.stderr).toContain('Plan: 5 messages to send in 3 requests across 1 send.')
    expect(apply.stdout + apply.stderr).not.toMatch(FULL_ADDRESS)
    expect(apply.stdout + apply.stderr).not.toContain('ghs_')
    expect(await mode.delivered(p, send)).toHaveLength(5)
    const again = await succeeds(mode, p, ['apply', 'send.yaml', '--auto-approve', '--format', 'markdown'])
    expect(again.stdout).toBe('<!-- mcsend-apply -->\n### mcsend apply: nothing to send\n')
  })
})

describe('credentials mode only: apply --format markdown with rejected and pending messages', () => {
  // Only a sandbox in its own process can be steered (control routes) to answer one request with a rejection.
  it('counts accepted, rejected by code and pending; exit 4; names no recipient', async (t) => {
    const {p, send} = await project(t, 6, 2)
    const keys = await plannedKeys(credentialsMode, p)
    // The first request (c0, c1): c0 rejected with 109106, c1 listed without a code in a 400 (unknown: pending).
    await server.control('POST', 'faults', {
      kind: 'answer',
      route: 'send',
      status: 400,
      body: {errorcode: 109106, message: 'bad request', responses: [{messageKey: keys.get('c0'), errorcode: 109106, message: 'MCMS_UTM_Validation_MissingRequiredField_to for c0@example.com'}, {messageKey: keys.get('c1')}]},
    })
    t.onTestFinished(async () => {
      await server.control('DELETE', 'faults')
    })
    const apply = await credentialsMode.run(p, ['apply', 'send.yaml', '--auto-approve', '--format', 'markdown', '--parallelism', '1'], ACTIONS_ENV)
    expect(apply.code, apply.stderr).toBe(4)
    const md = apply.stdout
    expect(md.split('\n').slice(0, 4)).toEqual(['<!-- mcsend-apply -->', '### mcsend apply finished with problems: 4 messages accepted by Marketing Cloud tenant 127.0.0.1, business unit 100000001', '', PROVENANCE])
    expect(md).toContain('| accepted | 4 |\n| rejected | 1 |\n| pending (no answer; the next apply settles them) | 1 |')
    expect(md).toContain('**Rejected by code**\n\n| code | messages |\n|---|--:|\n| 109106 MCMS&#95;UTM&#95;Validation&#95;MissingRequiredField&#95;to | 1 |')
    expect(md).toContain('Run the same apply again to send the rest')
    expect(md).not.toMatch(/c\d@|ghs_/)
    for (const k of keys.values()) expect(md).not.toContain(k)
    expect((await credentialsMode.delivered(p, send)).sort()).toEqual(['c2', 'c3', 'c4', 'c5'].map((c) => keys.get(c)).sort())
  })
})

describe.concurrent.each(modes)('$name mode: the state knows its target', (mode) => {
  it('records the target on the first apply; status and the state commands then read it', async (t) => {
    const {p} = await project(t, 3)
    await succeeds(mode, p, ['apply', 'send.yaml', '--auto-approve'])
    const state = JSON.parse(await readFile(path.join(p.dir, mode.stateFile), 'utf8')) as {target: unknown}
    // Credentials mode learns the business unit from the token (GET /v2/userinfo): MCSEND_ACCOUNT_ID is not set.
    expect(state.target).toEqual(mode.name === 'sandbox' ? {kind: 'sandbox'} : {kind: 'marketing-cloud', authHost: '127.0.0.1', accountId: '100000001'})
    const status = await succeeds(mode, p, ['status', '--json'])
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
    const moved = await succeeds(credentialsMode, p, ['state', 'retarget'], other)
    expect(moved.stdout).toContain('moved from the sandbox at 127.0.0.1, business unit 100000001 to the sandbox at 127.0.0.1, business unit 200000002')
    await succeeds(credentialsMode, p, ['plan', 'send.yaml', '--detailed-exitcode'], other)
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
    const refresh = await succeeds(credentialsMode, p, ['plan', 'send.yaml', '--refresh'])
    // The answer was scripted: nothing reached the outbox, so the status endpoint does not know the key.
    expect(refresh.stdout).toMatch(/1 message to send/)
    expect(await credentialsMode.delivered(p, send)).toEqual([])
    await succeeds(credentialsMode, p, ['apply', 'send.yaml', '--auto-approve'])
    expect(await credentialsMode.delivered(p, send)).toEqual([key])
  })
})

describe('credentials mode only: a killed apply leaves a stale lock; state unlock, then a re-apply', () => {
  // Only a sandbox in its own process can be held mid-run (a delay fault through the control routes): the in-process
  // fake of --sandbox cannot be steered from outside, so there is no point at which to kill it deterministically.
  it('SIGKILL mid-run; state unlock removes the stale lock naming the dead apply; the re-apply delivers every key exactly once', async (t) => {
    const {p, send} = await project(t, 6, 2)
    const keys = [...(await plannedKeys(credentialsMode, p)).values()].sort()
    expect(keys).toHaveLength(6)
    // The first send request is answered only after a minute: its two messages are in the outbox, the run waits.
    await server.control('POST', 'faults', {kind: 'delay', route: 'send', times: 1, ms: 60_000})
    t.onTestFinished(async () => {
      await server.control('DELETE', 'faults')
    })
    const run = startCli(['apply', 'send.yaml', '--auto-approve', '--parallelism', '1'], {cwd: p.dir, env: server.env})
    await waitFor(async () => (await credentialsMode.delivered(p, send)).length >= 2, 20_000)
    run.child.kill('SIGKILL')
    const killed = await run.done
    expect(killed.signal).toBe('SIGKILL')
    expect(await credentialsMode.delivered(p, send)).toHaveLength(2)

    const unlock = await succeeds(credentialsMode, p, ['state', 'unlock'])
    expect(unlock.stdout).toContain(`held by apply (pid ${run.child.pid} on host`)
    expect(unlock.stdout).toContain('(stale)')
    const free = await succeeds(credentialsMode, p, ['state', 'unlock'])
    expect(free.stdout).toContain('is not locked')

    await succeeds(credentialsMode, p, ['apply', 'send.yaml', '--auto-approve'])
    const delivered = await credentialsMode.delivered(p, send)
    expect(delivered.sort()).toEqual(keys)
    expect(new Set(delivered).size).toBe(delivered.length)
    const list = await credentialsMode.run(p, ['state', 'list', '--status', 'accepted', '--json'])
    expect(JSON.parse(list.stdout)).toMatchObject({total: 6})
  })
})
