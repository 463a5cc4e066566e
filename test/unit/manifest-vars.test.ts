import {describe, expect, it} from 'vitest'

import {loadManifests} from '../../src/manifest/load.js'
import type {LoadResult, Send} from '../../src/manifest/types.js'
import {
  interpolate,
  layerFromEnv,
  layerFromFlags,
  parseVarFile,
  type ResolvedVariable,
  type VariableInputs,
  type VariableLayer,
} from '../../src/manifest/vars.js'
import {memfs} from '../helpers/manifests.js'

const RELEASE = [
  'apiVersion: mcsend/v1',
  'kind: Send',
  'vars:',
  '  version:',
  '    pattern: "[0-9]+[.][0-9]+[.][0-9]+"',
  '  version_slug: {}',
  '  rev:',
  '    type: number',
  '    default: 1',
  '  loud:',
  '    type: boolean',
  '    default: false',
  'name: release-${{ vars.version_slug }}',
  'definitionKey: notes-${{ vars.rev }}',
  'revision: ${{ vars.rev }}',
  'attributes:',
  '  ReleaseVersion: ${{ vars.version }}',
  '  Loud: ${{ vars.loud }}',
  '  Literal: "$${{ vars.version }}"',
  'recipients:',
  '  - inline:',
  '      - {contactKey: ann, to: ann@example.com, attributes: {Line: "Hi, ${{ vars.version }} is out"}}',
  '  - csv: ./data-${{ vars.version_slug }}.csv',
  '',
].join('\n')

const CSV = 'contactKey,to,Note\nbob,bob@example.com,v${{ vars.version }}\n'

const values = (...pairs: [string, string][]): string[] => pairs.map(([k, v]) => `${k}=${v}`)

function inputs(...layers: VariableLayer[]): VariableInputs {
  return {layers}
}

async function load(files: Record<string, string>, vars: VariableInputs, paths = ['/w/send.yaml']): Promise<LoadResult> {
  return loadManifests(paths, {fs: memfs(files), cwd: '/w'}, {variables: vars})
}

function flags(...args: string[]): VariableLayer {
  const {layer, errors} = layerFromFlags(args)
  expect(errors).toEqual([])
  return layer
}

