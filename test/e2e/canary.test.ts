import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {deriveMessageKey} from '../../src/keys/message-key.js'
import {FileStateStore} from '../../src/state/file-store.js'
import type {MessageRecord} from '../../src/state/types.js'
import {runCli, startCli, waitFor} from '../helpers/project.js'
import {compileSchema} from '../helpers/schemas.js'
import {runInPty} from '../helpers/pty.js'
import {startSandboxProcess, type SandboxProcess} from '../helpers/sandbox-process.js'

const SEND = 'canary-release'
const SEEDS = ['qa-1', 'qa-2']
const AUDIENCE = 6
const key = (contactKey: string) => deriveMessageKey(SEND, 1, contactKey)

/** A manifest with two seed recipients (internal addresses) ahead of a CSV audience of six. */
async function makeCanaryProject(canary: {await?: string; timeout?: string} = {}): Promise<{dir: string; cleanup: () => Promise<void>}> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-canary-'))
  const rows = ['id,email', ...Array.from({length: AUDIENCE}, (_, i) => `c${i},customer${i}@example.com`)]
  await writeFile(path.join(dir, 'people.csv'), `${rows.join('\n')}\n`)
  const manifest = [
    'apiVersion: mcsend/v1',
    'kind: Send',
    `name: ${SEND}`,
    'definitionKey: release-notes',
    'canary:',
    '  recipients:',
    '    - inline:',
    ...SEEDS.map((s) => `        - {contactKey: ${s}, to: ${s}@team.example.com}`),
    `  await: ${canary.await ?? 'sent'}`,
    `  timeout: ${canary.timeout ?? '30s'}`,
    'recipients:',
    '  - csv: ./people.csv',
    '    columns: {contactKey: id, to: email}',
  ]
  await writeFile(path.join(dir, 'send.yaml'), `${manifest.join('\n')}\n`)
  return {dir, cleanup: () => rm(dir, {recursive: true, force: true})}
}

/**
 * The canary in credentials mode: the sandbox runs as its own process and the CLI gets only MCSEND_AUTH_URL,
 * MCSEND_CLIENT_ID and MCSEND_CLIENT_SECRET. The test scripts each canary key's status outcome through the sandbox's
 * control routes before apply runs, so every outcome is decided by the sandbox, never by timing.
 */
