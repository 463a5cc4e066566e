import {execFile} from 'node:child_process'
import {mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {parse} from 'yaml'

import {GITIGNORE_LINES, schemaReference} from '../../src/core/init.js'
import {ROOT, runCli} from '../helpers/project.js'
import {compileSchema} from '../helpers/schemas.js'

const git = (args: string[], cwd: string) => promisify(execFile)('git', args, {cwd})

describe('mcsend init', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-init-'))
  })
  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('scaffolds into a subfolder; its next steps (npx mcsend …, run from here) validate, plan and apply to the sandbox', async () => {
    const init = await runCli(['init', 'proj'], {cwd: dir})
    expect(init.code, init.stderr).toBe(0)
    expect(init.stdout).toContain('Created proj/welcome.yaml, proj/recipients.csv.')
    const next = init.stdout.split('\n').filter((l) => l.startsWith('  npx mcsend ')).map((l) => l.trim())
    expect(next).toEqual(['npx mcsend validate proj/welcome.yaml', 'npx mcsend plan proj/welcome.yaml', 'npx mcsend apply proj/welcome.yaml --sandbox'])
    const manifest = await readFile(path.join(dir, 'proj', 'welcome.yaml'), 'utf8')
    expect(manifest.split('\n')[0]).toBe('# yaml-language-server: $schema=./node_modules/mcsend/schemas/manifest.schema.json')
    expect(manifest).toContain('#   npx mcsend plan proj/welcome.yaml')

    // Each printed step, as printed, from the directory init ran in.
    for (const step of next) {
      const args = step.split(' ').slice(2)
      const run = await runCli(step.includes(' apply ') ? [...args, '--auto-approve'] : args, {cwd: dir})
      expect(run.code, `${step}\n${run.stderr}`).toBe(0)
    }
    const status = await runCli(['status', '--sandbox', '--json'], {cwd: dir})
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout).sends).toEqual([expect.objectContaining({send: 'welcome', accepted: 3, sent: 3})])
  })

  it('the .gitignore it writes ignores the sandbox outbox (addresses in clear) and the lock and journal where they are created', async () => {
    await git(['init', '-q'], dir)
    expect((await runCli(['init', 'sends'], {cwd: dir})).code).toBe(0)
    expect((await runCli(['apply', 'sends/welcome.yaml', '--sandbox', '--auto-approve'], {cwd: dir})).code).toBe(0)
    // A leftover lock and journal beside the default state, as a crash would leave them.
    await mkdir(path.join(dir, '.mcsend'), {recursive: true})
    await writeFile(path.join(dir, '.mcsend', 'state.json.lock'), '')
    await writeFile(path.join(dir, '.mcsend', 'state.json.journal'), '')
    const {stdout} = await git(['status', '--porcelain', '--untracked-files=all'], dir)
    const untracked = stdout.split('\n').filter((l) => l !== '').map((l) => l.slice(3))
    expect(untracked.some((f) => f.startsWith('.mcsend/sandbox/'))).toBe(false)
    expect(untracked).not.toContain('.mcsend/state.json.lock')
    expect(untracked).not.toContain('.mcsend/state.json.journal')
    expect(untracked).toEqual(expect.arrayContaining(['.gitignore', 'sends/welcome.yaml', 'sends/recipients.csv']))
  })

  it('--json describes what it wrote (init.schema.json); --ci github writes the example workflow pointed at the folder', async () => {
    const out = await runCli(['init', 'sends', '--ci', 'github', '--json'], {cwd: dir})
    expect(out.code, out.stderr).toBe(0)
    const doc = JSON.parse(out.stdout) as Record<string, unknown>
    const validate = compileSchema('init')
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true)
    expect(doc).toMatchObject({dir: 'sends', created: ['sends/welcome.yaml', 'sends/recipients.csv', '.github/workflows/mcsend.yml'], gitignore: {file: '.gitignore', added: GITIGNORE_LINES, created: true}})
    const workflow = parse(await readFile(path.join(dir, '.github', 'workflows', 'mcsend.yml'), 'utf8')) as {env: {SENDS: string}; on: {pull_request: {paths: string[]}; push: {paths: string[]}}; jobs: Record<string, unknown>}
    expect(workflow.env.SENDS).toBe('sends/')
    expect(workflow.on.pull_request.paths).toContain('sends/**')
    expect(workflow.on.push.paths).toEqual(['sends/**'])
    expect(Object.keys(workflow.jobs)).toEqual(['plan', 'apply'])
    // Its steps run what the scaffold holds.
    const validate2 = await runCli(['validate', workflow.env.SENDS], {cwd: dir})
    expect(validate2.code, validate2.stderr).toBe(0)

    const again = await runCli(['init', 'other', '--ci', 'github'], {cwd: dir})
    expect(again.code).toBe(3)
    expect(again.stderr).toContain('.github/workflows/mcsend.yml already exists')
    const bad = await runCli(['init', '--ci', 'jenkins'], {cwd: dir})
    expect(bad.code).toBe(3)
  })

  it('refuses to overwrite (exit 3, with a hint) unless --force, and appends .gitignore without duplicates', async () => {
    await writeFile(path.join(dir, '.gitignore'), 'node_modules/\n.mcsend/sandbox/')
    const first = await runCli(['init'], {cwd: dir})
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toContain('Updated .gitignore: .mcsend/*.lock, .mcsend/*.journal.')
    const gitignore = await readFile(path.join(dir, '.gitignore'), 'utf8')
    expect(gitignore.startsWith('node_modules/\n.mcsend/sandbox/\n')).toBe(true)
    for (const line of GITIGNORE_LINES) expect(gitignore.split('\n').filter((l) => l === line)).toHaveLength(1)

    await writeFile(path.join(dir, 'welcome.yaml'), 'my own\n')
    const again = await runCli(['init'], {cwd: dir})
    expect(again.code).toBe(3)
    expect(again.stderr).toContain('already exist')
    expect(again.stderr).toContain('--force')
    expect(await readFile(path.join(dir, 'welcome.yaml'), 'utf8')).toBe('my own\n')

    const forced = await runCli(['init', '--force'], {cwd: dir})
    expect(forced.code, forced.stderr).toBe(0)
    expect(await readFile(path.join(dir, 'welcome.yaml'), 'utf8')).toContain('apiVersion: mcsend/v1')
    expect(await readFile(path.join(dir, '.gitignore'), 'utf8')).toBe(gitignore)
  })

  it('points the schema comment at a schema that exists: in this repository, and in a project with mcsend as a dev dependency', async () => {
    // In mcsend's own repository the running package is the project: its schemas/ folder.
    const inRepo = path.join(ROOT, 'examples')
    const reference = schemaReference(inRepo)
    expect(reference).toBe('../schemas/manifest.schema.json')
    expect(JSON.parse(await readFile(path.resolve(inRepo, reference), 'utf8'))).toMatchObject({$schema: expect.any(String)})

    // A project with mcsend installed in node_modules/mcsend: the schema inside it, from any folder.
    await writeFile(path.join(dir, 'package.json'), '{}')
    const installed = path.join(dir, 'node_modules', 'mcsend')
    expect(schemaReference(path.join(dir, 'sends', 'q3'), installed)).toBe('../../node_modules/mcsend/schemas/manifest.schema.json')
    expect(schemaReference(dir, installed)).toBe('./node_modules/mcsend/schemas/manifest.schema.json')
    // mcsend installed elsewhere (globally): where a dev dependency will put it, never an absolute path.
    expect(schemaReference(dir, path.join(os.tmpdir(), 'global', 'mcsend'))).toBe('./node_modules/mcsend/schemas/manifest.schema.json')
  })
})
