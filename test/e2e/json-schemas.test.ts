import {mkdir, mkdtemp, readFile, readdir, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startSandbox, type Sandbox} from '../../src/sandbox/server.js'
import {PG_URL, dropWorkspace, pgAvailable, uniqueName} from '../helpers/pg.js'
import {ROOT, runCli, startCli, waitFor, type RunResult} from '../helpers/project.js'
import {compileSchema} from '../helpers/schemas.js'
import {credentialsEnv} from '../helpers/sandbox-process.js'

/**
 * Every `--json` (or `--format json`) output of the built CLI, produced for real and checked against the schema in
 * schemas/ that documents it; plus the error document any command prints under --json when it fails.
 */

/** Which schema describes each command's JSON output (commands with a --json or --format flag). */
const SCHEMA_FOR_COMMAND: Record<string, string> = {
  validate: 'validate',
  plan: 'plan',
  show: 'plan',
  apply: 'apply-events',
  status: 'status',
  sandbox: 'sandbox',
  'state:list': 'state-list',
  'state:show': 'state-record',
  'state:rm': 'state-rm',
  'state:forget': 'state-forget',
  'state:unlock': 'state-unlock',
  'state:retarget': 'state-retarget',
  'state:recover': 'state-recover',
  'suppress:hash': 'suppress-hash',
  'state:push': 'state-transfer',
  'state:pull': 'state-transfer',
  init: 'init',
  'state:workspaces': 'state-workspaces',
  doctor: 'doctor',
}

/** Addresses of the test recipients: none may appear in a JSON document (the schemas say so). */
const ADDRESSES = ['ann@example.com', 'bob@example.org', 'cy@example.net', 'dan@example.com']

/** The schemas of this file's outputs (compileSchema holds them to ajv's strict mode, with formats checked). */
const OUTPUT_SCHEMAS = ['error', 'validate', 'status', 'sandbox', 'state-list', 'state-record', 'state-rm', 'state-forget', 'state-unlock', 'state-transfer', 'state-retarget', 'state-recover', 'suppress-hash']

const validators = new Map<string, ReturnType<typeof compileSchema>>()
function validatorFor(name: string) {
  let validate = validators.get(name)
  if (!validate) validators.set(name, (validate = compileSchema(name)))
  return validate
}

function expectValid(schema: string, doc: unknown): void {
  const validate = validatorFor(schema)
  const ok = validate(doc)
  expect(validate.errors ?? [], `${schema}.schema.json rejects ${JSON.stringify(doc)}`).toEqual([])
  expect(ok).toBe(true)
}

function expectInvalid(schema: string, doc: unknown): void {
  expect(validatorFor(schema)(doc), `${schema}.schema.json accepts ${JSON.stringify(doc)}`).toBe(false)
}

/** stdout under --json must hold exactly one JSON document on one line. */
function onlyDocument(result: RunResult): Record<string, unknown> {
  const lines = result.stdout.split('\n').filter((l) => l !== '')
  expect(lines, result.stderr).toHaveLength(1)
  return JSON.parse(lines[0]!) as Record<string, unknown>
}

function expectNoAddress(doc: unknown): void {
  const text = JSON.stringify(doc)
  for (const address of ADDRESSES) expect(text).not.toContain(address)
}

const MANIFEST = `apiVersion: mcsend/v1
kind: Send
name: news
definitionKey: maintenance-notice
attributes:
  Edition: "March"
recipients:
  - inline:
      - {contactKey: ann@example.com, to: ann@example.com, attributes: {FirstName: Ann}}
      - {contactKey: bob, to: bob@example.org}
      - {contactKey: cy, to: cy@example.net, messageKey: news-cy-notsent}
      - {contactKey: dan, to: dan@example.com, messageKey: news-dan-rejected}
`

