import {readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'

import {deriveMessageKey} from '../../src/keys/message-key.js'
import {sha256Base64url} from '../../src/keys/hash.js'
import {makeProject, runCli, type Project} from '../helpers/project.js'
import {PG_URL, dropWorkspace, pgAvailable, uniqueName} from '../helpers/pg.js'
import {startSandboxProcess, type SandboxProcess} from '../helpers/sandbox-process.js'
import {compileSchema} from '../helpers/schemas.js'

// State format 2 (records grouped per batch) and the migration from format 1, in credentials mode: the sandbox in
// its own process, the CLI given only the credentials a user with an account sets.

vi.setConfig({testTimeout: 90_000})

const RECIPIENTS = 30
let server: SandboxProcess
let project: Project
const workspaces: string[] = []

beforeAll(async () => {
  server = await startSandboxProcess()
})

afterAll(async () => {
  await server?.stop()
  await project?.cleanup()
  for (const w of workspaces) await dropWorkspace(w)
})

interface V2Doc {
  formatVersion: number
  lineage: string
  serial: number
  sends: Record<string, unknown>
  batches: {send: string; revision: number; status: string; requestId?: string; keys: string[]}[]
}

/**
 * The hashes mcsend wrote before format 2, computed from the recipients: 128 bits (22 base64url characters) of
 * SHA-256 over `to\n…`, `contact\n…` and the sorted effective attributes (docs of keys/hash.ts).
 */
function formatOneRecord(i: number, at: string, requestId: string) {
  const attributes = [
    ['FirstName', `Name${i}`],
    ['ReleaseVersion', '1.0.0'],
  ]
  return {
    send: 'migrate-send',
    revision: 1,
    status: 'accepted',
    at,
    requestId,
    toHash: sha256Base64url(`to\nc${i}@example.com`, 16),
    attributesHash: sha256Base64url(`attributes\n${JSON.stringify(attributes)}`, 16),
    contactHash: sha256Base64url(`contact\nc${i}`, 16),
  }
}

describe('state format 2', () => {
  it('apply writes records grouped per batch in under 100 bytes each; a format 1 state is read, rewritten as 2 by the next apply, nothing resent', async () => {
    project = await makeProject({name: 'migrate-send', recipients: RECIPIENTS, withAttributes: true, batchSize: 10})
    const env = server.env
    const state = path.join(project.dir, '.mcsend', 'state.json')

    const first = await runCli(['apply', project.manifest, '--auto-approve', '--json'], {cwd: project.dir, env})
    expect(first.code, first.stderr).toBe(0)
    const sent = (await server.outbox()).filter((m) => m.messageKey.startsWith('migrate-send.'))
    expect(sent).toHaveLength(RECIPIENTS)

    const text = await readFile(state, 'utf8')
    const v2 = JSON.parse(text) as V2Doc
    expect(compileSchema('state')(v2)).toBe(true)
    expect(v2.formatVersion).toBe(2)
    // One group per request (three of ten), each naming its request id once.
    expect(v2.batches.map((b) => [b.status, b.keys.length])).toEqual([
      ['accepted', 10],
      ['accepted', 10],
      ['accepted', 10],
    ])
    expect(new Set(v2.batches.map((b) => b.requestId)).size).toBe(3)
    const recordLines = text.split('\n').filter((l) => /^ {6}"/.test(l) && !l.includes(':'))
    expect(recordLines).toHaveLength(RECIPIENTS)
    for (const line of recordLines) expect(Buffer.byteLength(`${line}\n`)).toBeLessThanOrEqual(100)
    expect(text).not.toContain('@example.com')

    // The same state as mcsend wrote it before format 2: one object per messageKey, 22-character hashes.
    const at = '2026-11-20T10:00:00.000Z'
    const messages: Record<string, unknown> = {}
    for (let i = 0; i < RECIPIENTS; i++) messages[deriveMessageKey('migrate-send', 1, `c${i}`)] = formatOneRecord(i, at, `req-${Math.floor(i / 10)}`)
    const v1 = {formatVersion: 1, lineage: v2.lineage, serial: v2.serial, toolVersion: '0.1.0', updatedAt: at, sends: v2.sends, messages}
    expect(compileSchema('state')(v1)).toBe(true)
    await writeFile(state, `${JSON.stringify(v1, null, 2)}\n`)

    // Read-only commands read it as it is: every recipient is unchanged (no drift from the shorter hashes).
    const plan = await runCli(['plan', project.manifest, '--json'], {cwd: project.dir, env})
    expect(plan.code, plan.stderr).toBe(0)
    expect((JSON.parse(plan.stdout) as {summary: Record<string, number>}).summary).toMatchObject({noop: RECIPIENTS, drift: 0, create: 0, toSend: 0})
    expect(JSON.parse(await readFile(state, 'utf8'))).toMatchObject({formatVersion: 1})

    // The next command that takes the lock rewrites it as format 2; nothing is sent again.
    const again = await runCli(['apply', project.manifest, '--auto-approve', '--json'], {cwd: project.dir, env})
    expect(again.code, again.stderr).toBe(0)
    expect((await server.outbox()).filter((m) => m.messageKey.startsWith('migrate-send.'))).toHaveLength(RECIPIENTS)
    const migrated = JSON.parse(await readFile(state, 'utf8')) as V2Doc
    expect(compileSchema('state')(migrated)).toBe(true)
    expect(migrated).toMatchObject({formatVersion: 2, lineage: v2.lineage})
    expect(migrated.batches.flatMap((b) => b.keys)).toHaveLength(RECIPIENTS)
    // Every record kept: the same keys, status, time and request id, and the first 11 characters of each hash.
    const list = await runCli(['state', 'show', deriveMessageKey('migrate-send', 1, 'c7'), '--json'], {cwd: project.dir, env})
    expect(list.code, list.stderr).toBe(0)
    const expected = formatOneRecord(7, at, 'req-0')
    expect(list.stdout).toContain(expected.toHash.slice(0, 11))
    expect(list.stdout).toContain(expected.contactHash.slice(0, 11))
    expect(list.stdout).toContain('req-0')
    const byContact = await runCli(['state', 'show', '--contact-key', 'c7', '--json'], {cwd: project.dir, env})
    expect(byContact.code, byContact.stderr).toBe(0)
    expect(byContact.stdout).toContain(deriveMessageKey('migrate-send', 1, 'c7'))
  })

  it.skipIf(!pgAvailable)('state push takes a format 1 file into PostgreSQL and state pull brings it back as format 2', async () => {
    const dir = project.dir
    const v1File = path.join(dir, 'old-state.json')
    const at = '2026-11-20T10:00:00.000Z'
    const messages: Record<string, unknown> = {}
    for (let i = 0; i < 5; i++) messages[deriveMessageKey('migrate-send', 1, `c${i}`)] = formatOneRecord(i, at, 'req-0')
    await writeFile(v1File, `${JSON.stringify({formatVersion: 1, lineage: 'old-lineage-1', serial: 7, updatedAt: at, sends: {}, messages}, null, 2)}\n`)
    const workspace = uniqueName('format')
    workspaces.push(workspace)
    const push = await runCli(['state', 'push', '--from', v1File, '--to', PG_URL, '--workspace', workspace, '--json'], {cwd: dir})
    expect(push.code, push.stderr).toBe(0)
    expect(JSON.parse(push.stdout)).toMatchObject({copied: {messages: 5}})
    const pulledFile = path.join(dir, 'pulled-state.json')
    const pull = await runCli(['state', 'pull', '--to', pulledFile], {cwd: dir, env: {MCSEND_STATE: PG_URL, MCSEND_WORKSPACE: workspace}})
    expect(pull.code, pull.stderr).toBe(0)
    const pulled = JSON.parse(await readFile(pulledFile, 'utf8')) as V2Doc
    expect(compileSchema('state')(pulled)).toBe(true)
    expect(pulled).toMatchObject({formatVersion: 2, lineage: 'old-lineage-1', serial: 7})
    expect(pulled.batches).toHaveLength(1)
    expect(pulled.batches[0]!.keys).toHaveLength(5)
  })
})
