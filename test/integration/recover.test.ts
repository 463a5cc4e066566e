import {afterEach, describe, expect, it} from 'vitest'

import {runApply, type ApplyOptions} from '../../src/core/apply.js'
import {runRecover} from '../../src/core/recover.js'
import {ExitCode} from '../../src/errors.js'
import {startSandbox, type Sandbox} from '../../src/sandbox/server.js'
import {openStateStore} from '../../src/state/open.js'
import {makeProject, type Project} from '../helpers/project.js'
import {stateBackends} from '../helpers/backends.js'
import {credentialsEnv} from '../helpers/sandbox-process.js'

// Recovery and the empty-state check through the StateStore interface, on every backend (file and PostgreSQL),
// against the fake Marketing Cloud on 127.0.0.1 (the e2e suite covers the CLI in credentials mode).
for (const backend of stateBackends) {
  describe.skipIf(backend.skip)(`state recover and the empty-state check (${backend.name} state)`, () => {
    let sandbox: Sandbox
    let project: Project
    const workspaces: (string | undefined)[] = []

    afterEach(async () => {
      await sandbox?.close()
      await project?.cleanup()
      for (const w of workspaces.splice(0)) await backend.cleanup?.(w)
    })

    const env = () => credentialsEnv(sandbox)
    const notes: string[] = []
    const ui = {showPlan: () => {}, approve: async () => true, note: (m: string) => void notes.push(m)}
    function options(state: string, workspace: string | undefined, extra: Partial<ApplyOptions> = {}): ApplyOptions {
      return {paths: [project.manifest], state, workspace, sandbox: false, parallelism: 2, allowInactive: false, cwd: project.dir, env: env(), clientOptions: {retry: {limit: 2, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 10}}, ...extra}
    }
    async function fresh(): Promise<{state: string; workspace: string | undefined}> {
      const workspace = backend.workspace()
      workspaces.push(workspace)
      return {state: backend.spec(project.dir).replace('state.json', `state-${workspaces.length}.json`), workspace}
    }

    it('recovers what an apply recorded into another (empty) state, then apply sends nothing', async () => {
      sandbox = await startSandbox({unknownDefinitions: 'active'})
      project = await makeProject({recipients: 30, name: `rec-${backend.name}`})
      const first = await fresh()
      expect((await runApply(options(first.state, first.workspace), ui)).exitCode).toBe(ExitCode.ok)
      const lost = await fresh()
      await expect(runApply(options(lost.state, lost.workspace), ui)).rejects.toMatchObject({code: 'state_lost', exitCode: ExitCode.locked})
      expect(sandbox.outbox()).toHaveLength(30)
      const report = await runRecover({paths: [project.manifest], state: lost.state, workspace: lost.workspace, cwd: project.dir, env: env(), rate: 50, flushEvery: 7}, {note: () => {}})
      expect(report.totals).toMatchObject({planned: 30, asked: 30, foundAccepted: 30, foundNotSent: 0, unknown: 0, unasked: 0})
      const store = await openStateStore({spec: lost.state, cwd: project.dir, env: {}, workspace: lost.workspace})
      const data = await store.load()
      await store.close()
      expect([...data.messages.values()].every((r) => r.status === 'accepted' && r.delivery !== undefined)).toBe(true)
      expect(data.sends[`rec-${backend.name}`]).toBeDefined()
      expect(data.target).toMatchObject({kind: 'marketing-cloud', authHost: new URL(sandbox.authUrl).hostname})
      const again = await runApply(options(lost.state, lost.workspace), ui)
      expect(again.plan.summary).toMatchObject({toSend: 0, noop: 30})
      expect(sandbox.outbox()).toHaveLength(30)
    })

    it('does not block a send when the status route fails: it warns and sends', async () => {
      sandbox = await startSandbox({unknownDefinitions: 'active'})
      project = await makeProject({recipients: 5, name: `rec-fail-${backend.name}`})
      sandbox.inject({kind: 'status', route: 'status', status: 503, times: 50})
      notes.length = 0
      const state = await fresh()
      const outcome = await runApply(options(state.state, state.workspace), ui)
      expect(outcome.exitCode).toBe(ExitCode.ok)
      expect(sandbox.outbox()).toHaveLength(5)
      expect(notes.some((n) => n.startsWith(`warning: could not ask Marketing Cloud whether send rec-fail-${backend.name} was sent before`))).toBe(true)
    })
  })
}
