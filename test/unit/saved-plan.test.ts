import {lstat, mkdtemp, readFile, rm, stat, symlink, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {ExitCode, InvalidInputError, StalePlanError} from '../../src/errors.js'
import {buildPlan} from '../../src/plan/build.js'
import {
  isSavedPlanArgument,
  parseSavedPlan,
  planFromSaved,
  planMismatches,
  readSavedPlanFile,
  savedPlanInputs,
  selectSavedSends,
  serializeSavedPlan,
  stalePlanError,
  staleReasons,
  toSavedPlan,
  writePlanFile,
  writeSavedPlanFile,
  type CurrentInputs,
  type SavedPlan,
} from '../../src/core/saved-plan.js'
import type {SendSnapshot} from '../../src/state/types.js'
import {emptyState, makeSend, manyRecipients, recipient} from '../helpers/sends.js'
import {compileSchema} from '../helpers/schemas.js'

const sha = (c: string) => c.repeat(64)
const manifests = [{file: 'sends/a.yaml', sha256: sha('1')}]
const sendA = makeSend({
  name: 'a',
  file: 'sends/a.yaml',
  attributes: {Owner: 'owner@example.com', Version: '1'},
  sources: [{file: 'sends/a.csv', sha256: sha('2')}],
  recipients: [recipient('ann@example.com', 'ann@example.com', {FirstName: 'Ann'}), ...manyRecipients(2500, (i) => ({FirstName: `N${i}`}))],
})
const sendB = makeSend({name: 'b', file: 'sends/a.yaml', recipients: manyRecipients(3)})
const state = {...emptyState(), lineage: 'L1', serial: 7}
const snapshot: SendSnapshot = {name: 'a', definitionKey: 'test-def', revision: 1, attributes: {Owner: 'owner@example.com'}, batchSize: 500, sources: [], appliedAt: '2025-01-01T00:00:00.000Z'}

function savedOf(sends = [sendA, sendB], targets: string[] = []): SavedPlan {
  const plan = buildPlan(sends, state, {stateLocation: '.mcsend/state.json', targets})
  return toSavedPlan(plan, {manifests, toolVersion: '0.1.0', createdAt: '2025-06-01T00:00:00.000Z', sandbox: false, targets, previous: {a: snapshot}})
}

function fresh(saved: SavedPlan): CurrentInputs {
  return {state: {lineage: 'L1', serial: 7, location: '.mcsend/state.json'}, sandbox: false, files: new Map(savedPlanInputs(saved).map((d) => [d.file, d.sha256]))}
}

describe('saved plan serialisation', () => {
  const validate = compileSchema('saved-plan')

  it('round-trips through its JSON form and validates against the schema', () => {
    const saved = savedOf()
    const text = serializeSavedPlan(saved)
    const doc = JSON.parse(text)
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true)
    expect(doc).toEqual(JSON.parse(JSON.stringify(saved)))
    expect(parseSavedPlan(text, 'plan.json')).toEqual(doc)
    expect(doc.sends[0].batches.map((b: {messages: unknown[]}) => b.messages.length)).toEqual([500, 500, 500, 500, 500, 1])
    expect(doc.state).toEqual({location: '.mcsend/state.json', lineage: 'L1', serial: 7})
    expect(doc.manifests).toEqual(manifests)
    expect(doc.previous).toEqual({a: {...snapshot, attributes: {Owner: 'o***@example.com'}}, b: null})
  })

  it('holds no email address and no per-recipient attribute value', () => {
    const text = serializeSavedPlan(savedOf())
    expect(text).not.toMatch(/[a-z0-9]@example\.com/)
    expect(text).not.toContain('FirstName')
    expect(text).not.toContain('"to"')
    expect(text).toContain('"contactKey":"a***@example.com"')
  })

  it('refuses another format version as stale, and malformed files as invalid input', () => {
    const doc = JSON.parse(serializeSavedPlan(savedOf()))
    const other = () => parseSavedPlan(JSON.stringify({...doc, formatVersion: 2}), 'plan.json')
    expect(other).toThrow(StalePlanError)
    try {
      other()
    } catch (error) {
      expect((error as StalePlanError).exitCode).toBe(ExitCode.locked)
      expect((error as StalePlanError).details.join('\n')).toMatch(/format version 2 by mcsend 0\.1\.0; this mcsend reads version 1/)
    }
    expect(() => parseSavedPlan('{"kind": "something"}', 'plan.json')).toThrow(InvalidInputError)
    expect(() => parseSavedPlan('not json', 'plan.json')).toThrow(/not valid JSON/)
    const broken = structuredClone(doc)
    broken.sends[0].batches[0].messages[0].to = 'ann@example.com'
    expect(() => parseSavedPlan(JSON.stringify(broken), 'plan.json')).toThrow(/not a well-formed saved plan/)
  })

  it('plan --out streams exactly the saved text, in a file private to its owner, through a link to the file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-saved-'))
    try {
      // Batches of 2,000: more than one piece of a thousand lines each.
      const sendC = makeSend({name: 'c', file: 'sends/a.yaml', batchSize: 2000, recipients: manyRecipients(4300)})
      const plan = buildPlan([sendA, sendC], state, {stateLocation: '.mcsend/state.json'})
      const noop = buildPlan([sendC], state, {stateLocation: '.mcsend/state.json'})
      const context = {manifests, toolVersion: '0.1.0', createdAt: '2025-06-01T00:00:00.000Z', sandbox: false, targets: [], previous: {a: snapshot}}
      await writePlanFile('streamed.json', dir, plan, context)
      const text = await readFile(path.join(dir, 'streamed.json'), 'utf8')
      expect(text).toBe(serializeSavedPlan(toSavedPlan(plan, context)))
      expect(validate(JSON.parse(text)), JSON.stringify(validate.errors)).toBe(true)
      expect((await stat(path.join(dir, 'streamed.json'))).mode & 0o777).toBe(0o600)
      expect(noop.sends[0]!.batches.map((b) => b.messages.length)).toEqual([2000, 2000, 300])

      await writeFile(path.join(dir, 'real.json'), '{}')
      await symlink('real.json', path.join(dir, 'link.json'))
      await writePlanFile('link.json', dir, noop, context)
      expect((await lstat(path.join(dir, 'link.json'))).isSymbolicLink()).toBe(true)
      expect(await readFile(path.join(dir, 'real.json'), 'utf8')).toBe(serializeSavedPlan(toSavedPlan(noop, context)))
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })

  it('writes atomically and reads back; tells a saved plan from manifests', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-saved-'))
    try {
      const saved = savedOf()
      await writeSavedPlanFile('plan.json', dir, saved)
      expect(await readSavedPlanFile('plan.json', dir)).toEqual(JSON.parse(JSON.stringify(saved)))
      expect(await readFile(path.join(dir, 'plan.json'), 'utf8')).toBe(serializeSavedPlan(saved))
      await writeFile(path.join(dir, 'send.yaml'), 'kind: Send\n')
      await writeFile(path.join(dir, 'other.json'), '{"a": 1}')
      expect(await isSavedPlanArgument(['plan.json'], dir)).toBe(true)
      expect(await isSavedPlanArgument(['send.yaml'], dir)).toBe(false)
      expect(await isSavedPlanArgument(['plan.json', 'send.yaml'], dir)).toBe(false)
      expect(await isSavedPlanArgument(['.'], dir)).toBe(false)
      expect(await isSavedPlanArgument(['missing.json'], dir)).toBe(false)
      // A JSON file that is not a saved plan is taken as one, so the error names the problem instead of YAML noise.
      expect(await isSavedPlanArgument(['other.json'], dir)).toBe(true)
      await expect(readSavedPlanFile('other.json', dir)).rejects.toThrow(/is not a saved plan/)
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})

