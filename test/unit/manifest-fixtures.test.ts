import fs from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {describe, expect, it} from 'vitest'

import {loadManifests} from '../../src/manifest/load.js'
import {layerFromFlags} from '../../src/manifest/vars.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const invalidDir = path.join(root, 'test/fixtures/manifests/invalid')
const validDir = path.join(root, 'test/fixtures/manifests/valid')

interface Expected {
  file: string
  line: number
  column?: number
  message: string
}

/**
 * Each invalid fixture states what it must produce in `# expect: [file:]line[:column] message` lines; the file
 * defaults to the fixture itself and paths are relative to the fixture directory.
 */
function expectations(fixture: string): Expected[] {
  const text = fs.readFileSync(path.join(invalidDir, fixture), 'utf8')
  return text
    .split('\n')
    .filter((line) => line.startsWith('# expect: '))
    .map((line) => {
      const match = /^# expect: (?:([^\s:]+\.[^\s:]+):)?(\d+)(?::(\d+))? (.+)$/.exec(line)
      if (!match) throw new Error(`bad expectation in ${fixture}: ${line}`)
      const [, file, l, c, message] = match
      return {file: file ?? fixture, line: Number(l), ...(c === undefined ? {} : {column: Number(c)}), message: message!}
    })
}

const fixtures = fs.readdirSync(invalidDir).filter((f) => f.endsWith('.yaml')).sort()

describe('invalid manifest fixtures: one per rule, with message and location', () => {
  it('has fixtures', () => {
    expect(fixtures.length).toBeGreaterThan(25)
  })

  for (const fixture of fixtures) {
    it(fixture, async () => {
      const expected = expectations(fixture)
      expect(expected.length).toBeGreaterThan(0)
      const result = await loadManifests([fixture], {fs, cwd: invalidDir})
      const actual = result.problems.map((p) => ({
        file: p.file,
        line: p.line,
        ...(p.column === undefined ? {} : {column: p.column}),
        message: p.message,
      }))
      expect(actual).toEqual(expected)
      expect(result.sends).toEqual([])
    })
  }
})

