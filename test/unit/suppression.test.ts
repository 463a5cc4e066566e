import {mkdir, mkdtemp, rm, symlink, writeFile} from 'node:fs/promises'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {InvalidInputError} from '../../src/errors.js'
import {makeStateHasher, UNKEYED, type StateHasher} from '../../src/keys/keyed.js'
import {normaliseSuppressed, suppressionHash, suppressionHashMode} from '../../src/keys/suppression.js'
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
  })

  it('says in every hash how it was made: sha256 unkeyed, hmac- and the key fingerprint keyed', () => {
    const key = makeStateHasher('a-state-key-of-sufficient-length')
    expect(suppressionHashMode(UNKEYED)).toBe('sha256')
    expect(suppressionHash(UNKEYED, 'to', 'Ann@Example.com')).toBe('sha256:S6O8ez-O6d9qU4OqTZJKag')
    expect(suppressionHashMode(key)).toBe(`hmac-${key.fingerprint!.slice('hmac-sha256:'.length, 'hmac-sha256:'.length + 10)}`)
    expect(suppressionHash(key, 'to', 'ann@example.com').startsWith(`${suppressionHashMode(key)}:`)).toBe(true)
    expect(suppressionHashMode(makeStateHasher('another-state-key-of-enough-length'))).not.toBe(suppressionHashMode(key))
  })

  it('refuses a hashed list made without the plan key, with another key, or with a key the plan lacks, at its first hash', () => {
    const key = makeStateHasher('a-state-key-of-sufficient-length')
    const other = makeStateHasher('another-state-key-of-enough-length')
    const cases: [StateHasher, StateHasher, RegExp][] = [
      [UNKEYED, key, /hashed without MCSEND_STATE_KEY, but the plan runs with the state key whose fingerprint starts hmac-sha256:/],
      [key, UNKEYED, /hashed with the state key whose fingerprint starts hmac-sha256:.*, but the plan runs without MCSEND_STATE_KEY/],
      [other, key, /hashed with the state key whose fingerprint starts hmac-sha256:.*, but the plan runs with the state key/],
    ]
    for (const [madeWith, planWith, message] of cases) {
      const hashed = list('to', [], {hashed: true, values: new Set([suppressionHash(madeWith, 'to', 'bob@example.com')]), hashMode: {mode: suppressionHashMode(madeWith), line: 2}})
      let thrown: unknown
      try {
        buildPlan([makeSend({recipients, suppression: [hashed]})], emptyState(), {...opts, hasher: planWith})
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(InvalidInputError)
      const error = thrown as InvalidInputError
      expect(error.exitCode).toBe(3)
      expect(error.problems).toHaveLength(1)
      expect(error.problems[0]).toMatchObject({file: 'to.csv', line: 2})
      expect(error.problems[0]!.message).toMatch(message)
      expect(error.hint).toContain('same MCSEND_STATE_KEY')
    }
    // Matching modes are accepted (the list above under its own hasher suppresses bob).
    const same = list('to', [], {hashed: true, values: new Set([suppressionHash(other, 'to', 'bob@example.com')]), hashMode: {mode: suppressionHashMode(other), line: 2}})
    expect(buildPlan([makeSend({recipients, suppression: [same]})], emptyState(), {...opts, hasher: other}).sends[0]!.suppression![0]!.suppressed).toBe(1)
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
    expect(lists[2]!.hashMode).toEqual({mode: 'sha256', line: 2})
  })

  it('refuses unprefixed hashes and a list mixing hash modes, at the line', async () => {
    const keyed = suppressionHash(makeStateHasher('a-state-key-of-sufficient-length'), 'to', 'y@example.com')
    const cwd = await project({
      's.yaml': manifest(['  - csv: ./bare.csv', '    match: to', '    hashed: true', '  - ndjson: ./mixed.ndjson', '    match: to', '    hashed: true'].join('\n')),
      'bare.csv': 'hash\nS6O8ez-O6d9qU4OqTZJKag\n',
      'mixed.ndjson': `"${suppressionHash(UNKEYED, 'to', 'x@example.com')}"\n"${keyed}"\n`,
    })
    const result = await loadManifests(['s.yaml'], {fs, cwd})
    expect(result.sends).toEqual([])
    const shown = result.problems.map((p) => `${p.file}:${p.line ?? ''} ${p.message} (${p.hint ?? ''})`)
    expect(shown).toContain('bare.csv:2 a hash without the prefix that says how it was made (sha256: or hmac-…:) (re-hash the list with `mcsend suppress hash`, under the MCSEND_STATE_KEY the plan runs with)')
    expect(shown.some((s) => s.startsWith('mixed.ndjson:2 this hash was made with the state key whose fingerprint starts hmac-sha256:') && s.includes('the one on line 1 without MCSEND_STATE_KEY'))).toBe(true)
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
