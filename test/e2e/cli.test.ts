import {cp, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {existsSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ROOT, runCli} from '../helpers/project.js'
import {compileSchema} from '../helpers/schemas.js'

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-e2e-'))
  await cp(path.join(ROOT, 'examples'), path.join(dir, 'examples'), {recursive: true})
  await cp(path.join(ROOT, 'schemas'), path.join(dir, 'schemas'), {recursive: true})
})

afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

const run = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, {cwd: dir, env})
/** examples/release-announcement.yaml takes the release as variables. */
const RELEASE = {MCSEND_VAR_version: '4.3.0', MCSEND_VAR_version_slug: '4-3-0'}

describe('mcsend validate', () => {
  it('accepts the examples (exit 0)', async () => {
    const r = await run(['validate', 'examples'], RELEASE)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/ok: 5 manifest files valid: 6 sends, \d+ recipients/)
  })

  it('prints {valid, errors} with --json', async () => {
    const r = await run(['validate', 'examples', '--json'], RELEASE)
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({valid: true, errors: []})
  })

  it('locates every problem and exits 3', async () => {
    await writeFile(
      path.join(dir, 'bad.yaml'),
      [
        'apiVersion: mcsend/v1',
        'kind: Send',
        'name: bad-send',
        'definitonKey: release-notes',
        'batchSize: 5000',
        'recipients:',
        '  - inline:',
        '      - {contactKey: ann, to: "ann@"}',
        '',
      ].join('\n'),
    )
    const r = await run(['validate', 'bad.yaml'])
    expect(r.code).toBe(3)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/bad\.yaml:4:1 .*unknown field "definitonKey" \(did you mean "definitionKey"\?\)/)
    expect(r.stderr).toMatch(/bad\.yaml:5:12 .*2000/)
    expect(r.stderr).toMatch(/bad\.yaml:8:\d+ .*not an email address/)
    expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
    const j = await run(['validate', 'bad.yaml', '--json'])
    expect(j.code).toBe(3)
    const doc = JSON.parse(j.stdout)
    expect(doc.valid).toBe(false)
    expect(doc.errors.length).toBeGreaterThanOrEqual(3)
    for (const e of doc.errors) expect(e).toMatchObject({file: 'bad.yaml', line: expect.any(Number), column: expect.any(Number), message: expect.any(String)})
  })
})

describe('mcsend plan', () => {
  it('prints the plan with masked addresses and the closing line', async () => {
    const r = await run(['plan', 'examples/release-notes.yaml'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('send release-4-2-notes')
    expect(r.stdout).toMatch(/Plan: 13 messages to send in 1 request across 1 send\.\n$/)
    expect(r.stdout).not.toMatch(/[\w.+-]{2,}@example\.(com|org)/)
    expect(r.stdout).not.toContain('\u001B[')
  })

  it('--json is one document valid against schemas/plan.schema.json, without addresses', async () => {
    const r = await run(['plan', 'examples', '--json'], RELEASE)
    expect(r.code, r.stderr).toBe(0)
    const doc = JSON.parse(r.stdout)
    const validate = compileSchema('plan')
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true)
    expect(doc.summary.sends).toBe(6)
    expect(r.stdout).not.toMatch(/[\w.+-]{2,}@example\.(com|org)/)
  })

  it('--show-addresses prints them', async () => {
    const r = await run(['plan', 'examples/release-notes.yaml', '--show-addresses'])
    expect(r.stdout).toMatch(/[\w.+-]{2,}@example\.(com|org)/)
  })

  it('--detailed-exitcode exits 2 when there is something to send, 3 on invalid input', async () => {
    expect((await run(['plan', 'examples/release-notes.yaml', '--detailed-exitcode'])).code).toBe(2)
    expect((await run(['plan', 'bad.yaml', '--detailed-exitcode'])).code).toBe(3)
  })

  it('--send limits the plan, and an unknown name is invalid input', async () => {
    const r = await run(['plan', 'examples', '--send', 'release-4-2-notes', '--json'], RELEASE)
    expect(JSON.parse(r.stdout).sends.map((s: {name: string}) => s.name)).toEqual(['release-4-2-notes'])
    const bad = await run(['plan', 'examples', '--send', 'nope'], RELEASE)
    expect(bad.code).toBe(3)
    expect(bad.stderr).toContain('no send named "nope"')
  })
})

describe('saved plans without --sandbox', () => {
  it('plan --out writes a plan that show can read back', async () => {
    const out = await run(['plan', 'examples/release-notes.yaml', '--out', 'real-plan.json', '--state', 'real-state.json'])
    expect(out.code, out.stderr).toBe(0)
    const saved = JSON.parse(await readFile(path.join(dir, 'real-plan.json'), 'utf8'))
    expect(saved.sandbox).toBe(false)
    const shown = await run(['show', 'real-plan.json'])
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout).toContain('Plan: 13 messages to send in 1 request across 1 send.')
  })
})

