import {afterEach, describe, expect, it} from 'vitest'

import {refreshStatePending} from '../../src/core/refresh.js'
import {loadOrFail} from '../../src/core/load.js'
import {runApply, type ApplyOptions} from '../../src/core/apply.js'
import {ExitCode} from '../../src/errors.js'
import {buildPlan} from '../../src/plan/build.js'
import type {PlannedMessage} from '../../src/plan/types.js'
import {startSandbox, type Sandbox} from '../../src/sandbox/server.js'
import {createSfmcClient} from '../../src/sfmc/client.js'
import {openStateStore} from '../../src/state/open.js'
import type {StateStore} from '../../src/state/types.js'
import {NEVER_ACCEPTED_MESSAGE} from '../../src/status/delivery.js'
import {stateBackends} from '../helpers/backends.js'
import {recipientRecord} from '../helpers/records.js'
import {makeProject, runCli, type Project} from '../helpers/project.js'
import {credentialsEnv} from '../helpers/sandbox-process.js'

const RETRY = {retry: {limit: 8, baseDelayMs: 5, maxDelayMs: 50, maxRetryAfterMs: 1500}}
const HOUR = 3600_000

for (const backend of stateBackends) {
  describe.skipIf(backend.skip)(`--refresh after a crash (${backend.name} state)`, () => {
    let sandbox: Sandbox
    let project: Project
    let spec: string
    let workspace: string | undefined
    let messages: PlannedMessage[]

    const env = () => (credentialsEnv(sandbox))

    async function withStore<T>(fn: (store: StateStore) => Promise<T>): Promise<T> {
      const store = await openStateStore({spec, cwd: project.dir, env: {}, workspace})
      try {
        return await fn(store)
      } finally {
        await store.close()
      }
    }

    /**
     * The state a SIGKILLed apply leaves: every key pending. The fake had accepted the first `accepted` of them
     * (their request went out, the answer never came back); the rest never left the machine.
     */
    async function crashed(accepted: number, pendingAt = new Date(Date.now() - HOUR)) {
      sandbox = await startSandbox()
      project = await makeProject({recipients: 10})
      spec = backend.spec(project.dir)
      workspace = backend.workspace()
      const {sends} = await loadOrFail([project.manifest], {cwd: project.dir})
      const send = sends[0]!
      messages = buildPlan(sends, {formatVersion: 1, lineage: '', serial: 0, sends: {}, messages: new Map()}, {stateLocation: spec}).sends[0]!.batches.flatMap((b) => b.messages)
      expect(messages).toHaveLength(10)
      const pending = messages.map((m) =>
        recipientRecord(
          {send: send.name, revision: send.revision, messageKey: m.messageKey, contactKey: m.contactKey, to: m.to, shared: send.attributes, attributes: m.attributes},
          {status: 'pending', at: pendingAt.toISOString()},
        ),
      )
      await withStore(async (store) => {
        const lock = await store.lock({operation: 'apply', who: 'crashed', pid: process.pid, host: 'here', since: new Date().toISOString()})
        await store.append(pending)
        await store.commit()
        await lock.release()
      })
      if (accepted > 0) {
        // No retries: the crashed run never heard back.
        const client = createSfmcClient({clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, authUrl: sandbox.authUrl}, {retry: {limit: 0}})
        sandbox.inject({kind: 'drop-response', route: 'send', times: 1})
        const recipients = messages.slice(0, accepted).map((m) => ({contactKey: m.contactKey, to: m.to, messageKey: m.messageKey}))
        await expect(client.sendBatch({definitionKey: send.definitionKey, attributes: send.attributes, recipients})).rejects.toThrow()
        expect(sandbox.outbox()).toHaveLength(accepted)
      }
    }

    afterEach(async () => {
      await sandbox?.close()
      await project?.cleanup()
      await backend.cleanup?.(workspace)
    })

    function applyOptions(overrides: Partial<ApplyOptions> = {}): ApplyOptions {
      return {paths: [project.manifest], state: spec, workspace, sandbox: false, parallelism: 2, allowInactive: false, cwd: project.dir, env: env(), clientOptions: RETRY, ...overrides}
    }

    it('apply --refresh: keys the fake accepted are settled and not re-sent; unknown keys are sent once', async () => {
      await crashed(4)
      const notes: string[] = []
      const outcome = await runApply(applyOptions({refresh: true}), {showPlan: () => {}, approve: async () => true, note: (m) => notes.push(m)})
      expect(outcome.exitCode).toBe(ExitCode.ok)
      expect(outcome.plan.summary).toMatchObject({noop: 4, retry: 6, toSend: 6, pending: 0})
      expect(outcome.result).toMatchObject({accepted: 6, alreadyAccepted: 0})
      expect(notes.join('\n')).toContain('asked about 10 pending keys: 4 accepted by Marketing Cloud (not re-sent), 6 never arrived (to send again)')
      expect(sandbox.stats.statusRequests).toBe(10)
      // Each key reached the fake exactly once: the four accepted before the crash were not posted again.
      expect(sandbox.outbox()).toHaveLength(10)
      for (const m of messages) expect(sandbox.deliveries(m.messageKey)).toBe(1)
      const state = await withStore((s) => s.load())
      expect([...state.messages.values()].every((r) => r.status === 'accepted')).toBe(true)
      expect(state.messages.get(messages[0]!.messageKey)!.delivery?.event).toBe('sent')
      expect(state.messages.get(messages[9]!.messageKey)!.delivery).toBeUndefined()
    })

    it('plan --refresh: records the settled keys (accepted, or failed as never arrived) and sends nothing', async () => {
      await crashed(3)
      const result = await refreshStatePending({sandbox: false, state: spec, workspace, cwd: project.dir, env: env(), clientOptions: RETRY, rate: 50})
      expect(result).toMatchObject({asked: 10, accepted: 3, notFound: 7, tooOld: 0})
      expect(sandbox.stats.sendRequests).toBe(1)
      const state = await withStore((s) => s.load())
      const records = messages.map((m) => state.messages.get(m.messageKey)!)
      expect(records.slice(0, 3).map((r) => r.status)).toEqual(['accepted', 'accepted', 'accepted'])
      expect(records.slice(3).every((r) => r.status === 'failed' && r.errorMessage === NEVER_ACCEPTED_MESSAGE)).toBe(true)
      const {sends} = await loadOrFail([project.manifest], {cwd: project.dir})
      const plan = buildPlan(sends, state, {stateLocation: spec})
      expect(plan.summary).toMatchObject({noop: 3, retry: 7, pending: 0})
      // A second refresh has nothing left to ask.
      const again = await refreshStatePending({sandbox: false, state: spec, workspace, cwd: project.dir, env: env(), clientOptions: RETRY, rate: 50})
      expect(again.asked).toBe(0)
      expect(sandbox.stats.statusRequests).toBe(10)
    })

    it('pending keys older than the 3-day reach are left pending and not asked', async () => {
      await crashed(0, new Date(Date.now() - 4 * 24 * HOUR))
      const result = await refreshStatePending({sandbox: false, state: spec, workspace, cwd: project.dir, env: env(), clientOptions: RETRY, rate: 50})
      expect(result).toMatchObject({asked: 0, tooOld: 10})
      expect(sandbox.stats.statusRequests).toBe(0)
      const state = await withStore((s) => s.load())
      expect([...state.messages.values()].every((r) => r.status === 'pending')).toBe(true)
    })

    if (backend.name === 'file') {
      it('the CLI: plan warns about pending keys and suggests --refresh; plan --refresh settles them', async () => {
        await crashed(5)
        const plain = await runCli(['plan', project.manifest, '--state', spec], {cwd: project.dir, env: env()})
        expect(plain.code, plain.stderr).toBe(0)
        expect(plain.stdout).toContain('10 messages left pending')
        expect(plain.stdout).toContain('--refresh')
        const refreshed = await runCli(['plan', project.manifest, '--state', spec, '--refresh', '--json'], {cwd: project.dir, env: env()})
        expect(refreshed.code, refreshed.stderr).toBe(0)
        expect(refreshed.stderr).toContain('5 accepted by Marketing Cloud')
        expect(JSON.parse(refreshed.stdout).summary).toMatchObject({noop: 5, retry: 5, pending: 0})
        const noCredentials = await runCli(['plan', project.manifest, '--state', spec, '--refresh'], {cwd: project.dir})
        expect(noCredentials.code).toBe(1)
        expect(noCredentials.stderr).toContain('no Marketing Cloud credentials')
      })
    }
  })
}