describe('valid fixtures', () => {
  it('loads every source kind with positions, defaults and digests', async () => {
    const result = await loadManifests([validDir], {fs, cwd: root})
    expect(result.problems).toEqual([])
    expect(result.sends.map((s) => s.name)).toEqual(['everything', 'minimal'])
    const [everything, minimal] = result.sends
    expect(everything).toMatchObject({
      apiVersion: 'mcsend/v1',
      kind: 'Send',
      definitionKey: 'welcome',
      revision: 3,
      batchSize: 250,
      attributes: {Brand: 'Example', Year: 2025, Beta: true},
      file: 'test/fixtures/manifests/valid/everything.yaml',
      line: 3,
      column: 1,
    })
    const data = 'test/fixtures/manifests/valid/data'
    expect(everything!.recipients).toEqual([
      {
        contactKey: 'inline-1',
        to: 'first@example.com',
        messageKey: 'explicit-key-1',
        attributes: {Brand: 'Example', Year: 2025, Beta: true},
        file: 'test/fixtures/manifests/valid/everything.yaml',
        line: 15,
        column: 9,
      },
      {contactKey: 'inline-2', to: 'second@example.org', file: 'test/fixtures/manifests/valid/everything.yaml', line: 19, column: 9},
      // BOM, CRLF, a quoted line break (the record starts on line 2), an empty messageKey cell (derive one),
      // doubled quotes, an empty attribute cell kept as "", a blank line skipped.
      {contactKey: 'csv-1', to: 'csv1@example.com', attributes: {Note: 'line one\r\nline two', Empty: ''}, file: `${data}/crlf-bom.csv`, line: 2},
      {contactKey: 'csv-2', to: 'csv2@example.com', messageKey: 'csv-key-2', attributes: {Note: 'say "hi"', Empty: ''}, file: `${data}/crlf-bom.csv`, line: 4},
      {contactKey: 'csv-3', to: 'csv3@example.com', attributes: {Note: 'plain', Empty: ''}, file: `${data}/crlf-bom.csv`, line: 6},
      {contactKey: 'json-1', to: 'json1@example.com', attributes: {Score: 9.5, Vip: false, Name: 'Jörg'}, file: `${data}/recipients.json`, line: 2, column: 3},
      {contactKey: 'json-2', to: 'json2@example.com', messageKey: 'json-key-2', file: `${data}/recipients.json`, line: 3, column: 3},
      {contactKey: 'nd-1', to: 'nd1@example.com', file: `${data}/recipients.ndjson`, line: 1, column: 1},
      {contactKey: 'nd-2', to: 'nd2@example.com', attributes: {N: -1000}, file: `${data}/recipients.ndjson`, line: 3, column: 4},
    ])
    expect(everything!.sources.map((s) => s.file)).toEqual([`${data}/crlf-bom.csv`, `${data}/recipients.json`, `${data}/recipients.ndjson`])
    for (const source of everything!.sources) expect(source.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(minimal).toMatchObject({revision: 1, attributes: {}, sources: [], line: 26})
    expect(minimal!.batchSize).toBeUndefined()
    expect(result.manifests).toEqual([{file: 'test/fixtures/manifests/valid/everything.yaml', sha256: expect.stringMatching(/^[0-9a-f]{64}$/)}])
  })
})

describe('examples/', () => {
  it('loads cleanly from the real file system', async () => {
    const variables = {layers: [layerFromFlags(['version=4.3.0', 'version_slug=4-3-0']).layer]}
    const result = await loadManifests(['examples'], {fs, cwd: root}, {variables})
    expect(result.problems).toEqual([])
    expect(result.omittedProblems).toBe(0)
    const byName = new Map(result.sends.map((s) => [s.name, s]))
    expect([...byName.keys()].sort()).toEqual(['beta-invite-q3', 'maintenance-2025-06', 'release-4-2-canary', 'release-4-2-notes', 'release-4-3-0', 'trial-ending-7d'])
    expect(byName.get('release-4-3-0')!.attributes).toEqual({ReleaseVersion: '4.3.0', NotesUrl: 'https://example.com/releases/4.3.0'})
    const release = byName.get('release-4-2-notes')!
    expect(release.definitionKey).toBe('release-notes')
    expect(release.attributes).toEqual({ReleaseVersion: '4.2.0', ReleaseDate: '2025-06-03'})
    expect(release.recipients.length).toBeGreaterThanOrEqual(12)
    expect(release.recipients[0]).toMatchObject({file: 'examples/data/release-customers.csv', line: 2, attributes: {FirstName: expect.any(String), Plan: expect.any(String)}})
    expect(release.sources.map((s) => s.file)).toEqual(['examples/data/release-customers.csv'])
    const kinds = byName.get('beta-invite-q3')!.sources.map((s) => path.extname(s.file))
    expect(kinds).toEqual(['.json', '.ndjson'])
    expect(result.manifests.map((m) => m.file)).toEqual(['examples/canary.yaml', 'examples/json-sources.yaml', 'examples/multi-send.yaml', 'examples/release-announcement.yaml', 'examples/release-notes.yaml'])
  })

  it('refuses the release announcement without its version, naming the variables', async () => {
    const result = await loadManifests(['examples/release-announcement.yaml'], {fs, cwd: root})
    expect(result.problems.map((p) => p.message)).toEqual(['variable version is not set', 'variable version_slug is not set'])
  })

  it('starts every example with a yaml-language-server schema comment that resolves', () => {
    const files = fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.yaml'))
    expect(files.length).toBeGreaterThanOrEqual(3)
    for (const file of files) {
      const first = fs.readFileSync(path.join(root, 'examples', file), 'utf8').split('\n')[0]!
      const match = /^# yaml-language-server: \$schema=(\S+)$/.exec(first)
      expect(match, file).not.toBeNull()
      expect(fs.existsSync(path.resolve(root, 'examples', match![1]!)), file).toBe(true)
    }
  })
})
