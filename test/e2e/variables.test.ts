import {cp, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {describe, expect, it, type TestContext} from 'vitest'

import {ROOT, runCli} from '../helpers/project.js'
import {compileSchema} from '../helpers/schemas.js'

// End to end through the built CLI and the in-process sandbox: manifest variables in plan, saved plans and the state.
// The same flow in credentials mode (the sandbox as its own process) is test/e2e/environments.test.ts.

async function project(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-vars-'))
  t.onTestFinished(() => rm(dir, {recursive: true, force: true}))
  await cp(path.join(ROOT, 'examples'), path.join(dir, 'examples'), {recursive: true})
  await cp(path.join(ROOT, 'schemas'), path.join(dir, 'schemas'), {recursive: true})
  return dir
}

const MANIFEST = 'examples/release-announcement.yaml'
const release = (version: string) => ['--var', `version=${version}`, '--var', `version_slug=${version.replace(/\./g, '-')}`]

async function outboxKeys(dir: string): Promise<string[]> {
  try {
    const text = await readFile(path.join(dir, '.mcsend/sandbox/outbox.ndjson'), 'utf8')
    return text.split('\n').filter((l) => l.trim() !== '').map((l) => (JSON.parse(l) as {messageKey: string}).messageKey)
  } catch {
    return []
  }
}

describe.concurrent('manifest variables end to end (--sandbox)', () => {
  it('plan shows the resolved values and where they came from, in text, JSON and Markdown', {timeout: 120_000}, async (t) => {
    const dir = await project(t)
    const text = await runCli(['plan', MANIFEST, '--sandbox', ...release('4.3.0')], {cwd: dir})
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain('send release-4-3-0')
    expect(text.stdout).toContain('ReleaseVersion="4.3.0"')
    expect(text.stdout).toContain('version="4.3.0" (--var)')
    expect(text.stdout).toContain('notes_url="https://example.com/releases" (default)')

    const json = await runCli(['plan', MANIFEST, '--sandbox', '--json', '--var', 'version_slug=4-3-0'], {cwd: dir, env: {MCSEND_VAR_version: '4.3.0'}})
    expect(json.code, json.stderr).toBe(0)
    const doc = JSON.parse(json.stdout)
    const validate = compileSchema('plan')
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true)
    expect(doc.sends[0]).toMatchObject({name: 'release-4-3-0', variables: {version: '4.3.0', version_slug: '4-3-0'}, variableSources: {version: 'MCSEND_VAR_version', version_slug: '--var'}})

    const md = await runCli(['plan', MANIFEST, '--sandbox', '--format', 'markdown', ...release('4.3.0')], {cwd: dir})
    expect(md.stdout).toContain('release-4-3-0')
  })

  it('a --var-file sets values, a --var wins over it, and a --var nobody declares is refused', {timeout: 120_000}, async (t) => {
    const dir = await project(t)
    await writeFile(path.join(dir, 'release.yaml'), 'version: "4.4.0"\nversion_slug: 4-4-0\n')
    const fromFile = await runCli(['plan', MANIFEST, '--sandbox', '--json', '--var-file', 'release.yaml'], {cwd: dir})
    expect(JSON.parse(fromFile.stdout).sends[0].name).toBe('release-4-4-0')
    const overridden = await runCli(['plan', MANIFEST, '--sandbox', '--json', '--var-file', 'release.yaml', '--var', 'version_slug=4-4-0-rc1'], {cwd: dir})
    expect(JSON.parse(overridden.stdout).sends[0].name).toBe('release-4-4-0-rc1')
    const typo = await runCli(['plan', MANIFEST, '--sandbox', '--var-file', 'release.yaml', '--var', 'verison=1'], {cwd: dir})
    expect(typo.code).toBe(3)
    expect(typo.stderr).toContain('--var verison: no manifest declares this variable (did you mean version?)')
    const missing = await runCli(['plan', MANIFEST, '--sandbox', '--var-file', 'nope.yaml'], {cwd: dir})
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain('--var-file nope.yaml: no such file')
    const unset = await runCli(['validate', MANIFEST], {cwd: dir})
    expect(unset.code).toBe(3)
    expect(unset.stderr).toContain(`${MANIFEST}:9:3  variable version is not set`)
  })

  it('two releases: each is a new send with fresh keys, the same release again sends nothing, no rename warning', {timeout: 120_000}, async (t) => {
    const dir = await project(t)
    const first = await runCli(['apply', MANIFEST, '--sandbox', '--auto-approve', ...release('4.3.0')], {cwd: dir})
    expect(first.code, first.stderr).toBe(0)
    const afterFirst = await outboxKeys(dir)
    expect(afterFirst).toHaveLength(12)
    expect(afterFirst.every((k) => k.startsWith('release-4-3-0.r1.'))).toBe(true)

    const again = await runCli(['apply', MANIFEST, '--sandbox', '--auto-approve', ...release('4.3.0')], {cwd: dir})
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain('Nothing to send.')
    expect(await outboxKeys(dir)).toHaveLength(12)

    const plan = await runCli(['plan', MANIFEST, '--sandbox', '--format', 'markdown', ...release('4.4.0')], {cwd: dir})
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.stderr + plan.stdout).not.toMatch(/renam/i)
    // The diff compares the new release with the last one applied from the same manifest.
    // The template is untrusted text outside the plain set: an escaped <code> span (src/privacy).
    expect(plan.stdout).toContain('Changes since `release-4-3-0`, the last applied send named <code>release-&#36;&#123;&#123; vars.version&#95;slug &#125;&#125;</code>')
    expect(plan.stdout).toMatch(/^- {2}version: "4\.3\.0"$/m)
    expect(plan.stdout).toMatch(/^\+ {2}version: "4\.4\.0"$/m)

    const second = await runCli(['apply', MANIFEST, '--sandbox', '--auto-approve', ...release('4.4.0')], {cwd: dir})
    expect(second.code, second.stderr).toBe(0)
    const keys = await outboxKeys(dir)
    expect(keys).toHaveLength(24)
    expect(new Set(keys).size).toBe(24)

    // The state keeps each release's resolved, non-personal values.
    const state = JSON.parse(await readFile(path.join(dir, '.mcsend/sandbox/state.json'), 'utf8')) as {sends: Record<string, {variables?: object; nameTemplate?: string}>}
    expect(state.sends['release-4-3-0']).toMatchObject({nameTemplate: 'release-${{ vars.version_slug }}', variables: {version: '4.3.0', version_slug: '4-3-0'}})
    expect(state.sends['release-4-4-0']?.variables).toMatchObject({version: '4.4.0'})
    const validate = compileSchema('state')
    expect(validate(state), JSON.stringify(validate.errors)).toBe(true)
  })

  it('a saved plan records the values; apply FILE uses them, and refuses different ones as stale (exit 5)', {timeout: 120_000}, async (t) => {
    const dir = await project(t)
    const plan = await runCli(['plan', MANIFEST, '--sandbox', '--out', 'plan.json', ...release('4.3.0')], {cwd: dir})
    expect(plan.code, plan.stderr).toBe(0)
    const saved = JSON.parse(await readFile(path.join(dir, 'plan.json'), 'utf8'))
    const validate = compileSchema('saved-plan')
    expect(validate(saved), JSON.stringify(validate.errors)).toBe(true)
    expect(saved.variables).toEqual({version: '4.3.0', version_slug: '4-3-0'})
    expect(saved.sends[0].variables).toMatchObject({version: '4.3.0', version_slug: '4-3-0'})

    const otherValue = await runCli(['apply', 'plan.json', '--sandbox', '--var', 'version=4.3.1'], {cwd: dir})
    expect(otherValue.code).toBe(5)
    expect(otherValue.stderr).toContain('variable: send release-4-3-0: version was "4.3.0" in the plan, now "4.3.1" (from --var)')
    const otherEnv = await runCli(['apply', 'plan.json', '--sandbox'], {cwd: dir, env: {MCSEND_VAR_version_slug: '4-3-1'}})
    expect(otherEnv.code).toBe(5)
    expect(otherEnv.stderr).toContain('version_slug was "4-3-0" in the plan, now "4-3-1" (from MCSEND_VAR_version_slug)')
    expect(await outboxKeys(dir)).toEqual([])

    const same = await runCli(['apply', 'plan.json', '--sandbox', '--json'], {cwd: dir})
    expect(same.code, same.stderr).toBe(0)
    expect(await outboxKeys(dir)).toHaveLength(12)
  })
})