describe('staleReasons', () => {
  const saved = savedOf()

  it('is empty when the state and every file are as planned', () => {
    expect(staleReasons(saved, fresh(saved))).toEqual([])
  })

  it('says when another apply moved the serial, from which to which', () => {
    const now = fresh(saved)
    expect(staleReasons(saved, {...now, state: {...now.state, serial: 9}})).toEqual([
      'state: .mcsend/state.json changed since the plan (serial 7 → 9): another apply or a state command ran',
    ])
  })

  it('says when the state is a different one (lineage)', () => {
    const now = fresh(saved)
    expect(staleReasons(saved, {...now, state: {...now.state, lineage: 'L2'}})[0]).toMatch(/is not the state the plan was made against \(lineage L1, now L2\)/)
  })

  it('treats a state created since a plan made without one as changed', () => {
    const planNew = {...saved, state: {...saved.state, lineage: '', serial: 0}}
    const now = fresh(saved)
    expect(staleReasons(planNew, {...now, state: {...now.state, lineage: 'L9', serial: 1}})).toEqual([
      'state: .mcsend/state.json changed since the plan (serial 0 → 1): another apply or a state command ran',
    ])
  })

  it('names a changed manifest, a changed source file and a missing one, one line each', () => {
    const files = new Map(fresh(saved).files)
    files.set('sends/a.yaml', sha('9'))
    files.set('sends/a.csv', undefined)
    const reasons = staleReasons(saved, {...fresh(saved), files})
    expect(reasons).toEqual([
      `file: sends/a.yaml changed since the plan (sha256 ${sha('1').slice(0, 12)} → ${sha('9').slice(0, 12)})`,
      'file: sends/a.csv is missing (it was read by the plan; run apply from the directory plan ran in)',
    ])
    const error = stalePlanError('plan.json', reasons)
    expect(error.exitCode).toBe(ExitCode.locked)
    expect(error.message).toBe('the saved plan plan.json is stale; nothing was sent')
    expect(error.details).toHaveLength(2)
  })

  it('refuses a sandbox plan applied to Marketing Cloud and the reverse', () => {
    expect(staleReasons({...saved, sandbox: true}, fresh(saved))[0]).toMatch(/made for the sandbox/)
    expect(staleReasons(saved, {...fresh(saved), sandbox: true})[0]).toMatch(/this apply targets the sandbox/)
  })
})

