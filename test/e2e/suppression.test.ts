import {randomUUID} from 'node:crypto'
import {writeFile} from 'node:fs/promises'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'

import {makeProject, projectForTest, runCli, type Project} from '../helpers/project.js'
import {startSandboxProcess, type SandboxProcess} from '../helpers/sandbox-process.js'
import {compileSchema} from '../helpers/schemas.js'

// Suppression in credentials mode: the CLI gets only MCSEND_AUTH_URL / CLIENT_ID / CLIENT_SECRET and talks to
// `mcsend sandbox` running as its own process; the sandbox's outbox shows what was really sent.
vi.setConfig({testTimeout: 120_000})

let server: SandboxProcess
let p: Project
let send: string

beforeAll(async () => {
  server = await startSandboxProcess()
  send = `sup-${randomUUID().slice(0, 8)}`
  p = await makeProject({recipients: 6, name: send})
})

afterAll(async () => {
  await p?.cleanup()
  await server?.stop()
})

const cli = (args: string[], input?: string) => runCli(args, {cwd: p.dir, env: server.env, input})

interface PlanDoc {
  summary: {suppressed?: number; toSend: number; drift: number; noop: number}
  sends: {suppression: {file: string; match: string; hashed: boolean; scope: string; suppressed: number; alreadySent: number}[]; batches: {messages: {contactKey: string}[]}[]}[]
}

describe('suppression (credentials mode)', () => {
  it('suppresses by contactKey, by address and by hash: counted in the plan, never sent by apply', async () => {
    // The project's list for every send holds only a hash (made by `mcsend suppress hash`), never the address.
    const hashed = await cli(['suppress', 'hash', '--match', 'to'], 'c5@example.com\n')
    expect(hashed.code).toBe(0)
    expect(hashed.stdout).toMatch(/^hash\nsha256:[A-Za-z0-9_-]{22}\n$/)
    expect(hashed.stdout).not.toContain('example.com')
    await writeFile(path.join(p.dir, 'optout-hashed.csv'), hashed.stdout)
    const asJson = await cli(['suppress', 'hash', '--match', 'to', '--json'], 'c5@example.com\n\n')
    const hashDoc = JSON.parse(asJson.stdout) as unknown
    const validate = compileSchema('suppress-hash')
    expect(validate(hashDoc), JSON.stringify(validate.errors)).toBe(true)
    expect(hashDoc).toEqual({match: 'to', keyed: false, hashes: [hashed.stdout.split('\n')[1]]})
    await writeFile(path.join(p.dir, 'mcsend.yaml'), ['apiVersion: mcsend/v1', 'kind: Project', 'defaultEnvironment: test', 'environments:', '  test: {state: .mcsend/state.json}', 'suppress:', '  - csv: ./optout-hashed.csv', '    match: to', '    hashed: true', ''].join('\n'))
    await writeFile(path.join(p.dir, 'keys.ndjson'), '"c0"\n')
    await writeFile(path.join(p.dir, 'addresses.csv'), 'email\nC1@Example.COM\n')
    await writeFile(p.manifest, `${await readText(p.manifest)}suppress:\n  - ndjson: ./keys.ndjson\n    match: contactKey\n  - csv: ./addresses.csv\n    match: to\n    column: email\n`)

    const plan = await cli(['plan', p.manifest, '--json'])
    expect(plan.code, plan.stderr).toBe(0)
    const doc = JSON.parse(plan.stdout) as PlanDoc
    expect(doc.summary).toMatchObject({suppressed: 3, toSend: 3})
    expect(doc.sends[0]!.suppression.map((c) => [c.file, c.match, c.hashed, c.scope, c.suppressed])).toEqual([
      ['optout-hashed.csv', 'to', true, 'project', 1],
      ['keys.ndjson', 'contactKey', false, 'send', 1],
      ['addresses.csv', 'to', false, 'send', 1],
    ])
    expect(doc.sends[0]!.batches.flatMap((b) => b.messages.map((m) => m.contactKey))).toEqual(['c2', 'c3', 'c4'])

    const text = await cli(['plan', p.manifest])
    expect(text.stdout).toContain('suppressed     1 by optout-hashed.csv (addresses, hashed, for every send)')
    expect(text.stdout).toContain('Plan: 3 messages to send in 1 request across 1 send (3 suppressed).')

    const apply = await cli(['apply', p.manifest, '--auto-approve'])
    expect(apply.code, apply.stderr).toBe(0)
    const sent = (await server.outbox()).filter((e) => e.messageKey.startsWith(`${send}.`))
    expect(sent.map((e) => e.contactKey).sort()).toEqual(['c2', 'c3', 'c4'])
  })

  it('shows a recipient suppressed after it was sent as already sent, not as drift', async () => {
    await writeFile(path.join(p.dir, 'keys.ndjson'), '"c0"\n{"contactKey": "c2"}\n')
    const plan = await cli(['plan', p.manifest, '--json'])
    expect(plan.code, plan.stderr).toBe(0)
    const doc = JSON.parse(plan.stdout) as PlanDoc
    expect(doc.summary).toMatchObject({suppressed: 4, toSend: 0, drift: 0, noop: 2})
    expect(doc.sends[0]!.suppression[1]).toMatchObject({file: 'keys.ndjson', suppressed: 2, alreadySent: 1})
    const text = await cli(['plan', p.manifest])
    expect(text.stdout).toContain('2 by keys.ndjson (contactKeys); 1 of them already sent before they were suppressed')
    const markdown = await cli(['plan', p.manifest, '--format', 'markdown'])
    expect(markdown.code, markdown.stderr).toBe(0)
    expect(markdown.stdout).toContain('Nothing to send across 1 send (2 already sent, 4 suppressed).')
    expect(markdown.stdout).toContain('| `keys.ndjson` | contactKeys | 2 | 1 |')
    expect(markdown.stdout).toContain('| `optout-hashed.csv` | addresses, hashed, for every send | 1 | 0 |')
    const apply = await cli(['apply', p.manifest, '--auto-approve'])
    expect(apply.code, apply.stderr).toBe(0)
    expect((await server.outbox()).filter((e) => e.messageKey.startsWith(`${send}.`))).toHaveLength(3)
  })

  it('refuses a bad list with a located error that does not replay the address, and sends nothing', async () => {
    await writeFile(path.join(p.dir, 'addresses.csv'), 'email\nC1@Example.COM\nvery.private person@example.com\n')
    const before = (await server.outbox()).length
    const apply = await cli(['apply', p.manifest, '--auto-approve'])
    expect(apply.code).toBe(3)
    expect(apply.stderr).toContain('addresses.csv:3')
    expect(apply.stderr).not.toContain('private person')
    expect((await server.outbox()).length).toBe(before)
    const hashed = await cli(['suppress', 'hash', '--match', 'to'], 'ok@example.com\nnobody else@example.com\n')
    expect(hashed.code).toBe(3)
    expect(hashed.stderr).toContain('stdin:2')
    expect(hashed.stderr).not.toContain('nobody else')
    expect(hashed.stdout).toBe('')
  })
})

