import {afterEach, describe, expect, it} from 'vitest'

import {ALREADY_HAD_KEY_MESSAGE, BLOCKED_KEY_MESSAGE} from '../../src/apply/execute.js'
import {runApply, type ApplyOptions} from '../../src/core/apply.js'
import {ExitCode} from '../../src/errors.js'
import {deriveMessageKey} from '../../src/keys/message-key.js'
import {startSandbox, type Sandbox, type SandboxOptions} from '../../src/sandbox/server.js'
import {createSfmcClient} from '../../src/sfmc/client.js'
import {openStateStore} from '../../src/state/open.js'
import type {StateData} from '../../src/state/types.js'
import {deliveryFromStatus} from '../../src/status/delivery.js'
import {makeProject, type Project} from '../helpers/project.js'
import {credentialsEnv} from '../helpers/sandbox-process.js'

// The answers Marketing Cloud documents (docs/marketing-cloud-api.md), each produced by the sandbox over
// 127.0.0.1 (its faults, scripted rejections and the all-failed-batch status), and what apply makes of them.

let sandbox: Sandbox | undefined
let project: Project | undefined

afterEach(async () => {
  await sandbox?.close()
  await project?.cleanup()
  sandbox = undefined
  project = undefined
})

const FAST = {retry: {limit: 3, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 50}}
const key = (n: number) => deriveMessageKey('test-send', 1, `c${n}`)

async function setup(recipients: number, options: SandboxOptions = {}): Promise<{sb: Sandbox; p: Project}> {
  sandbox = await startSandbox(options)
  project = await makeProject({recipients})
  return {sb: sandbox, p: project}
}

async function apply(overrides: Partial<ApplyOptions> = {}) {
  const sb = sandbox!
  const p = project!
  const notes: string[] = []
  const outcome = await runApply(
    {
      paths: [p.manifest],
      parallelism: 4,
      allowInactive: false,
      cwd: p.dir,
      env: credentialsEnv(sb),
      clientOptions: FAST,
      ...overrides,
    },
    {showPlan: () => {}, approve: async () => true, note: (m) => notes.push(m)},
  )
  return {outcome, notes}
}

async function state(): Promise<StateData> {
  const store = await openStateStore({cwd: project!.dir, env: {}})
  try {
    return await store.load()
  } finally {
    await store.close()
  }
}

describe('per-recipient results whatever the HTTP status', () => {
  it('a crash-retry batch answered all 109110 inside a 400 is accepted, never failed, and not delivered twice', async () => {
    const {sb} = await setup(3)
    sb.inject({kind: 'drop-response', route: 'send'})
    const first = await apply({clientOptions: {...FAST, retry: {...FAST.retry, limit: 0}}})
    expect(first.outcome.result).toMatchObject({unknown: 3})
    expect([...(await state()).messages.values()].map((r) => r.status)).toEqual(['pending', 'pending', 'pending'])
    expect(sb.outbox()).toHaveLength(3)

    // Every recipient fails (all reused): this sandbox now answers such a batch with HTTP 400 and 109103.
    sb.setFailedBatchStatus(400)
    const {outcome} = await apply()
    expect(outcome.exitCode).toBe(ExitCode.ok)
    expect(outcome.result).toMatchObject({accepted: 0, alreadyAccepted: 3, rejected: 0})
    const records = [...(await state()).messages.values()]
    expect(records.every((r) => r.status === 'accepted' && r.errorCode === 109110)).toBe(true)
    expect(sb.outbox()).toHaveLength(3)
  })

  it('a 4xx that lists per-recipient results settles each recipient by its own code', async () => {
    const {sb} = await setup(3)
    sb.inject({
      kind: 'answer',
      route: 'send',
      status: 400,
      body: {
        requestId: 'r-1',
        errorcode: 109103,
        message: 'MCMS_UTM_Validation_NoValidSubscribers',
        responses: [
          {messageKey: key(0), errorcode: 109106, message: 'MCMS_UTM_Validation_MissingRequiredField_to: Invalid subscriber'},
          {messageKey: key(1), errorCode: '109110', message: 'MCMS_UTM_Validation_DuplicateMessageKey: messageKey reused within the past 2 days'},
          {messageKey: key(2)},
        ],
      },
    })
    const {outcome} = await apply()
    expect(outcome.exitCode).toBe(ExitCode.rejected)
    expect(outcome.result).toMatchObject({rejected: 1, alreadyAccepted: 1, unknown: 1})
    const s = await state()
    expect(s.messages.get(key(0))).toMatchObject({status: 'failed', errorCode: 109106})
    expect(s.messages.get(key(1))).toMatchObject({status: 'accepted', errorCode: 109110, errorMessage: ALREADY_HAD_KEY_MESSAGE})
    // No code inside a non-2xx answer proves nothing: the key stays pending and is re-sent with the same key.
    expect(s.messages.get(key(2))).toMatchObject({status: 'pending'})
  })

  it('109103 (no valid subscribers) without a list refuses the whole batch: each recipient failed with that code', async () => {
    const {sb} = await setup(2)
    sb.inject({kind: 'answer', route: 'send', status: 400, body: {errorcode: 109103, message: 'MCMS_UTM_Validation_NoValidSubscribers: none valid'}})
    const {outcome} = await apply()
    expect(outcome.exitCode).toBe(ExitCode.rejected)
    expect([...(await state()).messages.values()].map((r) => [r.status, r.errorCode])).toEqual([
      ['failed', 109103],
      ['failed', 109103],
    ])
  })
})

