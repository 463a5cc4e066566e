import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import type {ExecuteEvent} from '../../src/apply/execute.js'
import {runApply, type ApplyOptions} from '../../src/core/apply.js'
import {ExitCode} from '../../src/errors.js'
import {buildPlan} from '../../src/plan/build.js'
import {startSandbox, type Sandbox, type SandboxOptions} from '../../src/sandbox/server.js'
import {openStateStore} from '../../src/state/open.js'
import {loadOrFail} from '../../src/core/load.js'
import {makeProject, runCli, startCli, waitFor, type Project} from '../helpers/project.js'
import {stateBackends} from '../helpers/backends.js'
import {adminClient} from '../helpers/pg.js'
import {credentialsEnv} from '../helpers/sandbox-process.js'

function sandboxEnv(sandbox: Sandbox, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {...credentialsEnv(sandbox), ...extra}
}

for (const backend of stateBackends) {
  describe.skipIf(backend.skip)(`apply against the fake Marketing Cloud (${backend.name} state)`, () => {
    let sandbox: Sandbox
    let project: Project
    let stateSpec: string
    let workspace: string | undefined

    async function start(options: SandboxOptions = {}) {
      sandbox = await startSandbox({unknownDefinitions: 'active', ...options})
    }

    async function setup(recipients: number, extra: Partial<Parameters<typeof makeProject>[0]> = {}, sandboxOptions: SandboxOptions = {}) {
      await start(sandboxOptions)
      project = await makeProject({recipients, ...extra})
      stateSpec = backend.spec(project.dir)
      workspace = backend.workspace()
    }

    function applyOptions(overrides: Partial<ApplyOptions> = {}): ApplyOptions {
      return {
        paths: [project.manifest],
        state: stateSpec,
        workspace,
        sandbox: false,
        parallelism: 4,
        allowInactive: false,
        cwd: project.dir,
        env: sandboxEnv(sandbox),
        clientOptions: {retry: {limit: 8, baseDelayMs: 5, maxDelayMs: 50, maxRetryAfterMs: 1500}},
        ...overrides,
      }
    }

    async function apply(overrides: Partial<ApplyOptions> = {}) {
      const events: ExecuteEvent[] = []
      const outcome = await runApply(applyOptions(overrides), {
        showPlan: () => {},
        approve: async () => true,
        note: () => {},
        onEvent: (e) => events.push(e),
      })
      return {outcome, events}
    }

    async function loadState() {
      const store = await openStateStore({spec: stateSpec, cwd: project.dir, env: {}, workspace})
      try {
        return await store.load()
      } finally {
        await store.close()
      }
    }

    async function planNow() {
      const {sends} = await loadOrFail([project.manifest], {cwd: project.dir})
      return buildPlan(sends, await loadState(), {stateLocation: stateSpec})
    }

    function expectEachKeyOnce(expected: number) {
      const keys = sandbox.outbox().map((e) => e.messageKey)
      expect(keys.length).toBe(expected)
      expect(new Set(keys).size).toBe(expected)
      for (const k of keys) expect(sandbox.deliveries(k)).toBe(1)
    }

    beforeEach(() => {
      workspace = undefined
    })

    afterEach(async () => {
      await sandbox?.close()
      await project?.cleanup()
      await backend.cleanup?.(workspace)
    })

    it('sends every message once and records each as accepted', async () => {
      await setup(4500)
      const {outcome, events} = await apply()
      expect(outcome.exitCode).toBe(ExitCode.ok)
      expect(outcome.result).toMatchObject({accepted: 4500, rejected: 0, unknown: 0, notAttempted: 0})
      expect(events.filter((e) => e.type === 'batch_finished')).toHaveLength(3)
      expectEachKeyOnce(4500)
      const state = await loadState()
      expect(state.messages.size).toBe(4500)
      expect([...state.messages.values()].every((r) => r.status === 'accepted' && r.requestId)).toBe(true)
      expect(state.serial).toBeGreaterThan(0)
      expect(state.sends['test-send']).toMatchObject({definitionKey: 'release-notes', revision: 1})
    })

    it('stores no email address and no per-recipient attribute value in clear', async () => {
      await setup(30, {withAttributes: true})
      const {outcome} = await apply()
      expect(outcome.exitCode).toBe(ExitCode.ok)
      const raw = await backend.rawDump(project.dir, workspace)
      // The file state writes a key's prefix (`test-send.r1.`) once per batch and its digest on the record's line.
      const key = sandbox.outbox()[0]!.messageKey
      expect(raw).toContain(key.slice(key.lastIndexOf('.') + 1))
      expect(raw).not.toContain('@')
      expect(raw).not.toMatch(/Name\d+/)
    })

    it('a second apply sends nothing and makes no request at all', async () => {
      await setup(300)
      await apply()
      const before = {...sandbox.stats}
      const {outcome} = await apply()
      expect(outcome.result).toBeUndefined()
      expect(outcome.plan.summary).toMatchObject({toSend: 0, noop: 300})
      expect(sandbox.stats).toEqual(before)
      expectEachKeyOnce(300)
    })

    it('records per-recipient rejections, exits 4, and the next plan retries only them', async () => {
      await setup(20, {}, {rejectRecipient: (r) => (r.contactKey === 'c3' || r.contactKey === 'c11' ? {errorcode: 109121, message: 'MCMS_UTM_Validation_InvalidValue_to: Invalid email address'} : undefined)})
      const {outcome} = await apply()
      expect(outcome.exitCode).toBe(ExitCode.rejected)
      expect(outcome.result).toMatchObject({accepted: 18, rejected: 2})
      expect(outcome.result!.rejections.map((r) => r.contactKey).sort()).toEqual(['c11', 'c3'])
      expect(outcome.result!.rejections[0]!.errorCode).toBe(109121)
      const plan = await planNow()
      expect(plan.summary).toMatchObject({retry: 2, noop: 18, toSend: 2})
      expect(plan.sends[0]!.batches[0]!.messages.map((m) => m.contactKey)).toEqual(['c3', 'c11'])
      const state = await loadState()
      const failed = [...state.messages.values()].filter((r) => r.status === 'failed')
      expect(failed).toHaveLength(2)
      expect(failed[0]!.errorCode).toBe(109121)
    })

    it('rides out a 429 storm honouring Retry-After', async () => {
      await setup(3000, {batchSize: 500})
      sandbox.inject({kind: 'status', route: 'send', status: 429, retryAfter: 1, times: 3, errorcode: 50100})
      const started = Date.now()
      const {outcome} = await apply()
      expect(outcome.exitCode).toBe(ExitCode.ok)
      expect(Date.now() - started).toBeGreaterThanOrEqual(900)
      expectEachKeyOnce(3000)
    })

    it('recovers from random 500s and 503s without duplicates', async () => {
      await setup(6000, {batchSize: 250})
      sandbox.inject({kind: 'status', route: 'send', status: 503, retryAfter: 0, errorcode: 50300, times: 3})
      sandbox.inject({kind: 'random', route: 'send', rate: 0.25, status: 500, seed: 7})
      const {outcome} = await apply()
      sandbox.clearFaults()
      expect(outcome.exitCode).toBe(ExitCode.ok)
      expect(outcome.result!.accepted + outcome.result!.alreadyAccepted).toBe(6000)
      expectEachKeyOnce(6000)
    })

    it('refreshes an expired token mid-run', async () => {
      await setup(2000, {batchSize: 200})
      sandbox.inject({kind: 'delay', route: 'send', ms: 30, times: 100})
      const running = apply({parallelism: 1})
      await waitFor(() => sandbox.outbox().length >= 400)
      sandbox.expireTokens()
      const {outcome} = await running
      expect(outcome.exitCode).toBe(ExitCode.ok)
      expect(sandbox.stats.tokenRequests).toBe(2)
      expectEachKeyOnce(2000)
    })

    it('a dropped response is retried and nothing is delivered twice', async () => {
      await setup(1000, {batchSize: 250})
      sandbox.inject({kind: 'drop-response', route: 'send', times: 2})
      const {outcome} = await apply()
      expect(outcome.exitCode).toBe(ExitCode.ok)
      expect(outcome.result!.alreadyAccepted).toBeGreaterThanOrEqual(250)
      expect(outcome.result!.accepted + outcome.result!.alreadyAccepted).toBe(1000)
      expectEachKeyOnce(1000)
      const state = await loadState()
      expect([...state.messages.values()].every((r) => r.status === 'accepted')).toBe(true)
    })

    it('refuses an Inactive definition, and a missing one, sending nothing', async () => {
      await setup(10, {definitionKey: 'sleepy'}, {unknownDefinitions: 'missing', definitions: {sleepy: 'Inactive'}})
      await expect(apply()).rejects.toMatchObject({exitCode: ExitCode.invalidInput, message: expect.stringContaining('Inactive')})
      expect(sandbox.stats.sendRequests).toBe(0)
      sandbox.setDefinition('sleepy', 'missing')
      await expect(apply()).rejects.toMatchObject({message: expect.stringContaining('does not exist')})
      expect(sandbox.stats.sendRequests).toBe(0)
      sandbox.setDefinition('sleepy', 'Inactive')
      const {outcome} = await apply({allowInactive: true})
      expect(outcome.exitCode).toBe(ExitCode.ok)
    })

    it('bad credentials: a clear error, nothing sent, no secret printed', async () => {
      await setup(10)
      const env = sandboxEnv(sandbox, {MCSEND_CLIENT_SECRET: 'wrong-secret-value'})
      const error = await apply({env}).catch((e: Error) => e)
      expect(error).toMatchObject({exitCode: ExitCode.error})
      expect((error as Error).message).not.toContain('wrong-secret-value')
      expect(sandbox.stats.sendRequests).toBe(0)
      const state = await loadState()
      expect([...state.messages.values()].filter((r) => r.status !== 'pending')).toHaveLength(0)
    })

    /**
     * 4,000 recipients applied by a CLI process, two requests at a time, each answer delayed: resolves once the fake
     * holds at least `delivered` messages, with the process still sending (to be killed or interrupted).
     */
    async function slowApplyUnderway(delivered: number) {
      await setup(4000, {batchSize: 200})
      sandbox.inject({kind: 'delay', route: 'send', ms: 150, times: 1000})
      const args = ['apply', project.manifest, '--auto-approve', '--state', stateSpec, '--parallelism', '2', ...(workspace ? ['--workspace', workspace] : [])]
      const first = startCli(args, {cwd: project.dir, env: sandboxEnv(sandbox)})
      await waitFor(() => sandbox.outbox().length >= delivered, 20_000)
      return {args, first}
    }

    it('survives SIGKILL mid-run: the re-run delivers each key exactly once and the state is complete', async () => {
      const {args, first} = await slowApplyUnderway(600)
      first.child.kill('SIGKILL')
      const killed = await first.done
      expect(killed.signal).toBe('SIGKILL')
      const partial = sandbox.outbox().length
      expect(partial).toBeLessThan(4000)
      sandbox.clearFaults()
      const second = await runCli(args, {cwd: project.dir, env: sandboxEnv(sandbox)})
      expect(second.code, second.stderr).toBe(0)
      expectEachKeyOnce(4000)
      const state = await loadState()
      expect(state.messages.size).toBe(4000)
      expect([...state.messages.values()].every((r) => r.status === 'accepted')).toBe(true)
      if (backend.name === 'file') {
        const raw = await readFile(path.join(project.dir, 'state.json'), 'utf8')
        expect(() => JSON.parse(raw)).not.toThrow()
      }
    })

    it('two applies at once: the second is refused by the lock the first holds, nothing is sent twice', async () => {
      await setup(2000, {batchSize: 200})
      // Each answer takes a second: A needs three rounds of requests, so it is still sending when it is paused.
      sandbox.inject({kind: 'delay', route: 'send', ms: 1000, times: 1000})
      const args = ['apply', project.manifest, '--auto-approve', '--state', stateSpec, ...(workspace ? ['--workspace', workspace] : [])]
      const a = startCli(args, {cwd: project.dir, env: sandboxEnv(sandbox)})
      // A sends only once it holds the lock. Paused there, it keeps holding it (a live owner) for as long as B
      // takes to start and be refused, however busy the machine: the order is decided, not raced.
      await waitFor(() => sandbox.stats.sendRequests > 0, 20_000)
      a.child.kill('SIGSTOP')
      const rb = await runCli(args, {cwd: project.dir, env: sandboxEnv(sandbox)})
      a.child.kill('SIGCONT')
      const ra = await a.done
      expect(rb.code, rb.stderr).toBe(ExitCode.locked)
      expect(rb.stderr).toMatch(/locked by apply/)
      expect(ra.code, ra.stderr).toBe(0)
      expectEachKeyOnce(2000)
    })

    it.skipIf(backend.name !== 'postgres')('the database going away mid-apply: a clear error, nothing lost, the next apply --refresh settles the rest', async () => {
      await setup(300, {batchSize: 10})
      sandbox.inject({kind: 'delay', route: 'send', ms: 60, times: 1000})
      const running = apply({parallelism: 2}).catch((e: Error) => e)
      await waitFor(() => sandbox.outbox().length >= 100, 20_000)
      const admin = await adminClient()
      try {
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [`mcsend/${workspace}`])
      } finally {
        await admin.end()
      }
      const failed = await running
      expect(failed).toBeInstanceOf(Error)
      expect((failed as Error).message).toMatch(/state|database|connection/i)
      expect((failed as {exitCode?: number}).exitCode).toBe(ExitCode.error)
      const delivered = sandbox.outbox().length
      expect(delivered).toBeLessThan(300)
      const mid = await loadState()
      // Every delivered key is on record (accepted, or pending when its outcome could not be written).
      const known = new Set([...mid.messages.keys()])
      for (const e of sandbox.outbox()) expect(known.has(e.messageKey)).toBe(true)
      sandbox.clearFaults()
      const sendsBefore = sandbox.stats.sendRequests
      const {outcome} = await apply({refresh: true})
      expect(outcome.exitCode).toBe(ExitCode.ok)
      // Pending keys Marketing Cloud had accepted were settled by the status endpoint, not sent again.
      expect(outcome.result!.alreadyAccepted).toBe(0)
      expect(sandbox.stats.sendRequests - sendsBefore).toBe(Math.ceil((300 - delivered) / 10))
      expectEachKeyOnce(300)
      const state = await loadState()
      expect(state.messages.size).toBe(300)
      expect([...state.messages.values()].every((r) => r.status === 'accepted')).toBe(true)
    })

    it('SIGINT: exits 130 with the state saved, and a re-run completes the rest', async () => {
      const {args, first} = await slowApplyUnderway(400)
      first.child.kill('SIGINT')
      const interrupted = await first.done
      expect(interrupted.code, interrupted.stderr).toBe(ExitCode.interrupted)
      const sent = sandbox.outbox().length
      expect(sent).toBeLessThan(4000)
      const state = await loadState()
      expect([...state.messages.values()].filter((r) => r.status === 'accepted')).toHaveLength(sent)
      expect([...state.messages.values()].filter((r) => r.status === 'pending')).toHaveLength(0)
      sandbox.clearFaults()
      const second = await runCli(args, {cwd: project.dir, env: sandboxEnv(sandbox)})
      expect(second.code, second.stderr).toBe(0)
      expectEachKeyOnce(4000)
    })
  })
}
