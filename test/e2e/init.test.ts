import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {GITIGNORE_LINES, schemaReference} from '../../src/core/init.js'
import {runCli} from '../helpers/project.js'

describe('mcsend init', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-init-'))
  })
  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('scaffolds a manifest that validates, plans and applies to the sandbox; status then reports it sent', async () => {
    const init = await runCli(['init', 'proj'], {cwd: dir})
    expect(init.code, init.stderr).toBe(0)
    expect(init.stdout).toContain('Created proj/welcome.yaml and proj/recipients.csv.')
    expect(init.stdout).toContain('mcsend validate proj/welcome.yaml')
    expect(init.stdout).toContain('mcsend plan proj/welcome.yaml')
    expect(init.stdout).toContain('mcsend apply proj/welcome.yaml --sandbox')
    const manifest = await readFile(path.join(dir, 'proj', 'welcome.yaml'), 'utf8')
    expect(manifest.split('\n')[0]).toBe('# yaml-language-server: $schema=./node_modules/mcsend/schemas/manifest.schema.json')

    const validate = await runCli(['validate', 'proj/welcome.yaml', '--json'], {cwd: dir})
    expect(validate.code, validate.stderr).toBe(0)
    expect(JSON.parse(validate.stdout)).toMatchObject({valid: true, sends: 1, recipients: 3})

    const work = path.join(dir, 'proj')
    const apply = await runCli(['apply', 'welcome.yaml', '--sandbox', '--auto-approve'], {cwd: work})
    expect(apply.code, apply.stderr).toBe(0)
    const status = await runCli(['status', '--sandbox', '--json'], {cwd: work})
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout).sends).toEqual([expect.objectContaining({send: 'welcome', accepted: 3, sent: 3})])
    const text = await runCli(['status', '--sandbox'], {cwd: work})
    expect(text.stdout).toMatch(/^welcome {2}3 accepted: 3 sent$/m)
    expect(text.stdout).toContain('3 already known as sent or not sent (not asked again)')
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

  it('points the schema comment at the node_modules of the nearest package.json', async () => {
    await writeFile(path.join(dir, 'package.json'), '{}')
    expect(schemaReference(path.join(dir, 'sends', 'q3'))).toBe('../../node_modules/mcsend/schemas/manifest.schema.json')
    expect(schemaReference(dir)).toBe('./node_modules/mcsend/schemas/manifest.schema.json')
  })
})
