import {createHash} from 'node:crypto'
import nodeFs from 'node:fs'

import {createFsFromVolume, Volume} from 'memfs'
import {describe, expect, it} from 'vitest'

import {loadManifests, type ManifestFs} from '../../src/manifest/load.js'
import {memfs} from '../helpers/manifests.js'

const sha = (text: string): string => createHash('sha256').update(text).digest('hex')

function manifest(name: string, recipients = "  - inline: [{contactKey: a, to: a@example.com}]\n"): string {
  return `apiVersion: mcsend/v1\nkind: Send\nname: ${name}\ndefinitionKey: d\nrecipients:\n${recipients}`
}

// node:fs, a memfs Volume and createFsFromVolume all fit ManifestFs: checked at compile time (npm run lint type-checks
// the tests), so no test asserts it at run time.
const volumeForTypes = Volume.fromJSON({'/a.yaml': ''})
void ([nodeFs, volumeForTypes, createFsFromVolume(volumeForTypes)] satisfies ManifestFs[])

describe('ManifestFs', () => {
  it('works with a bare memfs Volume', async () => {
    const result = await loadManifests(['/w/a.yaml'], {fs: Volume.fromJSON({'/w/a.yaml': manifest('one')}), cwd: '/w'})
    expect(result.problems).toEqual([])
    expect(result.sends.map((s) => s.name)).toEqual(['one'])
  })
})

describe('which files are read', () => {
  const files = {
    '/w/b.yaml': manifest('b'),
    '/w/a/z.yml': manifest('az'),
    '/w/a/c.yaml': manifest('ac'),
    '/w/a/deeper/d.YAML': manifest('add'),
    '/w/a/notes.txt': 'not yaml',
    '/w/node_modules/pkg/x.yaml': 'not: a manifest',
    '/w/.github/workflows/ci.yaml': 'on: push',
    '/w/.mcsend/state.yaml': 'nope',
    '/w/mcsend.yaml': 'apiVersion: mcsend/v1\nkind: Project\nenvironments: {dev: {state: s.json}}\n',
  }

  it('expands the working directory when no path is given: sorted, skipping node_modules and dot-directories', async () => {
    const result = await loadManifests([], {fs: memfs(files), cwd: '/w'})
    expect(result.problems).toEqual([])
    expect(result.manifests.map((m) => m.file)).toEqual(['a/c.yaml', 'a/deeper/d.YAML', 'a/z.yml', 'b.yaml'])
    expect(result.sends.map((s) => s.name)).toEqual(['ac', 'add', 'az', 'b'])
  })

  it('reads each manifest file from disk once: the directory scan hands its bytes to the loader', async () => {
    const inner = memfs(files)
    const reads: string[] = []
    const counting: ManifestFs = {
      promises: {
        readFile: (p) => {
          reads.push(p)
          return inner.promises.readFile(p) as Promise<Buffer>
        },
        stat: (p) => inner.promises.stat(p),
        lstat: (p) => inner.promises.lstat(p),
        readdir: (p) => inner.promises.readdir(p),
        realpath: (p) => inner.promises.realpath(p),
        open: (p, flags) => inner.promises.open(p, flags),
      },
      createReadStream: (p, options) => inner.createReadStream(p, options),
    }
    const result = await loadManifests([], {fs: counting, cwd: '/w'})
    expect(result.sends).toHaveLength(4)
    // mcsend.yaml (kind: Project) is read by the scan and recognised as not a manifest.
    expect(reads.sort()).toEqual(['/w/a/c.yaml', '/w/a/deeper/d.YAML', '/w/a/z.yml', '/w/b.yaml', '/w/mcsend.yaml'])
  })

  it('reads files in the order given, each once, with display paths relative to cwd', async () => {
    const result = await loadManifests(['../b.yaml', '/w/a/z.yml', './../b.yaml', 'c.yaml', 'missing.yaml'], {fs: memfs(files), cwd: '/w/a'})
    expect(result.manifests.map((m) => m.file)).toEqual(['../b.yaml', 'z.yml', 'c.yaml'])
    expect(result.sends.map((s) => s.name)).toEqual(['b', 'az', 'ac'])
    expect(result.problems).toEqual([
      {file: 'missing.yaml', message: 'no such file or directory', hint: 'pass manifest files or directories that hold them'},
    ])
  })

  it('reports a directory without manifests', async () => {
    const result = await loadManifests(['a/deeper', 'empty'], {fs: memfs({...files, '/w/empty/readme.md': ''}), cwd: '/w'})
    expect(result.problems).toEqual([{file: 'empty', message: 'no manifest files in this directory (*.yaml or *.yml with apiVersion: mcsend/v1)'}])
    expect(result.sends.map((s) => s.name)).toEqual(['add'])
  })

  it('a directory scan skips YAML that is not an mcsend manifest, but a file named explicitly is validated', async () => {
    const workflow = 'name: ci\non: [push]\njobs: {}\n'
    const scanned = await loadManifests(['a/deeper', 'wf'], {fs: memfs({...files, '/w/wf/ci.yml': workflow}), cwd: '/w'})
    expect(scanned.problems).toEqual([{file: 'wf', message: 'no manifest files in this directory (*.yaml or *.yml with apiVersion: mcsend/v1)'}])
    const named = await loadManifests(['wf/ci.yml'], {fs: memfs({...files, '/w/wf/ci.yml': workflow}), cwd: '/w'})
    expect(named.problems.length).toBeGreaterThan(0)
  })

  it('records a digest of every manifest file read', async () => {
    const result = await loadManifests(['b.yaml', 'a/c.yaml'], {fs: memfs(files), cwd: '/w'})
    expect(result.manifests).toEqual([
      {file: 'b.yaml', sha256: sha(files['/w/b.yaml'])},
      {file: 'a/c.yaml', sha256: sha(files['/w/a/c.yaml'])},
    ])
  })
})

