import {describe, expect, it} from 'vitest'

import {projectForTest, runCli} from '../helpers/project.js'
import {sandboxProcessForTest} from '../helpers/sandbox-process.js'
import {compileSchema} from '../helpers/schemas.js'

/** `mcsend doctor` in credentials mode (the sandbox as its own process) and with --sandbox: checks, sends nothing. */
describe('mcsend doctor', () => {
  it('credentials mode: token, tenant, REST host, business unit and the definitions; nothing sent, no secret printed', async () => {
    const sandbox = await sandboxProcessForTest({definitions: ['test-def=Active', 'paused-def=Inactive']})
    let project = await projectForTest({recipients: 3, definitionKey: 'test-def'})
    const env = {...sandbox.env, MCSEND_ACCOUNT_ID: '514009876'}
    const host = new URL(sandbox.env.MCSEND_AUTH_URL).host

    const json = await runCli(['doctor', 'send.yaml', '--json'], {cwd: project.dir, env})
    expect(json.code, json.stderr).toBe(0)
    const doc = JSON.parse(json.stdout) as {ok: boolean; target: Record<string, string>; checks: {name: string; ok: boolean}[]}
    const validate = compileSchema('doctor')
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true)
    expect(doc.target).toEqual({kind: 'marketing-cloud', authHost: host, tenant: host, restHost: host, businessUnit: '514009876'})
    expect(doc.checks.map((c) => [c.name, c.ok])).toEqual([['credentials', true], ['token', true], ['rest-host', true], ['business-unit', true], ['definition:test-def', true]])

    const text = await runCli(['doctor', 'send.yaml'], {cwd: project.dir, env})
    expect(text.stdout).toContain(`Marketing Cloud tenant ${host} (${host})`)
    expect(text.stdout).toContain('✓ business-unit: 514009876 (MCSEND_ACCOUNT_ID)')
    expect(text.stdout).toContain('Everything checked is ready. Nothing was sent.')
    expect(text.stdout + text.stderr).not.toContain(sandbox.env.MCSEND_CLIENT_SECRET)
    expect(await sandbox.outbox()).toEqual([])

    // Without MCSEND_ACCOUNT_ID: the token's own business unit, as Marketing Cloud names it (GET /v2/userinfo).
    const own = await runCli(['doctor', 'send.yaml'], {cwd: project.dir, env: sandbox.env})
    expect(own.code, own.stderr).toBe(0)
    expect(own.stdout).toContain("✓ business-unit: 100000001 (the token's default business unit; MCSEND_ACCOUNT_ID unset)")

    // An Inactive and a missing definition: each its own ✗ with a hint, exit 1.
    await project.cleanup()
    project = await projectForTest({recipients: 3, definitionKey: 'paused-def'})
    const inactive = await runCli(['doctor', 'send.yaml'], {cwd: project.dir, env})
    expect(inactive.code).toBe(1)
    expect(inactive.stdout).toContain('✗ definition:paused-def: "paused-def" is Inactive: apply refuses it')
    expect(inactive.stdout).toContain('--allow-inactive')

    // A wrong secret: the token check fails, named; the secret given is never printed.
    const wrong = await runCli(['doctor', '--json'], {cwd: project.dir, env: {...env, MCSEND_CLIENT_SECRET: 'wrong-secret-value'}})
    expect(wrong.code).toBe(1)
    const failed = JSON.parse(wrong.stdout) as {ok: boolean; checks: {name: string; ok: boolean; detail: string}[]}
    expect(failed.ok).toBe(false)
    expect(failed.checks.at(-1)).toMatchObject({name: 'token', ok: false, detail: expect.stringContaining('authentication failed')})
    expect(wrong.stdout + wrong.stderr).not.toContain('wrong-secret-value')
  })

  it('--sandbox: the built-in sandbox and the example definitions; without credentials it says which variables to set', async () => {
    const project = await projectForTest({recipients: 3, definitionKey: 'release-notes'})
    const ok = await runCli(['doctor', 'send.yaml', '--sandbox'], {cwd: project.dir})
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toContain('The built-in sandbox')
    expect(ok.stdout).toContain('✓ definition:release-notes: "release-notes" is Active')
    const none = await runCli(['doctor'], {cwd: project.dir})
    expect(none.code).toBe(1)
    expect(none.stdout).toContain('✗ credentials: no Marketing Cloud credentials in the environment')
    expect(none.stdout).toContain('MCSEND_CLIENT_ID')
    const invalid = await runCli(['doctor', 'missing.yaml'], {cwd: project.dir})
    expect(invalid.code).toBe(3)
  })
})
