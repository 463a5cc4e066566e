import {readFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {openStateStore} from '../../src/state/open.js'
import {projectForTest, runCli} from '../helpers/project.js'
import {runInPty} from '../helpers/pty.js'
import {sandboxProcessForTest} from '../helpers/sandbox-process.js'

const PROMPT = 'Enter a value:'

/**
 * The approval of `apply` on a real pseudo-terminal: it names the target, needs the typed word `yes`, comes after
 * every check that can fail (lock, credentials, definitions), and a cancel exits 1 with nothing sent. Both paths:
 * --sandbox, and credentials mode (the sandbox as its own process, the CLI given only the MCSEND_ variables).
 */
describe('apply approval', () => {
  const outboxLines = async (dir: string) =>
    (await readFile(path.join(dir, '.mcsend', 'sandbox', 'outbox.ndjson'), 'utf8').catch(() => '')).split('\n').filter((l) => l !== '').length

  it('--sandbox: names the sandbox; "y" is not "yes": cancelled, exit 1, nothing sent; "yes" sends', async () => {
    const project = await projectForTest({recipients: 30, definitionKey: 'release-notes'})
    const cancel = runInPty(['apply', 'send.yaml', '--sandbox'], {cwd: project.dir})
    cancel.answer(PROMPT, 'y')
    const cancelled = await cancel.done
    expect(cancelled.output).toContain('Send 30 messages in 1 request to the built-in sandbox (nothing reaches a real inbox)?')
    expect(cancelled.output).toContain('Only "yes" is accepted to approve')
    expect(cancelled.output).toContain('Apply cancelled; nothing was sent.')
    expect(cancelled.code).toBe(1)
    expect(await outboxLines(project.dir)).toBe(0)

    const approve = runInPty(['apply', 'send.yaml', '--sandbox'], {cwd: project.dir})
    approve.answer(PROMPT, 'yes')
    const approved = await approve.done
    expect(approved.code, approved.output).toBe(0)
    expect(approved.output).toContain('Apply complete: 30 accepted.')
    expect(await outboxLines(project.dir)).toBe(30)
  })

  it('credentials mode: names the tenant and business unit; bad credentials or an unknown definition fail before the question', async () => {
    const sandbox = await sandboxProcessForTest({definitions: ['test-def=Active']})
    let project = await projectForTest({recipients: 5})
    const env = {...sandbox.env, MCSEND_ACCOUNT_ID: '514009876'}
    // The target as the connection reached it: the auth host's name and the business unit.
    const host = new URL(sandbox.env.MCSEND_AUTH_URL).hostname

    /** Fails before the question: the exit code and the reason, and no prompt shown. */
    const failsBeforeAsking = async (dir: string, runEnv: NodeJS.ProcessEnv, code: number, reason: string) => {
      const run = runInPty(['apply', 'send.yaml'], {cwd: dir, env: runEnv})
      run.answer(PROMPT, 'yes')
      const result = await run.done
      expect(result.code, result.output).toBe(code)
      expect(result.output).toContain(reason)
      expect(result.output).not.toContain(PROMPT)
    }
    await failsBeforeAsking(project.dir, {...env, MCSEND_CLIENT_SECRET: 'not-the-secret'}, 1, 'Marketing Cloud authentication failed')
    await project.cleanup()
    project = await projectForTest({recipients: 5, definitionKey: 'no-such-definition'})
    await failsBeforeAsking(project.dir, env, 3, 'send definition "no-such-definition" does not exist')

    // Another run holds the state's lock: refused with exit 5 before the question, nothing sent.
    await project.cleanup()
    project = await projectForTest({recipients: 5})
    const store = await openStateStore({spec: path.join('.mcsend', 'state.json'), cwd: project.dir, env: {}})
    const held = await store.lock({operation: 'apply', who: 'another-job', pid: process.pid, host: os.hostname(), since: new Date().toISOString()})
    try {
      await failsBeforeAsking(project.dir, env, 5, 'is locked by apply')
    } finally {
      await held.release()
      await store.close()
    }
    expect(await sandbox.outbox()).toHaveLength(0)

    await project.cleanup()
    project = await projectForTest({recipients: 5})
    const run = runInPty(['apply', 'send.yaml'], {cwd: project.dir, env})
    run.answer(PROMPT, 'yes')
    const sent = await run.done
    expect(sent.code, sent.output).toBe(0)
    expect(sent.output).toContain(`Send 5 messages in 1 request to Marketing Cloud tenant ${host}, business unit 514009876?`)
    expect(await sandbox.outbox()).toHaveLength(5)
  })

  it('without a terminal: refuses with exit 64 and sends nothing, before asking', async () => {
    const project = await projectForTest({recipients: 3, definitionKey: 'release-notes'})
    const result = await runCli(['apply', 'send.yaml', '--sandbox'], {cwd: project.dir})
    expect(result.code).toBe(64)
    expect(result.stderr).toContain('pass --auto-approve')
    expect(await outboxLines(project.dir)).toBe(0)
  })
})