describe('--json outputs validate against their schemas', () => {
  let dir: string
  let sandbox: Sandbox
  let env: NodeJS.ProcessEnv
  const state = () => path.join(dir, 'state.json')
  const cli = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => runCli(args, {cwd: dir, env: {...env, ...extraEnv}})

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-schemas-'))
    await writeFile(path.join(dir, 'news.yaml'), MANIFEST)
    await writeFile(path.join(dir, 'bad.yaml'), 'apiVersion: mcsend/v1\nkind: Send\nname: broken\nrecipients:\n  - inline:\n      - {contactKey: x, to: x@}\n')
    sandbox = await startSandbox({
      rejectRecipient: (r) => (r.messageKey === 'news-dan-rejected' ? {errorcode: 109109, message: `MCMS_UTM_Validation_InvalidValue_subscriberKey: ${r.to} is blocked`} : undefined),
      statusModel: {outcome: (key) => (key === 'news-cy-notsent' ? {event: 'notSent', statusCode: 24, statusMessage: 'ListDetectiveExclusion'} : {event: 'sent'})},
    })
    env = credentialsEnv(sandbox)
  })

  afterAll(async () => {
    await sandbox?.close()
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  it('validate --json: valid and invalid manifests (validate.schema.json)', async () => {
    const [good, bad] = await Promise.all([cli(['validate', 'news.yaml', '--json']), cli(['validate', 'bad.yaml', 'news.yaml', '--json'])])
    expect(good.code, good.stderr).toBe(0)
    const goodDoc = onlyDocument(good)
    expectValid('validate', goodDoc)
    expect(goodDoc).toMatchObject({valid: true, errors: [], sends: 1, recipients: 4})

    expect(bad.code).toBe(3)
    const badDoc = onlyDocument(bad)
    expectValid('validate', badDoc)
    expect(badDoc.valid).toBe(false)
    expect((badDoc.errors as unknown[]).length).toBeGreaterThanOrEqual(2)
    expectNoAddress(badDoc)
  })

  it('the error document of failing commands (error.schema.json)', async () => {
    const runs = await Promise.all([
      cli(['plan', 'news.yaml', '--send', 'nope', '--json', '--state', state()]),
      cli(['init', '--no-such-flag', '--json']),
      cli(['status', '--json', '--state', state()], {MCSEND_AUTH_URL: '', MCSEND_CLIENT_ID: '', MCSEND_CLIENT_SECRET: ''}),
      cli(['sandbox', '--port', '70000', '--json']),
      cli(['plan', 'bad.yaml', '--format', 'json', '--state', state()]),
      cli(['show', 'missing-plan.json', '--format=json']),
      cli(['apply', 'news.yaml', '--parallelism', '0', '--json']),
      cli(['state', 'push', '--to', 'other.json', '--json']),
    ])
    const [unknownSend, usage, noCredentials, badPort, invalid, noPlan, badFlagValue, notAUrl] = runs
    expect(runs.map((r) => r.code)).toEqual([3, 64, 1, 3, 3, 3, 3, 3])
    for (const run of runs) {
      const doc = onlyDocument(run)
      expectValid('error', doc)
      expectNoAddress(doc)
      expect(run.stderr).toContain(`error: ${(doc.error as {message: string}).message}`)
    }
    expect(onlyDocument(unknownSend!)).toMatchObject({error: {code: 'invalid_input'}, valid: false, errors: []})
    expect(onlyDocument(usage!)).toMatchObject({error: {code: 'usage'}})
    expect(onlyDocument(usage!)).not.toHaveProperty('valid')
    expect(onlyDocument(noCredentials!)).toMatchObject({error: {code: 'missing_credentials'}})
    // Every invalid input carries valid: false and errors, whichever layer refused it (command, oclif, core).
    expect(onlyDocument(badPort!)).toMatchObject({error: {code: 'invalid_input', hint: expect.stringContaining('--port')}, valid: false, errors: []})
    expect(onlyDocument(badFlagValue!)).toMatchObject({error: {code: 'invalid_input', message: expect.stringContaining('--parallelism')}, valid: false, errors: []})
    expect(onlyDocument(notAUrl!)).toMatchObject({error: {code: 'invalid_input', message: expect.stringContaining('postgres://')}, valid: false, errors: []})
    expect(onlyDocument(noPlan!)).toMatchObject({error: {code: 'invalid_input'}, valid: false, errors: []})
    const located = onlyDocument(invalid!)
    expect(located).toMatchObject({error: {code: 'invalid_input'}, valid: false})
    expect(located.errors).toContainEqual(expect.objectContaining({file: 'bad.yaml', line: expect.any(Number), column: expect.any(Number)}))
  })

  it('apply --json events, then status --json (apply-events and status schemas)', async () => {
    const apply = await cli(['apply', 'news.yaml', '--auto-approve', '--json', '--state', state()])
    expect(apply.code, apply.stderr).toBe(4)
    const events = apply.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as {type?: string})
    expect(events.map((e) => e.type)).toEqual(['plan', 'batch_started', 'batch_finished', 'summary'])
    for (const event of events) expectValid('apply-events', event)
    expectNoAddress(events)

    const status = await cli(['status', '--json', '--state', state()])
    expect(status.code, status.stderr).toBe(0)
    const doc = onlyDocument(status)
    expectValid('status', doc)
    expectNoAddress(doc)
    expect(doc).toMatchObject({asked: 3, totals: {total: 4, accepted: 3, failed: 1, sent: 2, notSent: 1}})
    expect(doc.notSentReasons).toEqual([{send: 'news', statusCode: 24, reason: expect.stringContaining('ListDetectiveExclusion'), count: 1}])
  })

  it('state list --json and state show --json (state-list and state-record schemas)', async () => {
    const [all, failed, shown, rejected] = await Promise.all([
      cli(['state', 'list', '--json', '--state', state()]),
      cli(['state', 'list', '--status', 'failed', '--limit', '1', '--json', '--state', state()]),
      cli(['state', 'show', 'news-cy-notsent', '--json', '--state', state()]),
      cli(['state', 'show', 'news-dan-rejected', '--json', '--state', state()]),
    ])
    const list = onlyDocument(all)
    expectValid('state-list', list)
    expect(list).toMatchObject({total: 4, offset: 0})
    expectValid('state-list', onlyDocument(failed))
    expect(onlyDocument(failed)).toMatchObject({total: 1, records: [{messageKey: 'news-dan-rejected', status: 'failed', errorCode: 109109}]})

    const record = onlyDocument(shown)
    expectValid('state-record', record)
    expect(record).toMatchObject({messageKey: 'news-cy-notsent', delivery: {event: 'notSent', statusCode: 24}})
    expectValid('state-record', onlyDocument(rejected))
    // Marketing Cloud's message quoted the address: the state keeps it redacted, so the output holds none.
    for (const doc of [list, record, onlyDocument(rejected)]) expectNoAddress(doc)
  })

  it('state rm --json and state forget --json (state-rm and state-forget schemas)', async () => {
    const forget = await cli(['state', 'forget', '--contact-key', 'ann@example.com', '--yes', '--json', '--state', state()])
    expect(forget.code, forget.stderr).toBe(0)
    const forgot = onlyDocument(forget)
    expectValid('state-forget', forgot)
    expectNoAddress(forgot)
    expect(forgot).toMatchObject({cancelled: false, removed: [{send: 'news', revision: 1, messageKey: expect.stringMatching(/^news\./)}]})

    const nobody = onlyDocument(await cli(['state', 'forget', '--contact-key', 'nobody', '--yes', '--json', '--state', state()]))
    expectValid('state-forget', nobody)
    expect(nobody.removed).toEqual([])

    const removal = await cli(['state', 'rm', 'news-dan-rejected', 'ghost', '--yes', '--json', '--state', state()])
    expect(removal.code, removal.stderr).toBe(0)
    const removed = onlyDocument(removal)
    expectValid('state-rm', removed)
    expect(removed).toEqual({state: expect.any(String), removed: ['news-dan-rejected'], missing: ['ghost'], cancelled: false})

    const none = await cli(['state', 'rm', 'ghost', '--yes', '--json', '--state', state()])
    expect(none.code).toBe(3)
    expectValid('error', onlyDocument(none))
  })

  it('state unlock --json: not locked, refused, forced, stale (state-unlock schema)', async () => {
    const free = onlyDocument(await cli(['state', 'unlock', '--json', '--state', state()]))
    expectValid('state-unlock', free)
    expect(free).toEqual({state: expect.any(String), locked: false, removed: false})

    const lockDir = `${state()}.lock`
    const holder = (pid: number) => JSON.stringify({operation: 'apply', who: 'ci-job-42', pid, host: os.hostname(), since: new Date().toISOString()})
    await mkdir(lockDir)
    await writeFile(path.join(lockDir, 'owner.json'), holder(process.pid))
    const refused = await cli(['state', 'unlock', '--json', '--state', state()])
    expect(refused.code).toBe(5)
    expect(onlyDocument(refused)).toMatchObject({error: {code: 'state_locked'}})
    expectValid('error', onlyDocument(refused))

    const forced = onlyDocument(await cli(['state', 'unlock', '--force', '--json', '--state', state()]))
    expectValid('state-unlock', forced)
    expect(forced).toMatchObject({locked: true, removed: true, stale: false, holder: {operation: 'apply', pid: process.pid}})

    await mkdir(lockDir)
    await writeFile(path.join(lockDir, 'owner.json'), holder(2 ** 22 + 12_345))
    const stale = onlyDocument(await cli(['state', 'unlock', '--json', '--state', state()]))
    expectValid('state-unlock', stale)
    expect(stale).toMatchObject({locked: true, removed: true, stale: true})
  })

  it('plan --json and show --format json of a saved plan (plan.schema.json)', async () => {
    const plan = await cli(['plan', 'news.yaml', '--sandbox', '--json', '--out', 'saved.json'])
    expect(plan.code, plan.stderr).toBe(0)
    const planned = onlyDocument(plan)
    expectValid('plan', planned)
    expectNoAddress(planned)
    expectValid('saved-plan', JSON.parse(await readFile(path.join(dir, 'saved.json'), 'utf8')))

    const [json, format] = await Promise.all([cli(['show', 'saved.json', '--json']), cli(['show', 'saved.json', '--format', 'json'])])
    expect(json.code, json.stderr).toBe(0)
    const shown = onlyDocument(json)
    expectValid('plan', shown)
    expectNoAddress(shown)
    expect(onlyDocument(format)).toEqual(shown)
    expect(shown.summary).toEqual(planned.summary)
  })

  it('sandbox --json prints its connection details once, then keeps running (sandbox.schema.json)', async () => {
    const running = startCli(['sandbox', '--json', '--data-dir', path.join(dir, 'sandbox-data')], {cwd: dir})
    let stdout = ''
    running.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
    await waitFor(() => stdout.includes('\n'), 10_000)
    const early = JSON.parse(stdout) as {authUrl: string; clientId: string; clientSecret: string}
    // The credentials it printed open the server. (An answer also means the sandbox has installed its signal handlers.)
    const token = await fetch(new URL('v2/token', early.authUrl), {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({grant_type: 'client_credentials', client_id: early.clientId, client_secret: early.clientSecret}),
    })
    expect(token.status).toBe(200)
    await token.body?.cancel()
    running.child.kill('SIGTERM')
    const result = await running.done
    expect(result.code, result.stderr).toBe(0)
    const doc = onlyDocument(result)
    expectValid('sandbox', doc)
    expect(doc.outbox).toBe(path.join(dir, 'sandbox-data', 'outbox.ndjson'))
  })

  it.skipIf(!pgAvailable)('state push --json and state pull --json (state-transfer schema)', async () => {
    const workspace = uniqueName('schemas')
    try {
      const push = await cli(['state', 'push', '--from', state(), '--to', PG_URL, '--workspace', workspace, '--json'])
      expect(push.code, push.stderr).toBe(0)
      const pushed = onlyDocument(push)
      expectValid('state-transfer', pushed)
      expect(pushed).toMatchObject({direction: 'push', workspace, copied: {messages: 2}, to: {lineage: (pushed.from as {lineage: string}).lineage}})

      const pull = await cli(['state', 'pull', '--from', PG_URL, '--workspace', workspace, '--to', path.join(dir, 'pulled.json'), '--json'])
      expect(pull.code, pull.stderr).toBe(0)
      const pulled = onlyDocument(pull)
      expectValid('state-transfer', pulled)
      expect(pulled).toMatchObject({direction: 'pull', copied: {messages: 2}, to: {lineage: (pushed.from as {lineage: string}).lineage}})
    } finally {
      await dropWorkspace(workspace)
    }
  })
})