describe('hashed lists and the state key (credentials mode)', () => {
  it('refuses a list hashed without MCSEND_STATE_KEY when the plan runs with it, and sends nothing; hashed with the key, it suppresses', async () => {
    const name = `supkey-${randomUUID().slice(0, 8)}`
    const q = await projectForTest({recipients: 3, name})
    const keyed = {...server.env, MCSEND_STATE_KEY: 'a-state-key-for-the-suppression-test'}
    const run = (args: string[], env: NodeJS.ProcessEnv, input?: string) => runCli(args, {cwd: q.dir, env, input})
    const unkeyedList = await run(['suppress', 'hash', '--match', 'to'], server.env, 'c1@example.com\n')
    expect(unkeyedList.code, unkeyedList.stderr).toBe(0)
    await writeFile(path.join(q.dir, 'optout.csv'), unkeyedList.stdout)
    await writeFile(q.manifest, `${await readText(q.manifest)}suppress:\n  - csv: ./optout.csv\n    match: to\n    hashed: true\n`)

    const plan = await run(['plan', q.manifest], keyed)
    expect(plan.code).toBe(3)
    expect(plan.stderr).toContain('optout.csv:2')
    expect(plan.stderr).toContain('hashed without MCSEND_STATE_KEY')
    expect(plan.stderr).toContain('same MCSEND_STATE_KEY')
    const apply = await run(['apply', q.manifest, '--auto-approve'], keyed)
    expect(apply.code).toBe(3)
    expect(apply.stderr).toContain('optout.csv:2')
    expect(`${apply.stdout}${apply.stderr}`).not.toContain('c1@example.com')
    expect((await server.outbox()).filter((e) => e.messageKey.startsWith(`${name}.`))).toEqual([])

    const keyedList = await run(['suppress', 'hash', '--match', 'to'], keyed, 'c1@example.com\n')
    expect(keyedList.stdout).toMatch(/^hash\nhmac-[A-Za-z0-9_-]{10}:[A-Za-z0-9_-]{22}\n$/)
    await writeFile(path.join(q.dir, 'optout.csv'), keyedList.stdout)
    const applied = await run(['apply', q.manifest, '--auto-approve'], keyed)
    expect(applied.code, applied.stderr).toBe(0)
    const sent = (await server.outbox()).filter((e) => e.messageKey.startsWith(`${name}.`))
    expect(sent.map((e) => e.contactKey).sort()).toEqual(['c0', 'c2'])
  })
})

async function readText(file: string): Promise<string> {
  const {readFile} = await import('node:fs/promises')
  return readFile(file, 'utf8')
}