describe('planMismatches', () => {
  const saved = savedOf()

  it('is empty for the same plan recomputed', () => {
    expect(planMismatches(saved, buildPlan([sendA, sendB], state, {stateLocation: 'x'}))).toEqual([])
  })

  it('names a request whose keys differ, a different request count, other fields and other sends', () => {
    const reordered = makeSend({...sendA, recipients: [...sendA.recipients.slice(1), sendA.recipients[0]!]})
    expect(planMismatches(saved, buildPlan([reordered, sendB], state, {stateLocation: 'x'}))).toEqual(['plan: send a, request 1: its messages differ from the saved plan'])
    const fewer = makeSend({...sendA, recipients: sendA.recipients.slice(0, 600)})
    expect(planMismatches(saved, buildPlan([fewer, sendB], state, {stateLocation: 'x'}))).toEqual(['plan: send a now needs 2 requests; the saved plan has 6'])
    const bumped = makeSend({...sendA, revision: 2, definitionKey: 'other'})
    expect(planMismatches(saved, buildPlan([bumped, sendB], state, {stateLocation: 'x'}))[0]).toBe('plan: send a: definitionKey, revision differ from the saved plan')
    expect(planMismatches(saved, buildPlan([sendA], state, {stateLocation: 'x'}))).toEqual(['plan: the sends differ (saved: a, b; now: a)'])
  })

  it('keeps working with --send: the saved plan records the targets and apply may narrow them', () => {
    const onlyB = savedOf([sendA, sendB], ['b'])
    expect(onlyB.targets).toEqual(['b'])
    expect(onlyB.sends.map((s) => s.name)).toEqual(['b'])
    expect(planMismatches(onlyB, buildPlan([sendA, sendB], state, {stateLocation: 'x', targets: onlyB.targets}))).toEqual([])
    const narrowed = selectSavedSends(saved, ['b'])
    expect(narrowed.sends.map((s) => s.name)).toEqual(['b'])
    expect(narrowed.targets).toEqual(['b'])
    expect(() => selectSavedSends(saved, ['c'])).toThrow(/has no send named "c"/)
  })
})

describe('planFromSaved', () => {
  it('gives the renderers the saved plan, without addresses', () => {
    const saved = savedOf()
    const plan = planFromSaved(saved)
    expect(plan.summary).toEqual(saved.summary)
    expect(plan.sends[0]!.batches[0]!.messages[0]).toMatchObject({contactKey: 'a***@example.com', to: '', action: 'create'})
    expect(plan.sends.map((s) => s.batches.length)).toEqual([6, 1])
  })
})
