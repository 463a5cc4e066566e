import {mkdir, mkdtemp, rm, symlink, writeFile} from 'node:fs/promises'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {makeStateHasher, UNKEYED} from '../../src/keys/keyed.js'
import {normaliseSuppressed, suppressionHash} from '../../src/keys/suppression.js'
import {loadManifests} from '../../src/manifest/load.js'
import type {SuppressionList} from '../../src/manifest/types.js'
import {buildPlan} from '../../src/plan/build.js'
import {renderPlanText} from '../../src/render/plan-text.js'
import {makePaint} from '../../src/render/paint.js'
import {recipientRecord} from '../helpers/records.js'
import {emptyState, makeSend, recipient, stateWith} from '../helpers/sends.js'

const opts = {stateLocation: '.mcsend/state.json'}

function list(match: 'contactKey' | 'to', values: string[], extra: Partial<SuppressionList> = {}): SuppressionList {
  return {file: `${match}.csv`, sha256: 'x', match, hashed: false, scope: 'send', values: new Set(values.map((v) => normaliseSuppressed(match, v))), ...extra}
}

describe('suppression in the plan (pure)', () => {
  const recipients = [recipient('ann'), recipient('bob', 'Bob@Example.COM'), recipient('cid'), recipient('dan'), recipient('eve')]

  it('leaves suppressed recipients out of every batch and counts them per source (first source wins)', () => {
    const send = makeSend({
      recipients,
      suppression: [list('contactKey', ['ann', 'cid']), list('to', [' bob@example.com ', 'cid@example.com'])],
    })
    const plan = buildPlan([send], emptyState(), opts)
    const planned = plan.sends[0]!
    const sent = planned.batches.flatMap((b) => b.messages.map((m) => m.contactKey))
    expect(sent).toEqual(['dan', 'eve'])
    expect(planned.suppression!.map((c) => [c.file, c.suppressed, c.alreadySent])).toEqual([
      ['contactKey.csv', 2, 0],
      ['to.csv', 1, 0],
    ])
    expect(planned.counts).toMatchObject({total: 2, create: 2, toSend: 2})
    expect(plan.summary.suppressed).toBe(3)
  })

  it('matches hashed lists with the same hasher, keyed or not', () => {
    for (const hasher of [UNKEYED, makeStateHasher('a-state-key-of-sufficient-length')]) {
      const hashed = list('to', [], {hashed: true, values: new Set([suppressionHash(hasher, 'to', 'BOB@example.com')])})
      const byKey = list('contactKey', [], {hashed: true, values: new Set([suppressionHash(hasher, 'contactKey', 'eve')])})
      const plan = buildPlan([makeSend({recipients, suppression: [hashed, byKey]})], emptyState(), {...opts, hasher})
      expect(plan.sends[0]!.batches.flatMap((b) => b.messages.map((m) => m.contactKey))).toEqual(['ann', 'cid', 'dan'])
    }
    // A list hashed without the key does not match under a key (documented: hash with the plan's key).
    const unkeyed = list('to', [], {hashed: true, values: new Set([suppressionHash(UNKEYED, 'to', 'bob@example.com')])})
    const plan = buildPlan([makeSend({recipients, suppression: [unkeyed]})], emptyState(), {...opts, hasher: makeStateHasher('a-state-key-of-sufficient-length')})
    expect(plan.sends[0]!.suppression![0]!.suppressed).toBe(0)
  })

  it('shows a suppressed recipient that was already sent as such, not as drift or noop', () => {
    const state = stateWith([recipientRecord({send: 'test-send', contactKey: 'ann', to: 'old-ann@example.com'}, {status: 'accepted', at: '2026-11-26T10:00:00.000Z'})])
    const plan = buildPlan([makeSend({recipients, suppression: [list('contactKey', ['ann'])]})], state, opts)
    const planned = plan.sends[0]!
    expect(planned.suppression![0]).toMatchObject({suppressed: 1, alreadySent: 1})
    expect(planned.counts).toMatchObject({drift: 0, noop: 0, create: 4})
    expect(planned.unchanged).toEqual([])
    const text = renderPlanText(plan, {paint: makePaint(false), showAddresses: false})
    expect(text).toContain('suppressed     1 by contactKey.csv (contactKeys); 1 of them already sent before they were suppressed')
    expect(text).toContain('(1 suppressed)')
  })

  it('a plan without suppression sources has no suppression fields', () => {
    const plan = buildPlan([makeSend({recipients})], emptyState(), opts)
    expect(plan.sends[0]!.suppression).toBeUndefined()
    expect(plan.summary.suppressed).toBeUndefined()
  })
})

