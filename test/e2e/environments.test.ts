import {spawn} from 'node:child_process'
import {cp, mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it, type TestContext} from 'vitest'

import {pgAvailable, PG_URL, dropWorkspace, uniqueName} from '../helpers/pg.js'
import {BIN, ROOT, runCli, type RunResult} from '../helpers/project.js'
import {startSandboxProcess, type SandboxProcess} from '../helpers/sandbox-process.js'
import {compileSchema} from '../helpers/schemas.js'
import {PROJECT_FILE_HEAD} from '../helpers/manifests.js'
import {stateFileMessages} from '../helpers/state-file.js'

// Credentials mode (design.md, "Two paths, one behaviour"): `mcsend sandbox` runs as its own process and the CLI is
// never given --sandbox. The project file names each environment's auth URL and the NAMES of its credential
// variables; the CLI gets only those variables (DEV_ID, DEV_SECRET, …), never MCSEND_CLIENT_ID or MCSEND_AUTH_URL.

let server: SandboxProcess

beforeAll(async () => {
  server = await startSandboxProcess()
})

afterAll(async () => {
  await server?.stop()
})

const MANIFEST = 'examples/release-announcement.yaml'
const release = (version: string) => ['--var', `version=${version}`, '--var', `version_slug=${version.replace(/\./g, '-')}`]

interface Repo {
  dir: string
  /** The credential variables the project file names, with the sandbox's values. */
  env: NodeJS.ProcessEnv
  run(args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult>
}

/** A repository with the examples and a project file: dev (file state) and prod (protected; file or PostgreSQL state). */
async function repo(t: TestContext, options: {prodState?: string; prodWorkspace?: string; suffix?: string} = {}): Promise<Repo> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-env-'))
  t.onTestFinished(() => rm(dir, {recursive: true, force: true}))
  await mkdir(path.join(dir, '.git'))
  await cp(path.join(ROOT, 'examples'), path.join(dir, 'examples'), {recursive: true})
  // Each test sends under its own names, so the tests can share one sandbox process.
  const suffix = options.suffix ?? Math.random().toString(36).slice(2, 8)
  const manifest = (await readFile(path.join(dir, MANIFEST), 'utf8')).replace('name: release-${{ vars.version_slug }}', `name: release-${suffix}-\${{ vars.version_slug }}`)
  await writeFile(path.join(dir, MANIFEST), manifest)
  const lines = [
    ...PROJECT_FILE_HEAD,
    '  dev:',
    `    authUrl: ${server.env.MCSEND_AUTH_URL}`,
    '    accountId: "100001"',
    '    state: .mcsend/dev/state.json',
    '    clientIdEnv: DEV_ID',
    '    clientSecretEnv: DEV_SECRET',
    '    vars:',
    '      notes_url: https://staging.example.com/releases',
    '  prod:',
    `    authUrl: ${server.env.MCSEND_AUTH_URL}`,
    '    accountId: "200002"',
    `    state: ${options.prodState ?? '.mcsend/prod/state.json'}`,
    ...(options.prodWorkspace === undefined ? [] : [`    workspace: ${options.prodWorkspace}`]),
    '    clientIdEnv: PROD_ID',
    '    clientSecretEnv: PROD_SECRET',
    '    protected: true',
    '',
  ]
  await writeFile(path.join(dir, 'mcsend.yaml'), lines.join('\n'))
  const env = {
    DEV_ID: server.env.MCSEND_CLIENT_ID,
    DEV_SECRET: server.env.MCSEND_CLIENT_SECRET,
    PROD_ID: server.env.MCSEND_CLIENT_ID,
    PROD_SECRET: server.env.MCSEND_CLIENT_SECRET,
  }
  return {dir, env, run: (args, extra = {}) => runCli(args, {cwd: dir, env: {...env, ...extra}})}
}

async function delivered(prefix: string): Promise<string[]> {
  return (await server.outbox()).map((e) => e.messageKey).filter((k) => k.startsWith(prefix))
}