describe('usage and safety', () => {
  it('an unknown flag is a usage error (64) with a hint', async () => {
    const r = await run(['plan', '--frobnicate'])
    expect(r.code).toBe(64)
    expect(r.stderr).toMatch(/error: .*frobnicate/)
  })

  it('a flag value that fails validation is invalid input (3), named, never an unexpected failure', async () => {
    const range = await run(['apply', 'examples/release-notes.yaml', '--sandbox', '--auto-approve', '--parallelism', '0'])
    expect(range.code).toBe(3)
    expect(range.stderr).toContain('error: --parallelism: expected an integer greater than or equal to 1 but received: 0')
    expect(range.stderr).not.toContain('unexpected failure')
    const option = await run(['plan', 'examples', '--format', 'xml'])
    expect(option.code).toBe(3)
    expect(option.stderr).toContain('--format=xml')
  })

  it('an unknown command exits 64, suggesting the closest one', async () => {
    const r = await run(['plann', 'examples'])
    expect(r.code).toBe(64)
    expect(r.stderr).toContain('unknown command "plann"')
    expect(r.stderr).toContain('did you mean `mcsend plan`?')
  })

  it('apply refuses without credentials, naming the variables and --sandbox', async () => {
    const r = await run(['apply', 'examples/release-notes.yaml', '--auto-approve'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('MCSEND_CLIENT_ID')
    expect(r.stderr).toContain('--sandbox')
    expect(existsSync(path.join(dir, '.mcsend', 'state.json'))).toBe(false)
  })

  it('apply in a non-interactive shell without --auto-approve refuses with 64 and sends nothing', async () => {
    const r = await run(['apply', 'examples/release-notes.yaml', '--sandbox'])
    expect(r.code).toBe(64)
    expect(r.stderr).toContain('--auto-approve')
    const outbox = path.join(dir, '.mcsend', 'sandbox', 'outbox.ndjson')
    expect(existsSync(outbox) ? (await readFile(outbox, 'utf8')).trim() : '').toBe('')
  })

  it('the README first command works twice: the second run sends nothing', async () => {
    const first = await run(['apply', 'examples/release-notes.yaml', '--sandbox', '--auto-approve'])
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toContain('Apply complete: 13 accepted.')
    const outbox = path.join(dir, '.mcsend', 'sandbox', 'outbox.ndjson')
    const lines = (await readFile(outbox, 'utf8')).trim().split('\n')
    expect(lines).toHaveLength(13)
    const second = await run(['apply', 'examples/release-notes.yaml', '--sandbox', '--auto-approve'])
    expect(second.code, second.stderr).toBe(0)
    expect(second.stdout).toContain('Nothing to send.')
    expect((await readFile(outbox, 'utf8')).trim().split('\n')).toHaveLength(13)
    const state = await readFile(path.join(dir, '.mcsend', 'sandbox', 'state.json'), 'utf8')
    expect(state).not.toContain('@')
  })

  it('every command help lists the exit codes and examples', async () => {
    for (const cmd of ['validate', 'plan', 'apply']) {
      const r = await run([cmd, '--help'])
      expect(r.code).toBe(0)
      expect(r.stdout).toContain('EXIT CODES')
      expect(r.stdout).toContain('EXAMPLES')
    }
  })
})