describe('apply with a canary (credentials mode)', () => {
  let sandbox: SandboxProcess
  let project: {dir: string; cleanup: () => Promise<void>}
  beforeEach(async () => {
    sandbox = await startSandboxProcess({definitions: ['release-notes=Active']})
  })
  afterEach(async () => {
    await sandbox.stop()
    await project?.cleanup()
  })

  const apply = (args: string[] = []) => runCli(['apply', 'send.yaml', '--auto-approve', ...args], {cwd: project.dir, env: sandbox.env})
  const sentKeys = async () => (await sandbox.outbox()).map((e) => e.messageKey)
  /** What the fake's status endpoint will say about this contact's message. */
  const outcome = (contactKey: string, event: Record<string, unknown>) => sandbox.control('PUT', `outcomes/${encodeURIComponent(key(contactKey))}`, event)
  const LIST_DETECTIVE = {event: 'notSent', statusCode: 24, statusMessage: 'ListDetectiveExclusion'}

  it('all canary messages sent: the rest follows, canary first; the outcome per recipient is masked', async () => {
    project = await makeCanaryProject()
    const plan = await runCli(['plan', 'send.yaml'], {cwd: project.dir, env: sandbox.env})
    expect(plan.stdout).toContain('canary         2 seed recipients first in 1 request, then wait up to 30s until each is sent')
    const markdown = await runCli(['plan', 'send.yaml', '--format', 'markdown'], {cwd: project.dir, env: sandbox.env})
    expect(markdown.stdout).toContain('**Canary step:** 2 seed recipients first in 1 request, then wait up to 30s until each is sent; the rest only after that.')

    const result = await apply()
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toContain('Canary passed: all 2 messages reached what they await.')
    expect(result.stderr).toMatch(/ok +canary-release {2}qa-1 {2}q\*\*\*@team\.example\.com {2}awaits sent {2}sent/)
    expect(result.stderr).toContain('After the canary: sent the other 6 messages.')
    expect(`${result.stdout}${result.stderr}`).not.toContain('qa-1@team.example.com')
    const keys = await sentKeys()
    expect(keys).toHaveLength(8)
    // The canary went out before anyone in the audience.
    expect(new Set(keys.slice(0, 2))).toEqual(new Set(SEEDS.map(key)))

    // A re-run sends nothing again (canary messages are ordinary state records).
    const again = await apply()
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('Nothing to send.')
    expect(await sentKeys()).toHaveLength(8)
  })

  it('one canary message not sent: stops with exit 4 naming the reason code, nothing more sent (text and JSON)', async () => {
    project = await makeCanaryProject()
    await outcome('qa-2', LIST_DETECTIVE)
    const result = await apply()
    expect(result.code, result.stderr).toBe(4)
    expect(result.stderr).toContain('Canary failed: 1 of 2 not sent (24 ListDetectiveExclusion).')
    expect(result.stderr).toMatch(/FAILED +canary-release {2}qa-2 .*not sent: 24 ListDetectiveExclusion/)
    expect(result.stderr).toContain('Stopped after the canary: the other 6 messages in 1 request were not sent.')
    expect(result.stdout).toContain('Apply stopped after the canary: 2 accepted, 6 not attempted.')
    expect(await sentKeys()).toEqual(SEEDS.map(key))

    // Again, as JSON events: the same verdict and still nothing more sent (the canary is awaited again, not re-sent).
    const json = await apply(['--json'])
    expect(json.code).toBe(4)
    const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    const validEvent = compileSchema('apply-events')
    for (const e of events) expect(validEvent(e), JSON.stringify(validEvent.errors)).toBe(true)
    const canary = events.find((e) => e.type === 'canary') as {verdict: string; recipients: {contactKey: string; state: string; statusCode?: number; earlier: boolean}[]}
    expect(canary.verdict).toBe('failed')
    expect(canary.recipients.map((r) => [r.contactKey, r.state, r.statusCode, r.earlier])).toEqual([
      ['qa-1', 'reached', undefined, true],
      ['qa-2', 'failed', 24, true],
    ])
    expect(events.at(-1)).toMatchObject({type: 'summary', exitCode: 4, notAttempted: 6, canary: {skipped: false, verdict: 'failed', continued: false, stoppedBy: 'verdict'}})
    expect(json.stdout).not.toContain('@team.example.com')
    expect(await sentKeys()).toEqual(SEEDS.map(key))

    // And as the Markdown result for a comment on the merge: stopped, with the reason code, no recipient.
    const md = await apply(['--format', 'markdown'])
    expect(md.code).toBe(4)
    expect(md.stdout).toContain('### mcsend apply stopped after the canary')
    expect(md.stdout).toContain('> [!CAUTION]\n> **Canary:** Canary failed: 1 of 2 not sent')
    expect(md.stdout).toContain('24 ListDetectiveExclusion')
    expect(md.stdout).not.toContain('qa-2')
    expect(await sentKeys()).toEqual(SEEDS.map(key))
  })

  it('canary messages of an earlier run older than the status reach: judged at once from the recorded delivery, else exit 4 naming --skip-canary', async () => {
    project = await makeCanaryProject({timeout: '24h'})
    await outcome('qa-2', LIST_DETECTIVE)
    const first = await apply()
    expect(first.code, first.stderr).toBe(4)
    expect(await sentKeys()).toEqual(SEEDS.map(key))
    // `mcsend status` records what Marketing Cloud said (qa-1 sent, qa-2 not sent) while it still answers.
    const status = await runCli(['status', 'send.yaml'], {cwd: project.dir, env: sandbox.env})
    expect(status.code, status.stderr).toBe(0)
    // Four days pass: the records' times move back through the store API (the sandbox still answers, so any
    // status request now would be seen in the verdict).
    const fourDaysAgo = new Date(Date.now() - 4 * 24 * 3600 * 1000).toISOString()
    const age = async (change: (r: MessageRecord) => MessageRecord) => {
      const store = new FileStateStore({path: path.join(project.dir, '.mcsend', 'state.json')})
      const lock = await store.lock({operation: 'test', who: 'test', pid: process.pid, host: 'test', since: new Date().toISOString()})
      const state = await store.load()
      await store.append(SEEDS.map((s) => change({...state.messages.get(key(s))!, at: fourDaysAgo})))
      await store.commit()
      await lock.release()
      await store.close()
    }
    await age((r) => (r.delivery === undefined ? r : {...r, delivery: {...r.delivery, at: fourDaysAgo}}))
    const recorded = await apply(['--json'])
    expect(recorded.code, recorded.stderr).toBe(4)
    const events = recorded.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    const canary = events.find((e) => e.type === 'canary') as {verdict: string; waitedMs: number; recipients: {contactKey: string; state: string; event: string; statusCode?: number}[]}
    expect(canary.recipients.map((r) => [r.contactKey, r.state, r.event, r.statusCode])).toEqual([
      ['qa-1', 'reached', 'sent', undefined],
      ['qa-2', 'failed', 'notSent', 24],
    ])
    expect(await sentKeys()).toEqual(SEEDS.map(key))

    // Without a recorded delivery, the sandbox would say qa-1 is sent: apply does not ask, it stops at once.
    await age(({delivery: _d, ...r}) => r)
    const gone = await apply()
    expect(gone.code).toBe(4)
    expect(gone.stderr).toContain('Canary cannot be judged: 2 of 2 accepted more than 3 days ago, and Marketing Cloud no longer reports them')
    expect(gone.stderr).toContain('--skip-canary sends the rest without waiting')
    expect(gone.stderr).not.toContain('Canary: waiting up to')
    expect(await sentKeys()).toEqual(SEEDS.map(key))

    // Recorded as sent (as `mcsend status` would have), the canary passes at once and the rest goes, once.
    await age((r) => ({...r, delivery: {event: 'sent', at: fourDaysAgo, checkedAt: fourDaysAgo}}))
    const passed = await apply()
    expect(passed.code, passed.stderr).toBe(0)
    expect(passed.stderr).toContain('Canary passed')
    expect((await sentKeys()).sort()).toEqual([...SEEDS, ...Array.from({length: AUDIENCE}, (_, i) => `c${i}`)].map(key).sort())
  })

  it('a canary message rejected by the send request fails the canary at once, naming the code', async () => {
    project = await makeCanaryProject()
    await sandbox.control('PUT', `rejections/${encodeURIComponent(key('qa-1'))}`, {errorcode: 109106, message: 'MCMS_UTM_Validation_MissingRequiredField_to'})
    const result = await apply()
    expect(result.code).toBe(4)
    expect(result.stderr).toContain('rejected (109106): MCMS_UTM_Validation_MissingRequiredField_to')
    expect(await sentKeys()).toEqual([key('qa-2')])
  })

  it('a rejection message with terminal control characters is shown escaped, in the headline too', async () => {
    project = await makeCanaryProject()
    // Marketing Cloud's message is untrusted text: ESC [2J would clear the screen, ESC ]8 would hide a link.
    await sandbox.control('PUT', `rejections/${encodeURIComponent(key('qa-1'))}`, {errorcode: 109106, message: 'bad\u001b[2J\u001b]8;;x\u0007 value'})
    const result = await apply()
    expect(result.code).toBe(4)
    expect(result.stderr).toContain('Canary failed: 1 of 2 not sent (rejected (109106): bad\\x1b[2J\\x1b]8;;x\\x07 value).')
    for (const raw of ['\u001b', '\u0007']) expect(`${result.stdout}${result.stderr}`).not.toContain(raw)
  })

  it('a canary whose every seed is suppressed is refused (exit 3), never passed with nothing awaited; nothing is sent', async () => {
    project = await makeCanaryProject()
    await writeFile(path.join(project.dir, 'optout.ndjson'), SEEDS.map((s) => JSON.stringify(s)).join('\n') + '\n')
    await writeFile(path.join(project.dir, 'send.yaml'), `${await readFile(path.join(project.dir, 'send.yaml'), 'utf8')}suppress:\n  - ndjson: ./optout.ndjson\n    match: contactKey\n`)
    const result = await apply()
    expect(result.code, result.stderr).toBe(3)
    expect(result.stderr).toContain('canary')
    expect(result.stderr).toContain('suppressed')
    expect(result.stderr).not.toContain('Canary passed')
    expect(await sentKeys()).toEqual([])
  })

  it('first: N with a suppressed recipient among the first N: the canary is the first N recipients that are sent to', async () => {
    project = await makeCanaryProject()
    const manifest = (await readFile(path.join(project.dir, 'send.yaml'), 'utf8')).replace(/canary:\n {2}recipients:\n {4}- inline:\n(?: {8}- .*\n)+/, 'canary:\n  first: 2\n')
    await writeFile(path.join(project.dir, 'optout.ndjson'), '"c0"\n')
    await writeFile(path.join(project.dir, 'send.yaml'), `${manifest}suppress:\n  - ndjson: ./optout.ndjson\n    match: contactKey\n`)
    const plan = await runCli(['plan', 'send.yaml', '--json'], {cwd: project.dir, env: sandbox.env})
    expect(plan.code, plan.stderr).toBe(0)
    expect((JSON.parse(plan.stdout) as {sends: {canary: unknown}[]}).sends[0]!.canary).toMatchObject({size: 2, toSend: 2})
    await outcome('c2', LIST_DETECTIVE)
    const result = await apply()
    expect(result.code, result.stderr).toBe(4)
    expect(await sentKeys()).toEqual([key('c1'), key('c2')])
  })

  it('timeout: a canary message that stays queued stops apply with exit 4 once the time limit passed', async () => {
    project = await makeCanaryProject({timeout: '1s'})
    await outcome('qa-1', {event: 'queued'})
    const result = await apply()
    expect(result.code, result.stderr).toBe(4)
    expect(result.stderr).toMatch(/Canary timed out after \d+s: 1 of 2 not there yet\./)
    expect(result.stderr).toMatch(/waiting +canary-release {2}qa-1 .*queued \(not sent yet\)/)
    expect(await sentKeys()).toEqual(SEEDS.map(key))
  })

  it('await: accepted lets a queued canary through (applied from a saved plan)', async () => {
    project = await makeCanaryProject({await: 'accepted', timeout: '1m'})
    await outcome('qa-1', {event: 'queued'})
    // Through a saved plan this time: it carries the canary step, and applying it (no prompt) runs the canary first.
    const saved = await runCli(['plan', 'send.yaml', '--out', 'saved.json'], {cwd: project.dir, env: sandbox.env})
    expect(saved.code, saved.stderr).toBe(0)
    const savedPlan = JSON.parse(await readFile(path.join(project.dir, 'saved.json'), 'utf8')) as {sends: {canary?: unknown}[]}
    expect(compileSchema('saved-plan')(savedPlan)).toBe(true)
    expect(savedPlan.sends[0]!.canary).toMatchObject({from: 'seeds', size: 2, await: 'accepted', batches: 1, toSend: 2})
    const shown = await runCli(['show', 'saved.json'], {cwd: project.dir})
    expect(shown.stdout).toContain('canary         2 seed recipients first in 1 request, then wait up to 1m until each is accepted')
    const result = await runCli(['apply', 'saved.json'], {cwd: project.dir, env: sandbox.env})
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/ok +canary-release {2}qa-1 .*accepted \(queued\)/)
    expect(await sentKeys()).toHaveLength(8)
  })

  it('--skip-canary sends everything at once and says so loudly (stderr, JSON)', async () => {
    project = await makeCanaryProject()
    await outcome('qa-2', LIST_DETECTIVE)
    const result = await apply(['--skip-canary', '--json'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toContain('WARNING: --skip-canary: the canary (2 messages) is not awaited; every request is sent at once.')
    const events = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(events.some((e) => e.type === 'canary_skipped' && e.messages === 2)).toBe(true)
    const validEvent = compileSchema('apply-events')
    for (const e of events) expect(validEvent(e), JSON.stringify(validEvent.errors)).toBe(true)
    expect(events.at(-1)).toMatchObject({type: 'summary', canary: {skipped: true, messages: 2}})
    expect(await sentKeys()).toHaveLength(8)
  })

  it('interactive: after the canary it asks again; yes sends the rest, anything else stops (exit 1)', async () => {
    project = await makeCanaryProject()
    const stop = runInPty(['apply', 'send.yaml'], {cwd: project.dir, env: sandbox.env})
    stop.answer('Enter a value:', 'yes')
    stop.answer('Send the other 6 messages in 1 request', 'no')
    const stopped = await stop.done
    expect(stopped.code, stopped.output).toBe(1)
    expect(stopped.output).toContain('Canary passed')
    expect(stopped.output).toContain('Stopped after the canary on your answer: the other 6 messages in 1 request were not sent.')
    expect(await sentKeys()).toEqual(SEEDS.map(key))

    // The next run awaits the same canary again (accepted before, not re-sent), asks, and sends the rest on yes.
    const go = runInPty(['apply', 'send.yaml'], {cwd: project.dir, env: sandbox.env})
    go.answer('Enter a value:', 'yes')
    go.answer('Send the other 6 messages in 1 request', 'yes')
    const continued = await go.done
    expect(continued.code, continued.output).toBe(0)
    expect(continued.output).toContain('(accepted before)')
    expect(continued.output).toContain('After the canary: sent the other 6 messages.')
    const keys = await sentKeys()
    expect(keys).toHaveLength(8)
    expect(new Set(keys).size).toBe(8)
  })

  it('first: N takes the canary from the audience; a 429 on the status route slows the wait down, it does not fail it', async () => {
    project = await makeCanaryProject()
    const manifest = (await readFile(path.join(project.dir, 'send.yaml'), 'utf8')).replace(/canary:\n {2}recipients:\n {4}- inline:\n(?: {8}- .*\n)+/, 'canary:\n  first: 2\n')
    await writeFile(path.join(project.dir, 'send.yaml'), manifest)
    // apply first asks about 3 keys of a send the state never saw (core/known-keys.ts): let those through, so the
    // 429 lands in the canary's wait.
    await sandbox.control('POST', 'faults', {kind: 'delay', route: 'status', ms: 1, times: 3})
    await sandbox.control('POST', 'faults', {kind: 'status', route: 'status', status: 429, errorcode: 50100, retryAfter: 1, times: 1})
    const result = await apply()
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/ok +canary-release {2}c0 {2}c\*\*\*@example\.com {2}awaits sent {2}sent/)
    expect(result.stderr).toContain('After the canary: sent the other 4 messages.')
    const keys = await sentKeys()
    expect(keys.slice(0, 2)).toEqual([key('c0'), key('c1')])
    expect(keys).toHaveLength(AUDIENCE)
    // The empty-state check's 3, two canary keys, each asked once, and the one request the sandbox answered 429
    // (retried after Retry-After).
    expect(((await sandbox.control('GET', 'stats')) as {statusRequests: number}).statusRequests).toBe(6)
  })

  it('Ctrl-C while waiting for the canary: exit 130, nothing more sent', async () => {
    project = await makeCanaryProject({timeout: '5m'})
    await outcome('qa-2', {event: 'queued'})
    const first = startCli(['apply', 'send.yaml', '--auto-approve'], {cwd: project.dir, env: sandbox.env})
    await waitFor(() => first.stderrSoFar().includes('waiting up to 5m'), 20_000)
    first.child.kill('SIGINT')
    const interrupted = await first.done
    expect(interrupted.code, interrupted.stderr).toBe(130)
    expect(interrupted.stdout).toContain('Apply interrupted: 2 accepted, 6 not attempted.')
    expect(await sentKeys()).toEqual(SEEDS.map(key))
  })

  it('re-run after a crash mid-canary (SIGKILL while waiting): no canary message twice, the audience once', async () => {
    project = await makeCanaryProject({timeout: '5m'})
    // qa-1 stays queued, so the first run is still waiting when it is killed.
    await outcome('qa-1', {event: 'queued'})
    const first = startCli(['apply', 'send.yaml', '--auto-approve'], {cwd: project.dir, env: sandbox.env})
    await waitFor(() => first.stderrSoFar().includes('waiting up to 5m'), 20_000)
    first.child.kill('SIGKILL')
    const killed = await first.done
    expect(killed.signal).toBe('SIGKILL')
    expect(await sentKeys()).toEqual(SEEDS.map(key))

    // Marketing Cloud sends it after all; the re-run takes over the dead run's lock and state, and resumes the wait.
    await outcome('qa-1', {event: 'sent'})
    const plan = await runCli(['plan', 'send.yaml', '--json'], {cwd: project.dir, env: sandbox.env})
    expect(compileSchema('plan')(JSON.parse(plan.stdout))).toBe(true)
    const planned = JSON.parse(plan.stdout) as {sends: {canary: {toSend: number; size: number}; counts: {noop: number; create: number}}[]}
    expect(planned.sends[0]!.canary).toMatchObject({size: 2, toSend: 0})
    expect(planned.sends[0]!.counts).toMatchObject({noop: 2, create: 6})

    const rerun = await apply()
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(rerun.stderr).toContain('Canary passed')
    const keys = await sentKeys()
    expect(keys).toHaveLength(8)
    expect(new Set(keys).size).toBe(8)
  })
})