describe('suppression sources in manifests', () => {
  let dir: string
  afterEach(async () => {
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  async function project(files: Record<string, string>): Promise<string> {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-suppress-'))
    for (const [name, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, name)), {recursive: true})
      await writeFile(path.join(dir, name), text)
    }
    return dir
  }

  const manifest = (suppress: string) =>
    ['apiVersion: mcsend/v1', 'kind: Send', 'name: s', 'definitionKey: d', 'recipients:', '  - inline:', '      - {contactKey: ann, to: ann@example.com}', 'suppress:', suppress, ''].join('\n')

  it('reads CSV and NDJSON lists (plain and hashed), relative to the manifest', async () => {
    const hash = suppressionHash(UNKEYED, 'to', 'x@example.com')
    const cwd = await project({
      'sends/s.yaml': manifest(
        ['  - csv: ./lists/a.csv', '    match: to', '    column: email', '  - ndjson: ./lists/b.ndjson', '    match: contactKey', '  - csv: ./lists/h.csv', '    match: to', '    hashed: true'].join('\n'),
      ),
      'sends/lists/a.csv': 'id,email\n1,A@Example.com\n2,\n',
      'sends/lists/b.ndjson': '"k1"\n\n{"contactKey": "k2"}\n',
      'sends/lists/h.csv': `hash\n${hash}\n`,
    })
    const result = await loadManifests(['sends'], {fs, cwd})
    expect(result.problems).toEqual([])
    const lists = result.sends[0]!.suppression!
    expect(lists.map((l) => [l.file, l.match, l.hashed, [...l.values]])).toEqual([
      ['sends/lists/a.csv', 'to', false, ['a@example.com']],
      ['sends/lists/b.ndjson', 'contactKey', false, ['k1', 'k2']],
      ['sends/lists/h.csv', 'to', true, [hash]],
    ])
  })

  it('locates bad rows without replaying an address, and refuses paths outside the source roots', async () => {
    const cwd = await project({
      's.yaml': manifest(
        ['  - csv: ./bad.csv', '    match: to', '  - csv: ./h.csv', '    match: to', '    hashed: true', '  - csv: ../outside.csv', '    match: to', '  - ndjson: ./link.ndjson', '    match: contactKey'].join('\n'),
      ),
      'bad.csv': 'to\nann@example.com\nsecret-person@\n',
      'h.csv': 'hash\nleaked.person@example.com\n',
    })
    await symlink('/etc/hostname', path.join(cwd, 'link.ndjson'))
    const result = await loadManifests(['s.yaml'], {fs, cwd})
    expect(result.sends).toEqual([])
    const shown = result.problems.map((p) => `${p.file}:${p.line ?? ''} ${p.message}`)
    expect(shown).toContain('bad.csv:3 "secret-person@" is not an email address (no domain after the "@")')
    expect(shown).toContain('h.csv:2 an email address in a list marked hashed: true')
    expect(shown.some((s) => s.startsWith('s.yaml:14 suppression source "../outside.csv" refused: a path that leads outside the source roots'))).toBe(true)
    expect(shown.some((s) => s.startsWith('s.yaml:16 suppression source "./link.ndjson" refused: a symlink that resolves outside the source roots'))).toBe(true)
    expect(JSON.stringify(result.problems)).not.toContain('leaked.person')
  })

  it('refuses special and absolute paths outside the roots, and never prints a control character from a list', async () => {
    const cwd = await project({
      's.yaml': manifest(['  - csv: /proc/self/environ', '    match: contactKey', '  - ndjson: ./esc.ndjson', '    match: contactKey', '    column: "k\\u001b[2J"'].join('\n')),
      'esc.ndjson': '"ok"\n"bad\\u001b[31mkey"\n{"other": 1}\n',
    })
    const result = await loadManifests(['s.yaml'], {fs, cwd})
    expect(result.sends).toEqual([])
    const text = JSON.stringify(result.problems)
    expect(result.problems.some((p) => p.file === 's.yaml' && p.message.includes('refused: an absolute path outside the source roots'))).toBe(true)
    expect(result.problems.filter((p) => p.file === 'esc.ndjson').map((p) => p.line)).toEqual([2, 3])
    expect(text).not.toContain('\u001b')
  })

  it('reports a CSV without the column, naming the header', async () => {
    const cwd = await project({'s.yaml': manifest(['  - csv: ./l.csv', '    match: contactKey'].join('\n')), 'l.csv': 'id,email\n1,a@example.com\n'})
    const result = await loadManifests(['s.yaml'], {fs, cwd})
    expect(result.problems.map((p) => `${p.file}:${p.line} ${p.message}`)).toEqual(['l.csv:1 missing column "contactKey"; the header has: "id", "email"'])
  })

  it('gives the project file\'s lists to every send, before the send\'s own', async () => {
    const cwd = await project({'s.yaml': manifest(['  - csv: ./own.csv', '    match: contactKey'].join('\n')), 'own.csv': 'contactKey\nk\n', 'all.csv': 'to\nz@example.com\n'})
    const result = await loadManifests(['s.yaml'], {fs, cwd}, {projectSuppress: {abs: path.join(cwd, 'mcsend.yaml'), entries: [{spec: {csv: './all.csv', match: 'to'}, at: {file: 'mcsend.yaml', line: 3, column: 10, path: 'suppress[0].csv'}}]}})
    expect(result.problems).toEqual([])
    expect(result.sends[0]!.suppression!.map((l) => [l.file, l.scope])).toEqual([
      ['all.csv', 'project'],
      ['own.csv', 'send'],
    ])
  })
})

describe('suppression schemas', () => {
  it('mcsend.yaml takes the same suppress entries as a send', async () => {
    const {readFile} = await import('node:fs/promises')
    const manifest = JSON.parse(await readFile(new URL('../../schemas/manifest.schema.json', import.meta.url), 'utf8')) as {$defs: Record<string, unknown>}
    const project = JSON.parse(await readFile(new URL('../../schemas/project.schema.json', import.meta.url), 'utf8')) as {$defs: Record<string, unknown>}
    expect(project.$defs.suppression).toEqual(manifest.$defs.suppression)
    expect(project.$defs.path).toEqual(manifest.$defs.path)
  })
})