interface SchemaDoc {
  properties: Record<string, unknown>
  required: string[]
  $defs: Record<string, SchemaDoc>
}

describe('the output schemas', () => {
  const schemaDir = path.join(ROOT, 'schemas')
  const read = async (name: string) => JSON.parse(await readFile(path.join(schemaDir, `${name}.schema.json`), 'utf8')) as SchemaDoc

  it('every command with a --json or --format flag is mapped to a schema that exists', async () => {
    const manifest = JSON.parse(await readFile(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, unknown>}>}
    const withJson = Object.entries(manifest.commands)
      .filter(([, command]) => 'json' in command.flags || 'format' in command.flags)
      .map(([id]) => id)
      .sort()
    expect(withJson).toEqual(Object.keys(SCHEMA_FOR_COMMAND).sort())
    const files = await readdir(schemaDir)
    for (const schema of new Set([...Object.values(SCHEMA_FOR_COMMAND), ...OUTPUT_SCHEMAS])) expect(files).toContain(`${schema}.schema.json`)
  })

  it('each output schema is draft 2020-12 with an $id named after its file, a title and a description, and compiles in strict mode', async () => {
    for (const name of OUTPUT_SCHEMAS) {
      const file = `${name}.schema.json`
      const schema = JSON.parse(await readFile(path.join(schemaDir, file), 'utf8')) as Record<string, unknown>
      expect(() => compileSchema(name), file).not.toThrow()
      expect(schema.$schema, file).toBe('https://json-schema.org/draft/2020-12/schema')
      expect(schema.$id, file).toBe(`https://mcsend.dev/schemas/${file}`)
      expect(schema.title, file).toEqual(expect.any(String))
      expect(schema.description, file).toEqual(expect.any(String))
    }
  })

  it('the record in state show and state list is the state file record plus its messageKey', async () => {
    const [stateFile, record, list] = await Promise.all([read('state'), read('state-record'), read('state-list')])
    const {messageKey, ...rest} = record.properties
    expect(messageKey).toBeDefined()
    expect(rest).toEqual(stateFile.$defs.messageRecord!.properties)
    expect(record.required).toEqual(['messageKey', ...stateFile.$defs.messageRecord!.required])
    expect(list.$defs.record!.properties).toEqual(record.properties)
    expect(list.$defs.record!.required).toEqual(record.required)
    expect(list.$defs.hash).toEqual(stateFile.$defs.hash)
    expect(record.$defs.hash).toEqual(stateFile.$defs.hash)
  })

  it('validate and the error document describe a problem the same way', async () => {
    const [validate, error] = await Promise.all([read('validate'), read('error')])
    expect(validate.$defs.problem!.properties).toEqual(error.$defs.problem!.properties)
    expect(validate.$defs.problem!.required).toEqual(error.$defs.problem!.required)
  })

  it('rejects documents that break their contract', () => {
    const problem = {file: 'a.yaml', line: 3, column: 1, message: 'bad', path: null, hint: null}
    expectInvalid('error', {error: {message: 'no code'}})
    expectInvalid('error', {error: {code: 'invalid_input', message: 'x'}, valid: false})
    expectInvalid('error', {error: {code: 'usage', message: 'x', details: []}})
    expectInvalid('validate', {valid: true, errors: [problem], omitted: 0, manifests: 1, sends: 1, recipients: 1})
    expectInvalid('validate', {valid: false, errors: [], omitted: 0, manifests: 1, sends: 0, recipients: 0})
    const record = {messageKey: 'k', send: 's', revision: 1, status: 'accepted', at: '2026-03-01T10:00:00.000Z', toHash: 'h', attributesHash: 'h', contactHash: 'h'}
    expectValid('state-record', record)
    expectInvalid('state-record', {...record, to: 'ann@example.com'})
    expectInvalid('state-record', {...record, status: 'failed', errorMessage: 'ann@example.com is blocked'})
    expectInvalid('state-list', {state: 's', total: 1, offset: 0, records: [{...record, contactKey: 'ann@example.com'}]})
    expectInvalid('state-unlock', {state: 's', locked: false, removed: true})
    expectInvalid('state-unlock', {state: 's', locked: true, removed: true})
    expectInvalid('state-rm', {state: 's', removed: ['k'], missing: [], cancelled: true})
    expectInvalid('state-forget', {state: 's', removed: [{messageKey: 'k', send: 's', revision: 1, contactKey: 'ann@example.com'}], cancelled: false})
    const counts = {total: 1, accepted: 1, pending: 0, failed: 0, queued: 0, sent: 1, notSent: 0, tooOld: 0, notFound: 0, unchecked: 0}
    const status = {formatVersion: 1, state: 's', checkedAt: '2026-03-01T10:00:00.000Z', asked: 1, alreadyKnown: 0, interrupted: false, unsaved: 0, sends: [{send: 'news', ...counts}], totals: counts, notSentReasons: []}
    expectValid('status', status)
    expectInvalid('status', {...status, totals: {...counts, send: 'news'}})
    expectInvalid('status', {...status, sends: [counts]})
    expectInvalid('status', {...status, sends: [{send: 'news', ...counts, to: 'ann@example.com'}]})
  })
})
