import {execFileSync} from 'node:child_process'
import {mkdir, stat, symlink, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {describe, expect, it, onTestFinished} from 'vitest'

import {hostileProject, manifest, RAW_CONTROL, runCli, type RunResult} from './helpers.js'

/** A project in `<tmp>/project`, with a "home" beside it holding a secret the manifest must not reach. */
async function setup(files: Record<string, string | Buffer>): Promise<{root: string; dir: string}> {
  const p = await hostileProject({
    'home/ci/.ssh/id_ed25519': '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDSECRETSECRETSECRETSECRETSECRETSECRET0000000000AAAA\n-----END OPENSSH PRIVATE KEY-----\n',
    ...Object.fromEntries(Object.entries(files).map(([k, v]) => [`project/${k}`, v])),
  })
  onTestFinished(() => p.cleanup())
  return {root: p.dir, dir: path.join(p.dir, 'project')}
}

/** `mcsend validate TARGET` in `dir`, which must refuse it as invalid input (exit 3), saying each of `messages` on stderr. */
async function validateRefuses(dir: string, target: string, messages: string[] = []): Promise<RunResult> {
  const run = await runCli(['validate', target], {cwd: dir})
  expect(run.code, run.stderr).toBe(3)
  for (const message of messages) expect(run.stderr).toContain(message)
  return run
}

const SECRET_ENV = {MCSEND_CLIENT_SECRET: 'super-secret-client-value', MCSEND_STATE: 'postgres://mcsend:pg-password-123@127.0.0.1:1/x'}

function expectNothingLeaked(text: string): void {
  expect(text).not.toContain('super-secret-client-value')
  expect(text).not.toContain('pg-password-123')
  expect(text).not.toContain('b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ')
  expect(text).not.toContain('SECRETSECRET')
  expect(text).not.toMatch(RAW_CONTROL)
}

/** `mcsend ARGS` in `dir` must refuse the input (exit 3) and print nothing of a secret, on stdout or stderr. */
async function refusesWithoutLeak(args: string[], dir: string, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  const run = await runCli(args, {cwd: dir, env})
  expect(run.code, run.stderr).toBe(3)
  expectNothingLeaked(run.stdout + run.stderr)
  return run
}

const keyColumns = 'columns: {contactKey: "-----BEGIN OPENSSH PRIVATE KEY-----", to: "-----BEGIN OPENSSH PRIVATE KEY-----"}'

describe('sources stay inside the project', () => {
  it('/proc/self/environ is refused before it is opened, at the manifest line; --json carries nothing of it either', async () => {
    const {dir} = await setup({'send.yaml': manifest({recipients: ['- csv: /proc/self/environ']})})
    const message = 'csv source "/proc/self/environ" refused: an absolute path outside the source roots'
    const text = await refusesWithoutLeak(['plan', 'send.yaml'], dir, SECRET_ENV)
    expect(text.stderr).toContain(`send.yaml:6:10  recipients[0].csv  ${message}`)
    for (const args of [['plan', 'send.yaml', '--json'], ['validate', 'send.yaml', '--json']]) {
      const run = await refusesWithoutLeak(args, dir, SECRET_ENV)
      const doc = JSON.parse(run.stdout) as {errors: {file: string; line: number; column: number; message: string}[]}
      expect(doc.errors).toEqual([expect.objectContaining({file: 'send.yaml', line: 6, column: 10, message})])
    }
  })

  it('a `..` escape to a private key is refused, and no line of the key is printed', async () => {
    const {dir} = await setup({'send.yaml': manifest({recipients: ['- csv: ../home/ci/.ssh/id_ed25519', `  ${keyColumns}`]})})
    const run = await refusesWithoutLeak(['plan', 'send.yaml'], dir)
    expect(run.stderr).toContain('send.yaml:6:10  recipients[0].csv  csv source "../home/ci/.ssh/id_ed25519" refused: a path that leads outside the source roots')
    expect(run.stderr).toContain('(recipient files must be inside the project (the working directory); name other directories with --source-root DIR')
  })

  it('an in-repo symlink to the key is refused; so is a symlinked directory in a scan', async () => {
    const {root, dir} = await setup({'send.yaml': manifest({recipients: ['- csv: ./data.csv', `  ${keyColumns}`]})})
    await symlink(path.join(root, 'home/ci/.ssh/id_ed25519'), path.join(dir, 'data.csv'))
    await symlink(path.join(root, 'home'), path.join(dir, 'linked-home'))
    const run = await refusesWithoutLeak(['plan', '.'], dir)
    expect(run.stderr).toContain('csv source "./data.csv" refused: a symlink that resolves outside the source roots')
    expect(run.stderr).toContain('linked-home  refused: a symlink that resolves outside the source roots (not read)')
  })

  it('a FIFO is refused without blocking; a device too', async () => {
    const {dir} = await setup({'send.yaml': manifest({recipients: ['- csv: ./pipe.csv', '- ndjson: ./dev-null']})})
    execFileSync('mkfifo', [path.join(dir, 'pipe.csv')])
    await symlink('/dev/null', path.join(dir, 'dev-null'))
    await validateRefuses(dir, 'send.yaml', [
      'csv source "./pipe.csv" refused: not a regular file (a directory, FIFO, socket or device)',
      'ndjson source "./dev-null" refused: a symlink that resolves outside the source roots',
    ])
  })

  it('--source-root and MCSEND_SOURCE_ROOT name where data kept elsewhere may be read', async () => {
    const {root, dir} = await setup({'send.yaml': manifest({recipients: ['- csv: ../shared/people.csv', '  columns: {contactKey: id, to: email}']})})
    await mkdir(path.join(root, 'shared'))
    await writeFile(path.join(root, 'shared/people.csv'), 'id,email\nc1,c1@example.com\n')
    expect((await runCli(['validate', 'send.yaml'], {cwd: dir})).code).toBe(3)
    const flag = await runCli(['validate', 'send.yaml', '--source-root', '.', '--source-root', '../shared'], {cwd: dir})
    expect(flag.stderr).toBe('')
    expect(flag.stdout).toContain('1 recipient')
    const env = await runCli(['plan', 'send.yaml'], {cwd: dir, env: {MCSEND_SOURCE_ROOT: `${dir}${path.delimiter}${path.join(root, 'shared')}`}})
    expect(env.code).toBe(0)
    const missing = await runCli(['validate', 'send.yaml', '--source-root', '../nowhere'], {cwd: dir})
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain('source root ../nowhere: no such directory')
  })
})

describe('strict input', () => {
  it('invalid UTF-8 is a located error in a CSV source, a JSON source and a manifest', async () => {
    const bad = Buffer.concat([Buffer.from('id,email\nc1,c1@example.com\nc\xff'.replace('\xff', ''), 'utf8'), Buffer.from([0xff]), Buffer.from(',c2@example.com\n')])
    const {dir} = await setup({
      'send.yaml': manifest({recipients: ['- csv: ./people.csv', '  columns: {contactKey: id, to: email}', '- json: ./more.json']}),
      'people.csv': bad,
      'more.json': Buffer.concat([Buffer.from('[\n  {"contactKey": "k'), Buffer.from([0xc3, 0x28]), Buffer.from('", "to": "a@example.com"}\n]\n')]),
      'other.yaml': Buffer.concat([Buffer.from('apiVersion: mcsend/v1\nkind: Send\nname: o\ndefinitionKey: d'), Buffer.from([0xe2, 0x82]), Buffer.from('\n')]),
    })
    await validateRefuses(dir, '.', [
      'people.csv:3:2  invalid UTF-8 (byte 0xff); save the file as UTF-8',
      'error: 3 problems in 3 files',
      'more.json:2:20  invalid UTF-8 (byte 0xc3)',
      'other.yaml:4:17  invalid UTF-8 (byte 0xe2)',
    ])
  })

  it('integers beyond 2^53 and numbers too large are located, with "quote it"', async () => {
    const {dir} = await setup({
      'send.yaml': manifest({attributes: ['OrderId: 1234567890123456789', 'Huge: 1e400'], recipients: ['- ndjson: ./r.ndjson']}),
      'r.ndjson': '{"contactKey": "a", "to": "a@example.com", "attributes": {"OrderId": 98765432109876543210}}\n',
    })
    await validateRefuses(dir, 'send.yaml', [
      `send.yaml:6:12  the integer "1234567890123456789" is beyond JavaScript's safe range (it would be sent as 1234567890123456800) (quote it: "\\"1234567890123456789\\"")`,
      'send.yaml:7:9  the number "1e400" is too large to represent (it would become Infinity)',
      `r.ndjson:1:70  the integer "98765432109876543210" is beyond JavaScript's safe range`,
    ])
  })

  it('YAML nested 20,000 levels is a located error, not a stack overflow', async () => {
    const deep = manifest({attributes: [`A: ${'['.repeat(20_000)}${']'.repeat(20_000)}`], recipients: ['- inline: [{contactKey: a, to: a@example.com}]']})
    const block = `${manifest({recipients: ['- inline: [{contactKey: a, to: a@example.com}]']})}extra:\n${Array.from({length: 3000}, (_, i) => `${' '.repeat(i + 1)}k:`).join('\n')}\n`
    const {dir} = await setup({'flow.yaml': deep, 'block.yaml': block})
    const run = await validateRefuses(dir, '.')
    expect(run.stderr).not.toContain('call stack')
    expect(run.stderr).toContain('flow.yaml:6:68  nested more than 64 levels deep')
    expect(run.stderr).toContain('block.yaml:71:65  nested more than 64 levels deep')
  })

  it('contactKeys with surrounding spaces, NUL or 5,000 characters are refused (inline and CSV)', async () => {
    const {dir} = await setup({
      'send.yaml': manifest({
        recipients: [
          '- inline:',
          '    - {contactKey: " ann", to: a@example.com}',
          '    - {contactKey: "b\\0b", to: b@example.com}',
          `    - {contactKey: "${'c'.repeat(5000)}", to: c@example.com}`,
          '- csv: ./people.csv',
          '  columns: {contactKey: id, to: email}',
        ],
      }),
      'people.csv': `id,email\n"d ",d@example.com\n${'e'.repeat(300)},e@example.com\n`,
    })
    await validateRefuses(dir, 'send.yaml', [
      'send.yaml:7:22  recipients[0].inline[0].contactKey  must not start or end with whitespace',
      'send.yaml:8:22  recipients[0].inline[1].contactKey  must not contain control characters (found \\x00 at character 2)',
      "send.yaml:9:22  recipients[0].inline[2].contactKey  must be at most 254 characters, Marketing Cloud's limit (it has 5000)",
      'people.csv:2  id  contactKey must not start or end with whitespace',
      "people.csv:3  id  contactKey must be at most 254 characters, Marketing Cloud's limit (it has 300)",
    ])
  })

  it('an empty manifest and a header-only CSV: a warning in plan, an error in validate --strict', async () => {
    const {dir} = await setup({
      'empty.yaml': '# nothing here yet\n',
      'send.yaml': manifest({recipients: ['- csv: ./people.csv', '  columns: {contactKey: id, to: email}', '- inline: [{contactKey: a, to: a@example.com}]']}),
      'people.csv': 'id,email\n',
    })
    const plan = await runCli(['plan', 'empty.yaml', 'send.yaml'], {cwd: dir})
    expect(plan.code).toBe(0)
    expect(plan.stderr).toContain('warning: empty.yaml:1:1  no send in this file (it holds no YAML document)')
    expect(plan.stderr).toContain('warning: send.yaml:6:10  recipients[0].csv  csv source people.csv holds no recipients')
    const loose = await runCli(['validate', 'empty.yaml', 'send.yaml'], {cwd: dir})
    expect(loose.code).toBe(0)
    expect(loose.stderr).toContain('warning: empty.yaml:1:1')
    const strict = await runCli(['validate', 'empty.yaml', 'send.yaml', '--strict'], {cwd: dir})
    expect(strict.code).toBe(3)
    expect(strict.stderr).toContain('empty.yaml:1:1  no send in this file')
    expect(strict.stderr).toContain('send.yaml:6:10  recipients[0].csv  csv source people.csv holds no recipients')
    const json = await runCli(['validate', 'empty.yaml', 'send.yaml', '--json'], {cwd: dir})
    const doc = JSON.parse(json.stdout) as {valid: boolean; warnings: {file: string}[]}
    expect(doc.valid).toBe(true)
    expect(doc.warnings.map((w) => w.file)).toEqual(['empty.yaml', 'send.yaml'])
  })
})

describe('file modes', () => {
  it('a saved plan is 0600 even when the file existed with wider permissions', async () => {
    const {dir} = await setup({'send.yaml': manifest({recipients: ['- inline: [{contactKey: a, to: a@example.com}]']}), 'plan.json': '{}'})
    const run = await runCli(['plan', 'send.yaml', '--out', 'plan.json'], {cwd: dir})
    expect(run.code).toBe(0)
    expect((await stat(path.join(dir, 'plan.json'))).mode & 0o777).toBe(0o600)
  })
})
