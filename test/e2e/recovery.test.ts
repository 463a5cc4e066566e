import {randomUUID} from 'node:crypto'
import {readFile, rm} from 'node:fs/promises'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'

import {makeProject, runCli, type Project} from '../helpers/project.js'
import {startSandboxProcess, type SandboxProcess} from '../helpers/sandbox-process.js'
import {compileSchema} from '../helpers/schemas.js'

// Recovery and the empty-state refusal in credentials mode: the CLI gets only MCSEND_AUTH_URL / CLIENT_ID /
// CLIENT_SECRET and talks to `mcsend sandbox` running as its own process, which remembers what it accepted.
vi.setConfig({testTimeout: 120_000})

let server: SandboxProcess
const projects: Project[] = []

beforeAll(async () => {
  server = await startSandboxProcess()
})

afterAll(async () => {
  for (const p of projects) await p.cleanup()
  await server?.stop()
})

async function project(recipients: number): Promise<{p: Project; send: string}> {
  const send = `rec-${randomUUID().slice(0, 8)}`
  const p = await makeProject({recipients, name: send})
  projects.push(p)
  return {p, send}
}

const cli = (p: Project, args: string[]) => runCli(args, {cwd: p.dir, env: server.env})
const sentOf = async (send: string) => (await server.outbox()).filter((e) => e.messageKey.startsWith(`${send}.`))

interface RecoverDoc {
  sends: {send: string; planned: number; alreadyRecorded: number; asked: number; foundAccepted: number; foundNotSent: number; unknown: number; unasked: number}[]
  totals: Record<string, number>
}

describe('state recover and the empty-state refusal (credentials mode)', () => {
  it('refuses to apply a send Marketing Cloud already knows to an empty state (exit 5, pointing at state recover), then recovers it, and a re-apply sends nothing', async () => {
    const {p, send} = await project(5)
    const first = await cli(p, ['apply', p.manifest, '--auto-approve'])
    expect(first.code, first.stderr).toBe(0)
    expect(await sentOf(send)).toHaveLength(5)
    // One of them was not delivered by Marketing Cloud: recovery records it with the reason, and apply does not resend it.
    const notSentKey = (await sentOf(send)).find((e) => e.contactKey === 'c3')!.messageKey
    await server.control('PUT', `outcomes/${encodeURIComponent(notSentKey)}`, {event: 'notSent', statusCode: 24, statusMessage: 'ListDetectiveExclusion'})

    await rm(path.join(p.dir, '.mcsend/state.json'))
    const refused = await cli(p, ['apply', p.manifest, '--auto-approve'])
    expect(refused.code).toBe(5)
    expect(refused.stderr).toContain(`Marketing Cloud already knows 3 of 3 sampled messageKeys of send ${send}, which this state has never recorded`)
    expect(refused.stderr).toContain('mcsend state recover')
    expect(await sentOf(send)).toHaveLength(5)

    // A sixth recipient was added meanwhile: unknown to Marketing Cloud, and sent by the next apply.
    await rm(path.join(p.dir, 'people.csv'))
    const {writeFile} = await import('node:fs/promises')
    await writeFile(path.join(p.dir, 'people.csv'), `id,email\n${Array.from({length: 6}, (_, i) => `c${i},c${i}@example.com`).join('\n')}\n`)

    const recovered = await cli(p, ['state', 'recover', p.manifest, '--json'])
    expect(recovered.code, recovered.stderr).toBe(0)
    const doc = JSON.parse(recovered.stdout) as RecoverDoc
    const validate = compileSchema('state-recover')
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true)
    expect(doc.sends).toEqual([{send, planned: 6, alreadyRecorded: 0, asked: 6, foundAccepted: 4, foundNotSent: 1, unknown: 1, unasked: 0}])
    expect(recovered.stdout).not.toContain('example.com')

    const state = JSON.parse(await readFile(path.join(p.dir, '.mcsend/state.json'), 'utf8')) as unknown
    expect(JSON.stringify(state)).not.toContain('example.com')
    const plan = await cli(p, ['plan', p.manifest, '--json'])
    expect(JSON.parse(plan.stdout).summary).toMatchObject({create: 1, noop: 5, drift: 0, toSend: 1})

    const again = await cli(p, ['apply', p.manifest, '--auto-approve'])
    expect(again.code, again.stderr).toBe(0)
    const sent = await sentOf(send)
    expect(sent).toHaveLength(6)
    expect(sent.filter((e) => e.contactKey === 'c5')).toHaveLength(1)

    const last = await cli(p, ['apply', p.manifest, '--auto-approve'])
    expect(last.code).toBe(0)
    expect(await sentOf(send)).toHaveLength(6)
  })

  it('prints a text report, and a second recovery finds everything already in the state', async () => {
    const {p, send} = await project(3)
    expect((await cli(p, ['apply', p.manifest, '--auto-approve'])).code).toBe(0)
    await rm(path.join(p.dir, '.mcsend/state.json'))
    const text = await cli(p, ['state', 'recover', p.manifest])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain(`send ${send}: 3 planned, 0 already in the state, 3 asked, 3 found accepted, 0 found not sent, 0 unknown`)
    expect(text.stdout).toContain('Recorded 3 messages as accepted')
    const second = await cli(p, ['state', 'recover', p.manifest, '--json'])
    expect((JSON.parse(second.stdout) as RecoverDoc).totals).toMatchObject({planned: 3, alreadyRecorded: 3, asked: 0})
  })

  it('applies a genuinely new send to an empty state without refusing', async () => {
    const {p, send} = await project(4)
    const apply = await cli(p, ['apply', p.manifest, '--auto-approve'])
    expect(apply.code, apply.stderr).toBe(0)
    expect(await sentOf(send)).toHaveLength(4)
  })

  it('recover needs manifests and never sends', async () => {
    const {p, send} = await project(2)
    const none = await cli(p, ['state', 'recover'])
    expect(none.code).toBe(64)
    const recovered = await cli(p, ['state', 'recover', p.manifest, '--json'])
    expect(recovered.code).toBe(0)
    expect((JSON.parse(recovered.stdout) as RecoverDoc).totals).toMatchObject({asked: 2, unknown: 2, foundAccepted: 0})
    expect(await sentOf(send)).toHaveLength(0)
  })
})
