import {promises as fs} from 'node:fs'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {startSandbox, type Sandbox} from '../../src/sandbox/server.js'
import {makeLockOwner} from '../../src/state/lock.js'
import {openStateStore} from '../../src/state/open.js'
import {stateBackends} from '../helpers/backends.js'
import {makeProject, runCli, startCli, waitFor, type Project} from '../helpers/project.js'
import {credentialsEnv} from '../helpers/sandbox-process.js'

/**
 * The lock-loss case with real processes: apply A is paused (SIGSTOP) while a batch is in flight, a second
 * apply B takes the state over (file: the lock goes stale; PostgreSQL: `state unlock --force` ends A's session)
 * and finishes, then A resumes (SIGCONT). A must send nothing more, and nothing either run learned may be lost.
 */

const RECIPIENTS = 160
const BATCH = 10
/** Short stale time so the file lock of the paused run goes stale in 3 s (renewed every second while alive). */
const STALE_MS = 3000

for (const backend of stateBackends) {
  describe.skipIf(backend.skip)(`a run that lost its lock (${backend.name} state)`, () => {
    let sandbox: Sandbox | undefined
    let project: Project | undefined
    let workspace: string | undefined

    afterEach(async () => {
      await sandbox?.close()
      await project?.cleanup()
      await backend.cleanup?.(workspace)
    })

    it('sends nothing after losing the lock, and loses no record (SIGSTOP/SIGCONT with a real second process)', async () => {
      sandbox = await startSandbox({unknownDefinitions: 'active'})
      project = await makeProject({recipients: RECIPIENTS, batchSize: BATCH})
      workspace = backend.workspace()
      const spec = backend.spec(project.dir)
      const env = {
        ...credentialsEnv(sandbox),
        MCSEND_STALE_LOCK_MS: String(STALE_MS),
        ...(workspace ? {MCSEND_WORKSPACE: workspace} : {}),
      }
      const apply = ['apply', project.manifest, '--state', spec, '--auto-approve', '--parallelism', '1']
      // Every batch takes a moment, so A is still sending when it is paused.
      sandbox.inject({kind: 'delay', route: 'send', times: 1_000_000, ms: 40})

      const a = startCli(apply, {cwd: project.dir, env})
      const s = sandbox
      await waitFor(() => s.stats.sendRequests >= 3, 20_000)
      // The next batch hangs for a while: pause A exactly while it waits for that answer.
      const before = s.stats.sendRequests
      s.clearFaults()
      s.inject({kind: 'delay', route: 'send', times: 1, ms: 800})
      s.inject({kind: 'delay', route: 'send', times: 1_000_000, ms: 40})
      await waitFor(() => s.stats.sendRequests > before, 10_000, 5)
      a.child.kill('SIGSTOP')
      try {
        if (backend.name === 'file') {
          // A renews nothing while stopped: wait until its lock is stale for a second run.
          const lockDir = `${spec}.lock`
          await waitFor(async () => Date.now() - (await fs.lstat(lockDir)).mtimeMs > STALE_MS + 300, 10_000, 50)
        } else {
          const unlock = await runCli(['state', 'unlock', '--force', '--state', spec], {cwd: project.dir, env})
          expect(unlock.code, unlock.stderr).toBe(0)
        }
        const b = await runCli(apply, {cwd: project.dir, env})
        expect(b.code, b.stderr).toBe(0)
      } finally {
        a.child.kill('SIGCONT')
      }
      const sentBeforeResume = s.stats.sendRequests
      const resumed = await a.done
      // A stops at its next batch: it says why, and sent no batch after losing the lock.
      expect(resumed.code).not.toBe(0)
      expect(resumed.stderr).toMatch(/no longer holds the lock|lock was lost|lost the lock/)
      expect(s.stats.sendRequests - sentBeforeResume).toBe(0)

      // Every recipient got exactly one email.
      const outbox = s.outbox()
      expect(outbox).toHaveLength(RECIPIENTS)
      expect(new Set(outbox.map((e) => e.messageKey)).size).toBe(RECIPIENTS)

      // The next command that takes the lock folds everything (A's side journal included); nothing is lost.
      const store = await openStateStore({spec, cwd: project.dir, env: {}, workspace})
      let lost: number
      try {
        const lock = await store.lock(makeLockOwner('test'))
        const state = await store.load()
        await lock.release()
        lost = RECIPIENTS - [...state.messages.values()].filter((r) => r.status === 'accepted').length
      } finally {
        await store.close()
      }
      console.log(`lock loss (${backend.name} state): batches sent after the lock was lost: ${s.stats.sendRequests - sentBeforeResume}; records lost: ${lost}`)
      expect(lost).toBe(0)
      if (backend.name === 'file') {
        const left = (await fs.readdir(path.dirname(spec))).filter((n) => n.includes('.journal') || n.endsWith('.tmp') || n.endsWith('.lock'))
        expect(left).toEqual([])
      }
    }, 60_000)
  })
}