describe('documents and sends', () => {
  it('reads every document of a multi-document file, skipping empty ones, and records where each send starts', async () => {
    const text = `# leading comment\n${manifest('first')}---\n---\n# only a comment\n---\n${manifest('second')}---\n`
    const result = await loadManifests(['m.yaml'], {fs: memfs({'/w/m.yaml': text}), cwd: '/w'})
    expect(result.problems).toEqual([])
    expect(result.sends.map((s) => [s.name, s.file, s.line, s.column])).toEqual([
      ['first', 'm.yaml', 2, 1],
      ['second', 'm.yaml', 12, 1],
    ])
  })

  it('resolves YAML anchors and aliases', async () => {
    const text = manifest('aliases', '  - inline:\n      - &ann {contactKey: ann, to: ann@example.com}\n') + 'attributes: &attrs {A: 1}\n'
    const result = await loadManifests(['m.yaml'], {fs: memfs({'/w/m.yaml': text}), cwd: '/w'})
    expect(result.problems).toEqual([])
    expect(result.sends[0]!.attributes).toEqual({A: 1})
  })

  it('keeps only problem-free sends, and reports problems from every file', async () => {
    const fs = memfs({
      '/w/a.yaml': manifest('good'),
      '/w/b.yaml': manifest('bad').replace('definitionKey: d', 'definitionKey: ""'),
      '/w/c.yaml': `${manifest('also-good')}---\n${manifest('bad-too', '  - inline: [{contactKey: x, to: nobody}]\n')}`,
    })
    const result = await loadManifests([], {fs, cwd: '/w'})
    expect(result.sends.map((s) => s.name)).toEqual(['good', 'also-good'])
    expect(result.problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.path} ${p.message}`)).toEqual([
      'b.yaml:4:16 definitionKey must not be empty',
      'c.yaml:13:34 recipients[0].inline[0].to "nobody" is not an email address (it has no "@")',
    ])
  })

  it('reports two sends with the same name in different files, naming both, and drops both', async () => {
    const fs = memfs({'/w/a.yaml': manifest('dup'), '/w/sub/b.yaml': manifest('dup'), '/w/c.yaml': manifest('other')})
    const result = await loadManifests([], {fs, cwd: '/w'})
    expect(result.problems).toEqual([
      {
        file: 'sub/b.yaml',
        line: 3,
        column: 7,
        path: 'name',
        message: 'duplicate send name "dup": also in a.yaml:3:7',
        hint: 'send names are unique across all manifests (they are part of every messageKey)',
      },
    ])
    expect(result.sends.map((s) => s.name)).toEqual(['other'])
  })

  it('fills the defaults: revision 1, no shared attributes, no batch size', async () => {
    const result = await loadManifests(['m.yaml'], {fs: memfs({'/w/m.yaml': manifest('defaults')}), cwd: '/w'})
    const send = result.sends[0]!
    expect(send).toEqual({
      apiVersion: 'mcsend/v1',
      kind: 'Send',
      name: 'defaults',
      definitionKey: 'd',
      revision: 1,
      attributes: {},
      recipients: [{contactKey: 'a', to: 'a@example.com', file: 'm.yaml', line: 6, column: 14}],
      file: 'm.yaml',
      line: 1,
      column: 1,
      sources: [],
    })
  })

  it('orders the problems of a document by position', async () => {
    const text = 'kind: Sned\napiVersion: mcsend/v1\nname: x\ndefinitionKey: d\nbatchSize: 0\nrecipients:\n  - inline: [{contactKey: a, to: a@example.com}]\n'
    const result = await loadManifests(['m.yaml'], {fs: memfs({'/w/m.yaml': text}), cwd: '/w'})
    expect(result.problems.map((p) => [p.line, p.message])).toEqual([
      [1, 'must be "Send", not "Sned"'],
      [5, 'must be at least 1'],
    ])
  })
})

describe('YAML errors', () => {
  it('locates syntax errors and continues with the other documents', async () => {
    const text = `${manifest('ok')}---\nname: [unclosed\n---\n${manifest('ok-too')}`
    const result = await loadManifests(['m.yaml'], {fs: memfs({'/w/m.yaml': text}), cwd: '/w'})
    expect(result.problems).toHaveLength(1)
    expect(result.problems[0]).toMatchObject({file: 'm.yaml', line: 9})
    expect(result.sends.map((s) => s.name)).toEqual(['ok', 'ok-too'])
  })

  it('locates a duplicate key inside a recipient', async () => {
    const text = manifest('dupkey', '  - inline:\n      - contactKey: a\n        to: a@example.com\n        to: b@example.com\n')
    const result = await loadManifests(['m.yaml'], {fs: memfs({'/w/m.yaml': text}), cwd: '/w'})
    expect(result.problems).toEqual([{file: 'm.yaml', line: 9, column: 9, message: 'duplicate key "to" (each key may appear only once in a mapping)'}])
  })
})

describe('the problem cap', () => {
  const rows = Array.from({length: 120}, (_, i) => `k${i},not-an-address-${i}`).join('\n')
  const files = {'/w/m.yaml': manifest('many', '  - csv: c.csv\n'), '/w/c.csv': `contactKey,to\n${rows}\n`}

  it('keeps the first 50 problems by default and counts the rest', async () => {
    const result = await loadManifests([], {fs: memfs(files), cwd: '/w'})
    expect(result.problems).toHaveLength(50)
    expect(result.omittedProblems).toBe(70)
    expect(result.problems[49]).toMatchObject({file: 'c.csv', line: 51})
    expect(result.sends).toEqual([])
  })

  it('follows maxProblems', async () => {
    const result = await loadManifests([], {fs: memfs(files), cwd: '/w'}, {maxProblems: 5})
    expect(result.problems).toHaveLength(5)
    expect(result.omittedProblems).toBe(115)
  })
})

describe('messageKey uniqueness', () => {
  it('reports an explicit messageKey used twice, within a send and across sends', async () => {
    const files = {
      '/w/a.yaml': manifest('one', '  - inline:\n      - {contactKey: a, to: a@example.com, messageKey: k1}\n      - {contactKey: b, to: b@example.com, messageKey: k1}\n'),
      '/w/b.yaml': manifest('two', '  - inline:\n      - {contactKey: c, to: c@example.com, messageKey: k1}\n'),
    }
    const result = await loadManifests(['a.yaml', 'b.yaml'], {fs: memfs(files), cwd: '/w'})
    expect(result.sends).toEqual([])
    expect(result.problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.message}`)).toEqual([
      'a.yaml:8:9 duplicate messageKey "k1": also used at a.yaml:7:9',
      'b.yaml:7:9 duplicate messageKey "k1": also used at a.yaml:7:9',
    ])
  })

  it('reports an explicit messageKey equal to the key derived for another recipient', async () => {
    const {deriveMessageKey} = await import('../../src/keys/message-key.js')
    const stolen = deriveMessageKey('one', 1, 'a')
    const files = {
      '/w/a.yaml': manifest('one', `  - inline:\n      - {contactKey: a, to: a@example.com}\n      - {contactKey: b, to: b@example.com, messageKey: "${stolen}"}\n`),
    }
    const result = await loadManifests(['a.yaml'], {fs: memfs(files), cwd: '/w'})
    expect(result.sends).toEqual([])
    expect(result.problems).toHaveLength(1)
    expect(result.problems[0]).toMatchObject({file: 'a.yaml', line: 8, message: `duplicate messageKey "${stolen}": also used at a.yaml:7:9`})
  })

  it('costs nothing and reports nothing when every key is derived', async () => {
    const result = await loadManifests(['a.yaml'], {fs: memfs({'/w/a.yaml': manifest('one', '  - inline:\n      - {contactKey: a, to: a@example.com}\n      - {contactKey: b, to: b@example.com}\n')}), cwd: '/w'})
    expect(result.problems).toEqual([])
    expect(result.sends[0]!.recipients).toHaveLength(2)
  })
})

describe('messageKey privacy', () => {
  it('refuses an explicit messageKey holding an address, without printing it', async () => {
    const files = {'/w/a.yaml': manifest('one', '  - inline:\n      - {contactKey: a, to: a@example.com, messageKey: "ann@example.com"}\n')}
    const result = await loadManifests(['a.yaml'], {fs: memfs(files), cwd: '/w'})
    expect(result.sends).toEqual([])
    expect(result.problems).toHaveLength(1)
    expect(result.problems[0]!.message).toContain('must not contain "@"')
    expect(JSON.stringify(result.problems)).not.toContain('ann@example.com')
  })
})