const located = (r: LoadResult) => r.problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.message}`)

describe('manifest variables', () => {
  it('resolves name, revision, definitionKey, shared and per-recipient attributes (inline and CSV) and source paths', async () => {
    const r = await load({'/w/send.yaml': RELEASE, '/w/data-4-3-0.csv': CSV}, inputs(flags(...values(['version', '4.3.0'], ['version_slug', '4-3-0'], ['rev', '2']))))
    expect(r.problems).toEqual([])
    const send = r.sends[0] as Send
    expect(send).toMatchObject({name: 'release-4-3-0', definitionKey: 'notes-2', revision: 2, nameTemplate: 'release-${{ vars.version_slug }}'})
    expect(send.attributes).toEqual({ReleaseVersion: '4.3.0', Loud: false, Literal: '${{ vars.version }}'})
    expect(send.recipients.map((x) => x.attributes)).toEqual([{Line: 'Hi, 4.3.0 is out'}, {Note: 'v4.3.0'}])
    expect(send.sources.map((s) => s.file)).toEqual(['data-4-3-0.csv'])
    expect(send.variables).toEqual({loud: false, rev: 2, version: '4.3.0', version_slug: '4-3-0'})
    expect(send.variableSources).toEqual({loud: 'default', rev: '--var', version: '--var', version_slug: '--var'})
    expect(r.variables).toEqual(['loud', 'rev', 'version', 'version_slug'])
  })

  it('resolves templates in JSON and NDJSON recipients too', async () => {
    const manifest = [
      'apiVersion: mcsend/v1',
      'kind: Send',
      'vars: {v: {}}',
      'name: s',
      'definitionKey: d',
      'recipients:',
      '  - json: ./a.json',
      '  - ndjson: ./b.ndjson',
      '',
    ].join('\n')
    const r = await load(
      {
        '/w/send.yaml': manifest,
        '/w/a.json': '[{"contactKey": "a", "to": "a@example.com", "attributes": {"X": "${{ vars.v }}"}}]',
        '/w/b.ndjson': '{"contactKey": "b", "to": "b@example.com", "attributes": {"Y": "<${{ vars.v }}>"}}\n',
      },
      inputs(flags('v=7')),
    )
    expect(r.problems).toEqual([])
    expect(r.sends[0]!.recipients.map((x) => x.attributes)).toEqual([{X: '7'}, {Y: '<7>'}])
  })

  it('takes values with the later layer winning: default < project < var file < MCSEND_VAR_ < --var', async () => {
    const manifest = ['apiVersion: mcsend/v1', 'kind: Send', 'vars:', '  a: {default: from-default}', '  b: {default: from-default}', '  c: {default: from-default}', '  d: {default: from-default}', '  e: {default: from-default}', 'name: s', 'definitionKey: d', 'attributes: {A: "${{ vars.a }}", B: "${{ vars.b }}", C: "${{ vars.c }}", D: "${{ vars.d }}", E: "${{ vars.e }}"}', 'recipients: [{inline: [{contactKey: k, to: k@example.com}]}]', ''].join('\n')
    const project = parseVarFile('b: from-project\nc: from-project\nd: from-project\ne: from-project\n', 'mcsend.yaml').layer
    const file = parseVarFile('c: from-file\nd: from-file\ne: from-file\n', 'vars.yaml').layer
    const env = layerFromEnv({MCSEND_VAR_d: 'from-env', MCSEND_VAR_e: 'from-env', OTHER: 'x'})
    const r = await load({'/w/send.yaml': manifest}, inputs(project, file, env, flags('e=from-flag')))
    expect(r.problems).toEqual([])
    expect(r.sends[0]!.attributes).toEqual({A: 'from-default', B: 'from-project', C: 'from-file', D: 'from-env', E: 'from-flag'})
    expect(r.sends[0]!.variableSources).toEqual({a: 'default', b: 'mcsend.yaml', c: 'vars.yaml', d: 'MCSEND_VAR_d', e: '--var'})
  })

  it('a later --var for the same name wins', () => {
    expect(flags('a=1', 'a=2').get('a')?.value).toBe('2')
  })

  describe('every mistake is located and names the variable', () => {
    const base = (body: string[]) => ['apiVersion: mcsend/v1', 'kind: Send', ...body, 'recipients: [{inline: [{contactKey: k, to: k@example.com}]}]', ''].join('\n')

    it('an undeclared variable, at its use, with a suggestion', async () => {
      const r = await load({'/w/send.yaml': base(['vars: {version: {default: "1"}}', 'name: s', 'definitionKey: d', 'attributes:', '  V: ${{ vars.verison }}'])}, inputs())
      expect(located(r)).toEqual(['send.yaml:7:6 undeclared variable verison (did you mean version?)'])
    })

    it('an unset variable, at its declaration, with how to set it', async () => {
      const r = await load({'/w/send.yaml': base(['vars:', '  version: {}', 'name: s-${{ vars.version }}', 'definitionKey: d'])}, inputs())
      expect(located(r)).toEqual(['send.yaml:4:3 variable version is not set'])
      expect(r.problems[0]!.hint).toContain('--var version=VALUE')
      expect(r.problems[0]!.hint).toContain('MCSEND_VAR_version')
    })

    it('a value of the wrong type from --var and MCSEND_VAR_, at the declaration, naming where it came from', async () => {
      const manifest = base(['vars:', '  rev: {type: number}', '  loud: {type: boolean}', 'name: s', 'definitionKey: d', 'revision: ${{ vars.rev }}'])
      const r = await load({'/w/send.yaml': manifest}, inputs(layerFromEnv({MCSEND_VAR_loud: 'yes'}), flags('rev=two')))
      expect(located(r)).toEqual([
        'send.yaml:4:3 variable rev must be a number, not the string "two" (set by --var rev)',
        'send.yaml:5:3 variable loud must be true or false, not the string "yes" (set by MCSEND_VAR_loud)',
      ])
    })

    it('a value of the wrong type in a var file, at its line in that file', async () => {
      const manifest = base(['vars:', '  rev: {type: number}', '  version: {}', 'name: s', 'definitionKey: d'])
      const file = parseVarFile('# release values\nrev: "3"\nversion: 4.3\n', 'release.yaml')
      expect(file.problems).toEqual([])
      const r = await load({'/w/send.yaml': manifest}, inputs(file.layer))
      expect(located(r)).toEqual([
        'release.yaml:2:6 variable rev must be a number, not the string "3" (set by release.yaml:2:6)',
        'release.yaml:3:10 variable version must be a string, not the number 4.3 (quote it: "4.3") (set by release.yaml:3:10)',
      ])
    })

    it('a default of the wrong type, at the default', async () => {
      const r = await load({'/w/send.yaml': base(['vars:', '  rev:', '    type: number', '    default: "1"', 'name: s', 'definitionKey: d'])}, inputs())
      expect(located(r)).toEqual(['send.yaml:6:14 variable rev: the default must be a number, like its type'])
    })

    it('a value not matching the pattern, naming the value, the source and the pattern', async () => {
      const manifest = base(['vars:', '  version:', '    pattern: "[0-9]+[.][0-9]+"', 'name: s', 'definitionKey: d'])
      const r = await load({'/w/send.yaml': manifest}, inputs(flags('version=4.3-beta')))
      expect(located(r)).toEqual(['send.yaml:4:3 variable version: "4.3-beta" (from --var version) does not match its pattern [0-9]+[.][0-9]+'])
      expect(r.problems[0]!.hint).toContain('send.yaml:5:14')
    })

    it('a pattern that is not a regular expression, at the pattern', async () => {
      const r = await load({'/w/send.yaml': base(['vars:', '  v:', '    pattern: "[0-9"', '    default: "1"', 'name: s', 'definitionKey: d'])}, inputs())
      expect(located(r)[0]).toMatch(/^send\.yaml:5:14 variable v: the pattern is not a valid regular expression/)
    })

    it('a resolved name that is not a slug, at the name, naming the variable and its value', async () => {
      const r = await load({'/w/send.yaml': base(['vars: {version: {}}', 'name: release-${{ vars.version }}', 'definitionKey: d'])}, inputs(flags('version=4.3.0')))
      expect(located(r)).toEqual([
        'send.yaml:4:7 "release-4.3.0" is not a valid name: use lowercase letters, digits and hyphens, starting and ending with a letter or digit (from ${{ vars.version }} = "4.3.0")',
      ])
    })

    it('a resolved revision that is not a whole number, at the revision', async () => {
      const r = await load({'/w/send.yaml': base(['vars: {rev: {}}', 'name: s', 'definitionKey: d', 'revision: ${{ vars.rev }}'])}, inputs(flags('rev=2')))
      expect(located(r)).toEqual(['send.yaml:6:11 must be a whole number, not a string (from ${{ vars.rev }} = "2")'])
    })

    it('a bad variable name, an unsupported expression, an unclosed template and a template where none is allowed', async () => {
      const manifest = base(['vars: {"1st": {default: x}}', 'name: s', 'definitionKey: ${{ env.HOME }}', 'attributes: {A: "${{ vars.x"}'])
      const r = await load({'/w/send.yaml': manifest.replace('contactKey: k', 'contactKey: "${{ vars.who }}"')}, inputs())
      expect(located(r)).toEqual([
        'send.yaml:3:8 "1st" is not a variable name: use letters, digits and _, not starting with a digit (at most 64)',
        'send.yaml:5:16 unsupported expression ${{ env.HOME }}: only ${{ vars.NAME }} is allowed',
        'send.yaml:6:17 "${{" without a closing "}}" (write "$${{" for a literal "${{")',
        'send.yaml:7:37 ${{ … }} is not allowed in recipients[0].inline[0].contactKey',
      ])
    })

    it('an undeclared variable in a CSV attribute, at the CSV row', async () => {
      const manifest = base(['name: s', 'definitionKey: d']).replace('recipients: [{inline: [{contactKey: k, to: k@example.com}]}]', 'recipients: [{csv: ./r.csv}]')
      const r = await load({'/w/send.yaml': manifest, '/w/r.csv': 'contactKey,to,X\nk,k@example.com,${{ vars.nope }}\n'}, inputs())
      expect(r.problems.map((p) => `${p.file}:${p.line} ${p.path} ${p.message}`)).toEqual(['r.csv:2 attributes.X attribute "X": undeclared variable nope; declare it under vars:'])
    })

    it('a bad value in a var file is reported once, however many sends declare the variable', async () => {
      const one = (name: string) => base(['vars: {rev: {type: number}}', `name: ${name}`, 'definitionKey: d'])
      const r = await load({'/w/a.yaml': one('a'), '/w/b.yaml': one('b')}, inputs(parseVarFile('rev: x\n', 'v.yaml').layer), ['/w/a.yaml', '/w/b.yaml'])
      expect(located(r)).toEqual(['v.yaml:1:6 variable rev must be a number, not the string "x" (set by v.yaml:1:6)'])
      expect(r.sends).toEqual([])
    })
  })
})

describe('interpolate', () => {
  const vals = new Map<string, ResolvedVariable>([
    ['n', {value: 3, source: 'default'}],
    ['s', {value: 'x', source: 'default'}],
  ])

  it('keeps the type of a whole-value template and writes values into longer text', () => {
    expect(interpolate('${{ vars.n }}', vals)).toEqual({value: 3})
    expect(interpolate('${{vars.n}}', vals)).toEqual({value: 3})
    expect(interpolate(' ${{ vars.n }}', vals)).toEqual({value: ' 3'})
    expect(interpolate('${{ vars.s }}-${{ vars.n }}', vals)).toEqual({value: 'x-3'})
    expect(interpolate('cost: $${{ vars.n }}', vals)).toEqual({value: 'cost: ${{ vars.n }}'})
  })
})

describe('var files and --var flags', () => {
  it('reject what is not a mapping of names to scalars, located', () => {
    expect(parseVarFile('- a\n', 'v.yaml').problems.map((p) => `${p.place.line}:${p.place.column} ${p.message}`)).toEqual(['1:1 must be a mapping of variable names to values (name: value)'])
    expect(parseVarFile('a: [1]\nb-c: 1\na: 2\n', 'v.yaml').problems.map((p) => `${p.place.line}:${p.place.column} ${p.message}`)).toEqual(['3:1 duplicate variable (each may appear only once)'])
    expect(parseVarFile('a: [1]\nb-c: 1\n', 'v.yaml').problems.map((p) => `${p.place.line}:${p.place.column} ${p.message}`)).toEqual([
      '1:4 variable a must be a string, number or boolean, not a list',
      '2:1 "b-c" is not a variable name (letters, digits and _, not starting with a digit)',
    ])
  })

  it('reject a --var without = or with a bad name', () => {
    expect(layerFromFlags(['version', 'a-b=1', 'ok=x=y']).errors).toEqual(['--var "version": expected NAME=VALUE', '--var "a-b": not a variable name (letters, digits and _, not starting with a digit)'])
    expect(layerFromFlags(['ok=x=y']).layer.get('ok')?.value).toBe('x=y')
  })
})