describe('a rejected key answered 109110 on a retry is confirmed through the status endpoint', () => {
  it('unknown to the status endpoint: recorded failed, saying the key is blocked and to bump revision; nothing delivered', async () => {
    const {sb} = await setup(2)
    sb.setRejection(key(0), {errorcode: 109106, remember: true})
    const first = await apply()
    expect(first.outcome.exitCode).toBe(ExitCode.rejected)
    sb.setRejection(key(0), undefined)
    const {outcome} = await apply()
    expect(outcome.exitCode).toBe(ExitCode.rejected)
    expect((await state()).messages.get(key(0))).toMatchObject({status: 'failed', errorCode: 109110, errorMessage: BLOCKED_KEY_MESSAGE})
    expect(BLOCKED_KEY_MESSAGE).toMatch(/bump revision/)
    expect(sb.outbox().map((e) => e.messageKey)).toEqual([key(1)])
  })

  it('known to the status endpoint: recorded accepted', async () => {
    const {sb, p} = await setup(1)
    await apply()
    // The state says rejected, but Marketing Cloud queued it (say, an answer that was misread).
    const store = await openStateStore({cwd: p.dir, env: {}})
    const record = (await store.load()).messages.get(key(0))!
    await store.append([{...record, status: 'failed', errorCode: 109106}])
    await store.commit()
    await store.close()
    // The first apply asked once too (a send the state had never seen: core/known-keys.ts); count from here.
    const asked = sb.stats.statusRequests
    const {outcome} = await apply()
    expect(outcome.exitCode).toBe(ExitCode.ok)
    expect((await state()).messages.get(key(0))).toMatchObject({status: 'accepted'})
    expect(sb.stats.statusRequests - asked).toBe(1)
    expect(sb.outbox()).toHaveLength(1)
  })
})

describe('429 with 50200 (too many concurrent requests)', () => {
  it('lowers the concurrency, backs off and finishes when the block lifts', async () => {
    const {sb} = await setup(40, {})
    sb.inject({kind: 'status', route: 'send', status: 429, errorcode: 50200, times: 2})
    const {outcome} = await apply({paths: [project!.manifest], parallelism: 4})
    expect(outcome.exitCode).toBe(ExitCode.ok)
    expect(sb.outbox()).toHaveLength(40)
  })

  it('stops with exit 1 naming the code and suggesting --parallelism 1 when it persists; the keys stay pending, not failed', async () => {
    const {sb} = await setup(5)
    sb.inject({kind: 'status', route: 'send', status: 429, errorcode: 50200, times: 100})
    const {outcome} = await apply()
    expect(outcome.exitCode).toBe(ExitCode.error)
    expect(outcome.result?.fatal?.message).toMatch(/HTTP 429, 50200/)
    expect(outcome.result?.fatal?.hint).toMatch(/--parallelism 1/)
    expect(outcome.result).toMatchObject({rejected: 0, notAttempted: 5})
    expect([...(await state()).messages.values()].every((r) => r.status === 'pending')).toBe(true)
    // Not retried inside the client like a rate limit: one request per attempt of the executor (1 + 5 backoffs).
    expect(sb.stats.sendRequests).toBe(6)
  })
})

describe('status answers', () => {
  it('reads statusCode and statusMessage at the top level or inside info; any 200 proves the message exists', async () => {
    const {sb} = await setup(0)
    const client = createSfmcClient({clientId: sb.clientId, clientSecret: sb.clientSecret, authUrl: sb.authUrl}, FAST)
    sb.inject({kind: 'answer', route: 'status', status: 200, body: {eventCategoryType: 'TransactionalSendEvents.EmailNotSent', statusCode: 24, statusMessage: 'ListDetectiveExclusion', info: {messageKey: 'k'}}})
    expect(await client.getMessageStatus('k')).toMatchObject({statusCode: 24, statusMessage: 'ListDetectiveExclusion'})
    sb.inject({kind: 'answer', route: 'status', status: 200, body: {eventCategoryType: 'TransactionalSendEvents.EmailBounced', timestamp: '2026-12-01T08:00:00.5'}})
    const bounced = await client.getMessageStatus('k')
    expect(deliveryFromStatus(bounced!, '2026-12-01T15:00:00.000Z')).toEqual({event: 'other', statusMessage: 'TransactionalSendEvents.EmailBounced', at: '2026-12-01T14:00:00.500Z', checkedAt: '2026-12-01T15:00:00.000Z'})
    // A 400 for a key: Marketing Cloud does not know it.
    expect(await client.getMessageStatus('never-sent')).toBeUndefined()
    await client.close()
  })
})

describe('send definitions', () => {
  it('compares the definition status without case', async () => {
    const {sb} = await setup(1)
    sb.inject({kind: 'answer', route: 'definition', status: 200, body: {definitionKey: 'release-notes', status: 'active'}})
    expect((await apply()).outcome.exitCode).toBe(ExitCode.ok)
    sb.inject({kind: 'answer', route: 'definition', status: 200, body: {definitionKey: 'release-notes', status: 'INACTIVE'}})
    await project!.cleanup()
    project = await makeProject({recipients: 1, name: 'other-send'})
    await expect(apply()).rejects.toMatchObject({exitCode: ExitCode.invalidInput, message: expect.stringMatching(/is INACTIVE/)})
  })

  it('apply --sandbox refuses a typo in definitionKey, as Marketing Cloud would', async () => {
    project = await makeProject({recipients: 1, definitionKey: 'relase-notes'})
    const error = await runApply(
      {paths: [project.manifest], sandbox: true, parallelism: 1, allowInactive: false, cwd: project.dir, env: {}},
      {showPlan: () => {}, approve: async () => true, note: () => {}},
    ).catch((e: unknown) => e)
    expect(error).toMatchObject({exitCode: ExitCode.invalidInput, message: 'send definition "relase-notes" does not exist in this business unit'})
  })
})