/**
 * Runs the CLI in a real pseudo-terminal (util-linux `script`), answering its prompt once `prompt` appears. Returns
 * the terminal transcript and the exit code.
 */
function runInTerminal(args: string[], cwd: string, env: NodeJS.ProcessEnv, prompt: string, answer: string): Promise<{code: number | null; output: string}> {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ')
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {cwd, env: {PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', TERM: 'dumb', ...env}, stdio: ['pipe', 'pipe', 'pipe']})
  let output = ''
  let answered = false
  const onData = (d: Buffer) => {
    output += d.toString()
    if (!answered && output.includes(prompt)) {
      answered = true
      child.stdin.write(`${answer}\r`)
    }
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  return new Promise((resolve) => child.on('close', (code) => resolve({code, output})))
}

describe.concurrent('environments and variables in credentials mode (the sandbox as its own process)', () => {
  it('two releases to dev: each a new send with fresh keys, the same tag again sends nothing, the state knows each release', {timeout: 120_000}, async (t) => {
    const r = await repo(t, {suffix: 'walk'})
    const plan = await r.run(['plan', MANIFEST, ...release('4.3.0')])
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.stdout).toContain(`environment dev: tenant ${new URL(server.env.MCSEND_AUTH_URL).host}, business unit 100001`)
    expect(plan.stdout).toContain('notes_url="https://staging.example.com/releases" (environment dev)')

    const first = await r.run(['apply', MANIFEST, '--auto-approve', ...release('4.3.0')])
    expect(first.code, first.stderr).toBe(0)
    expect(await delivered('release-walk-4-3-0.')).toHaveLength(12)

    const again = await r.run(['apply', MANIFEST, '--auto-approve', ...release('4.3.0')])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain('Nothing to send.')
    expect(await delivered('release-walk-4-3-0.')).toHaveLength(12)

    await writeFile(path.join(r.dir, 'release.yaml'), 'version: "4.4.0"\nversion_slug: 4-4-0\n')
    const second = await r.run(['apply', MANIFEST, '--auto-approve', '--var-file', 'release.yaml', '--json'])
    expect(second.code, second.stderr).toBe(0)
    expect(second.stderr + second.stdout).not.toMatch(/renam/i)
    const keys = await delivered('release-walk-')
    expect(keys).toHaveLength(24)
    expect(new Set(keys).size).toBe(24)

    const state = JSON.parse(await readFile(path.join(r.dir, '.mcsend/dev/state.json'), 'utf8')) as {sends: Record<string, {variables?: Record<string, unknown>}>}
    expect(Object.keys(state.sends).sort()).toEqual(['release-walk-4-3-0', 'release-walk-4-4-0'])
    expect(state.sends['release-walk-4-4-0']?.variables).toEqual({notes_url: 'https://staging.example.com/releases', version: '4.4.0', version_slug: '4-4-0'})
    // Nothing went to the default state, and status reads the environment's.
    await expect(readFile(path.join(r.dir, '.mcsend/state.json'))).rejects.toThrow()
    const status = await r.run(['status', '--json'])
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout).state).toBe('.mcsend/dev/state.json')
  })

  it('--env and MCSEND_ENV pick the environment, its state and its credentials; a saved plan is bound to its environment', {timeout: 120_000}, async (t) => {
    const r = await repo(t, {suffix: 'pick'})
    const plan = await r.run(['plan', MANIFEST, '--env', 'prod', '--out', 'plan.json', ...release('4.3.0')])
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.stdout).toContain('business unit 200002 (protected)')
    const saved = JSON.parse(await readFile(path.join(r.dir, 'plan.json'), 'utf8'))
    expect(saved.environment).toMatchObject({name: 'prod', accountId: '200002', protected: true})

    const wrongEnv = await r.run(['apply', 'plan.json', '--auto-approve'], {MCSEND_ENV: 'dev'})
    expect(wrongEnv.code).toBe(5)
    expect(wrongEnv.stderr).toContain('environment: the plan was made for environment prod')
    expect(wrongEnv.stderr).toContain('but this apply uses environment dev')

    // Without prod's credential variables nothing is sent, and the message names the variables, not values.
    const noCredentials = await runCli(['apply', 'plan.json', '--env', 'prod', '--auto-approve'], {cwd: r.dir, env: {DEV_ID: r.env.DEV_ID, DEV_SECRET: r.env.DEV_SECRET}})
    expect(noCredentials.code).toBe(1)
    expect(noCredentials.stderr).toContain('environment prod needs its credentials: PROD_ID and PROD_SECRET are not set')

    const applied = await r.run(['apply', 'plan.json', '--auto-approve'], {MCSEND_ENV: 'prod'})
    expect(applied.code, applied.stderr).toBe(0)
    expect(await delivered('release-pick-4-3-0.')).toHaveLength(12)
    const prodState = JSON.parse(await readFile(path.join(r.dir, '.mcsend/prod/state.json'), 'utf8')) as unknown
    expect(Object.keys(stateFileMessages(prodState))).toHaveLength(12)
    await expect(readFile(path.join(r.dir, '.mcsend/dev/state.json'))).rejects.toThrow()

    const unknown = await r.run(['plan', MANIFEST, '--env', 'staging', ...release('4.3.0')])
    expect(unknown.code).toBe(3)
    expect(unknown.stderr).toContain('--env "staging": mcsend.yaml has no such environment')
  })

  it('a protected environment asks for its name in a real terminal: a wrong answer sends nothing, the name sends', {timeout: 120_000}, async (t) => {
    const r = await repo(t, {suffix: 'tty'})
    // The question names the target and the environment; only the environment's name approves (review: a cancel exits 1).
    const prompt = 'Enter a value:'
    const wrong = await runInTerminal(['apply', MANIFEST, '--env', 'prod', ...release('4.3.0')], r.dir, r.env, prompt, 'yes')
    expect(wrong.output).toContain(', environment prod:')
    expect(wrong.output).toContain('(protected)?')
    expect(wrong.output).toContain('Only "prod" is accepted to approve')
    expect(wrong.output).toContain('Apply cancelled; nothing was sent.')
    expect(wrong.code).toBe(1)
    expect(await delivered('release-tty-')).toEqual([])

    const right = await runInTerminal(['apply', MANIFEST, '--env', 'prod', ...release('4.3.0')], r.dir, r.env, prompt, 'prod')
    expect(right.code, right.output).toBe(0)
    expect(await delivered('release-tty-4-3-0.')).toHaveLength(12)

    // dev is not protected: the typed word is yes, as for any apply.
    const dev = await runInTerminal(['apply', MANIFEST, '--env', 'dev', ...release('4.3.0')], r.dir, r.env, prompt, 'n')
    expect(dev.output).toContain('Only "yes" is accepted to approve')
    expect(dev.output).not.toContain('Only "dev"')

    // Without a terminal a protected apply needs --auto-approve (exit 64, nothing sent).
    const ci = await r.run(['apply', MANIFEST, '--env', 'prod', ...release('4.4.0')])
    expect(ci.code).toBe(64)
    expect(await delivered('release-tty-4-4-0.')).toEqual([])
  })

  it("refuses pointing prod at dev's state file, sending nothing", {timeout: 120_000}, async (t) => {
    const r = await repo(t, {suffix: 'bind'})
    const dev = await r.run(['apply', MANIFEST, '--auto-approve', ...release('4.3.0')])
    expect(dev.code, dev.stderr).toBe(0)
    const before = await delivered('release-bind-')
    const prod = await r.run(['apply', MANIFEST, '--env', 'prod', '--state', '.mcsend/dev/state.json', '--auto-approve', ...release('4.4.0')])
    expect(prod.code).toBe(3)
    expect(prod.stderr).toContain('environment prod would use the state of environment dev (.mcsend/dev/state.json), with --state/--workspace: refused')
    const plan = await r.run(['plan', MANIFEST, '--state', '.mcsend/dev/state.json', ...release('4.4.0')], {MCSEND_ENV: 'prod'})
    expect(plan.code).toBe(3)
    expect(await delivered('release-bind-')).toEqual(before)
  })

  it('state show, rm, forget and unlock take --env like plan and apply; doctor --env with --var checks that environment', {timeout: 120_000}, async (t) => {
    const r = await repo(t)
    const applied = await r.run(['apply', MANIFEST, '--env', 'prod', '--auto-approve', ...release('4.3.0')])
    expect(applied.code, applied.stderr).toBe(0)
    const list = await r.run(['state', 'list', '--env', 'prod', '--limit', '0', '--json'])
    const keys = (JSON.parse(list.stdout) as {records: {messageKey: string}[]}).records.map((x) => x.messageKey)
    expect(keys).toHaveLength(12)

    // Without --env the default environment (dev) is read: its state does not know the key.
    const inDev = await r.run(['state', 'show', keys[0]!, '--json'])
    expect(inDev.code).not.toBe(0)
    const show = await r.run(['state', 'show', keys[0]!, '--env', 'prod', '--json'])
    expect(show.code, show.stderr).toBe(0)
    expect(JSON.parse(show.stdout)).toMatchObject({messageKey: keys[0], status: 'accepted'})
    const byContact = await r.run(['state', 'show', '--contact-key', 'cust-1001', '--env', 'prod', '--json'])
    expect(byContact.code, byContact.stderr).toBe(0)
    expect(byContact.stdout).toContain('"status":"accepted"')

    const forget = await r.run(['state', 'forget', '--contact-key', 'cust-1001', '--env', 'prod', '--yes'])
    expect(forget.code, forget.stderr).toBe(0)
    expect(forget.stdout).toContain('Removed 1 record of contact cust-1001 from .mcsend/prod/state.json')
    // A key of another contact (the names, and so the keys, differ per run: keys[1] may be cust-1001's, just forgotten).
    const another = keys.find((k) => !byContact.stdout.includes(k))!
    const rm = await r.run(['state', 'rm', another, '--env', 'prod', '--yes'])
    expect(rm.code, rm.stderr).toBe(0)
    expect(rm.stdout).toContain('Removed 1 record from .mcsend/prod/state.json')
    const unlock = await r.run(['state', 'unlock', '--env', 'prod'])
    expect(unlock.code, unlock.stderr).toBe(0)
    expect(unlock.stdout).toContain('.mcsend/prod/state.json')
    expect(unlock.stdout).toContain('is not locked')
    const after = await r.run(['state', 'list', '--env', 'prod', '--limit', '0', '--json'])
    expect(JSON.parse(after.stdout)).toMatchObject({total: 10})

    const doctor = await r.run(['doctor', MANIFEST, '--env', 'prod', '--json', ...release('4.3.0')])
    expect(doctor.code, doctor.stderr).toBe(0)
    const report = JSON.parse(doctor.stdout) as {ok: boolean; target: {businessUnit?: string}; checks: {name: string; ok: boolean; detail: string}[]}
    expect(compileSchema('doctor')(report)).toBe(true)
    expect(report.target.businessUnit).toBe('200002')
    expect(report.checks.map((c) => [c.name, c.ok])).toEqual([['environment', true], ['credentials', true], ['token', true], ['rest-host', true], ['business-unit', true], ['definition:release-notes', true]])
    expect(report.checks[0]!.detail).toBe(`prod (mcsend.yaml): tenant ${new URL(server.env.MCSEND_AUTH_URL).host}, business unit 200002, protected`)
    expect(report.checks[1]!.detail).toBe('PROD_ID and PROD_SECRET set (environment prod)')
    expect(doctor.stdout).not.toContain(r.env.PROD_SECRET!)
    // The hint names the variables the environment reads, not MCSEND_CLIENT_*.
    const noSecret = await r.run(['doctor', '--env', 'prod'], {PROD_SECRET: ''})
    expect(noSecret.code).toBe(1)
    expect(noSecret.stdout).toContain('✗ credentials: environment prod reads its credentials from PROD_ID and PROD_SECRET: PROD_SECRET is not set')
    expect(noSecret.stdout).toContain('hint: set PROD_SECRET (named in mcsend.yaml)')
    const unset = await r.run(['doctor', MANIFEST, '--env', 'prod'])
    expect(unset.code).toBe(3)
    expect(unset.stderr).toContain('variable version is not set')
    const fromFile = path.join(r.dir, 'release.yaml')
    await writeFile(fromFile, 'version: "4.3.0"\nversion_slug: 4-3-0\n')
    const viaFile = await r.run(['doctor', MANIFEST, '--var-file', 'release.yaml'])
    expect(viaFile.code, viaFile.stderr).toBe(0)
    expect(viaFile.stdout).toContain('✓ environment: dev (mcsend.yaml)')
  })

  describe.skipIf(!pgAvailable)('with the prod state in PostgreSQL', () => {
    it("refuses pointing prod at dev's workspace, sending nothing", {timeout: 120_000}, async (t) => {
      const base = new URL(PG_URL)
      base.password = ''
      const workspace = uniqueName('envdev')
      t.onTestFinished(() => dropWorkspace(workspace))
      // Both environments on one database, in their own workspaces (dev's named explicitly).
      const r = await repo(t, {prodState: base.toString(), suffix: 'pgbind'})
      const text = (await readFile(path.join(r.dir, 'mcsend.yaml'), 'utf8')).replace('    state: .mcsend/dev/state.json', `    state: ${base.toString()}\n    workspace: ${workspace}`)
      await writeFile(path.join(r.dir, 'mcsend.yaml'), text)
      // Refused before the state is opened: no connection, so no password is needed here.
      const prod = await r.run(['apply', MANIFEST, '--env', 'prod', '--workspace', workspace, '--auto-approve', ...release('4.3.0')])
      expect(prod.code).toBe(3)
      expect(prod.stderr).toContain(`environment prod would use the state of environment dev (workspace ${workspace}), with --state/--workspace: refused`)
      expect(await delivered('release-pgbind-')).toEqual([])
    })

    it('applies to the prod workspace, reads it back with state list --env prod, and keeps dev in its file', {timeout: 120_000}, async (t) => {
      const workspace = uniqueName('envprod')
      t.onTestFinished(() => dropWorkspace(workspace))
      const url = new URL(PG_URL)
      // The password (if any) stays out of the project file: ${env.PGPASS_FOR_TEST}.
      const password = decodeURIComponent(url.password)
      url.password = ''
      const spec = password === '' ? url.toString() : url.toString().replace(`${url.username}@`, `${url.username}:\${env.PGPASS_FOR_TEST}@`)
      const r = await repo(t, {prodState: spec, prodWorkspace: workspace, suffix: 'pg'})
      const extra = password === '' ? {} : {PGPASS_FOR_TEST: password}
      const applied = await r.run(['apply', MANIFEST, '--env', 'prod', '--auto-approve', ...release('4.3.0')], extra)
      expect(applied.code, applied.stderr).toBe(0)
      expect(await delivered('release-pg-4-3-0.')).toHaveLength(12)

      const list = await r.run(['state', 'list', '--env', 'prod', '--limit', '0', '--json'], extra)
      expect(list.code, list.stderr).toBe(0)
      expect(JSON.parse(list.stdout).records).toHaveLength(12)
      const devList = await r.run(['state', 'list', '--json'])
      expect(JSON.parse(devList.stdout).records).toHaveLength(0)

      const again = await r.run(['plan', MANIFEST, '--env', 'prod', '--json', ...release('4.3.0')], extra)
      expect(JSON.parse(again.stdout).summary.toSend).toBe(0)
    })
  })
})
