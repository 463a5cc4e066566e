import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {storableSnapshot} from '../../src/core/state-key.js'
import {prepareVariables} from '../../src/core/variables.js'
import {InvalidInputError} from '../../src/errors.js'
import {makeStateHasher, UNKEYED} from '../../src/keys/keyed.js'
import {loadManifests} from '../../src/manifest/load.js'
import type {LoadResult} from '../../src/manifest/types.js'
import {layerFromFlags, type VariableInputs} from '../../src/manifest/vars.js'
import {buildPlan} from '../../src/plan/build.js'
import {makePaint} from '../../src/render/paint.js'
import {renderPlanMarkdown} from '../../src/render/plan-markdown.js'
import {renderPlanText} from '../../src/render/plan-text.js'
import {emptyState} from '../helpers/sends.js'
import {memfs} from '../helpers/manifests.js'

// Variables meet the security rules: a templated source path is confined once resolved, a value reaches output
// only through the privacy layer, var files get the manifests' strict input, keyed hashing covers templated sends.

const manifest = (lines: string[]): string => ['apiVersion: mcsend/v1', 'kind: Send', ...lines, ''].join('\n')

function vars(...args: string[]): VariableInputs {
  const {layer, errors} = layerFromFlags(args)
  expect(errors).toEqual([])
  return {layers: [layer]}
}

async function load(files: Record<string, string>, inputs: VariableInputs): Promise<LoadResult> {
  return loadManifests(['/w/send.yaml'], {fs: memfs(files), cwd: '/w'}, {variables: inputs})
}

const SOURCE_SEND = manifest(['vars:', '  data: {}', 'name: s', 'definitionKey: d', 'recipients:', '  - csv: ./${{ vars.data }}'])
const CSV = 'contactKey,to\nk,k@example.com\n'

describe('templated source paths and the source roots', () => {
  it('reads a templated path that resolves inside the project', async () => {
    const r = await load({'/w/send.yaml': SOURCE_SEND, '/w/r-1.csv': CSV}, vars('data=r-1.csv'))
    expect(r.problems).toEqual([])
    expect(r.sends[0]!.sources.map((s) => s.file)).toEqual(['r-1.csv'])
  })

  it('refuses a templated path whose resolved value leads outside the source roots', async () => {
    const r = await load({'/w/send.yaml': SOURCE_SEND, '/outside/r.csv': CSV}, vars('data=../outside/r.csv'))
    expect(r.sends).toEqual([])
    expect(r.problems.map((p) => `${p.file}:${p.line} ${p.path} ${p.message}`)).toEqual([
      'send.yaml:8 recipients[0].csv csv source "./../outside/r.csv" refused: a path that leads outside the source roots',
    ])
  })
})

describe('variable values in output', () => {
  const send = manifest(['vars:', '  owner: {}', 'name: s', 'definitionKey: d', 'attributes:', '  Owner: ${{ vars.owner }}', 'recipients: [{inline: [{contactKey: k, to: k@example.com}]}]'])

  it('masks an address a variable holds in the text plan, and escapes control characters', async () => {
    const r = await load({'/w/send.yaml': send}, vars('owner=boss@example.com\u001b[2J'))
    expect(r.problems).toEqual([])
    const text = renderPlanText(buildPlan(r.sends, emptyState(), {stateLocation: 's'}), {paint: makePaint(false), showAddresses: false})
    expect(text).not.toContain('boss@example.com')
    expect(text).not.toContain('\u001b')
    expect(text).toContain('owner="b***@example.com\\u001b[2J" (--var)')
  })

  it('a value that fails its pattern is quoted masked in the error', async () => {
    const strict = manifest(['vars:', '  v: {pattern: "[0-9]+"}', 'name: s', 'definitionKey: d-${{ vars.v }}', 'recipients: [{inline: [{contactKey: k, to: k@example.com}]}]'])
    const r = await load({'/w/send.yaml': strict}, vars('v=ann@example.com'))
    const messages = r.problems.map((p) => p.message).join('\n')
    expect(messages).toContain('does not match its pattern')
    expect(messages).not.toContain('ann@example.com')
    expect(messages).toContain('a***@example.com')
  })

  it('the Markdown diff against the last release masks and hashes like the state', async () => {
    const r = await load({'/w/send.yaml': send}, vars('owner=boss@example.com'))
    const plan = buildPlan(r.sends, emptyState(), {stateLocation: 's'})
    const previous = storableSnapshot({...r.sends[0]!, batchSize: 100, appliedAt: '2026-01-01T00:00:00.000Z', variables: {owner: 'old@example.com'}}, UNKEYED)
    const md = renderPlanMarkdown(plan, {showAddresses: false, previous: {s: previous}, storable: (v) => (v.includes('@') ? UNKEYED.hashValue(v) : v)})
    expect(md).not.toContain('boss@example.com')
    expect(md).not.toContain('old@example.com')
  })

  it('the state snapshot stores a variable value holding an address as a hash', () => {
    const snap = storableSnapshot(
      {name: 's', definitionKey: 'd', revision: 1, attributes: {}, batchSize: 1, sources: [], appliedAt: '2026-01-01T00:00:00.000Z', variables: {owner: 'boss@example.com', version: '4.3.0'}},
      UNKEYED,
    )
    expect(snap.variables!.version).toBe('4.3.0')
    expect(snap.variables!.owner).toBe(UNKEYED.hashValue('boss@example.com'))
  })
})

describe('keyed hashing of templated sends', () => {
  it('derives the messageKeys of a templated send under MCSEND_STATE_KEY like any other', async () => {
    const templated = manifest(['vars:', '  slug: {}', 'name: release-${{ vars.slug }}', 'definitionKey: d', 'recipients: [{inline: [{contactKey: k, to: k@example.com}]}]'])
    const plain = manifest(['name: release-4-3-0', 'definitionKey: d', 'recipients: [{inline: [{contactKey: k, to: k@example.com}]}]'])
    const keyed = makeStateHasher('a-state-key-of-32-characters-xx')
    const key = async (text: string, hasher = keyed) => {
      const r = await load({'/w/send.yaml': text}, vars('slug=4-3-0'))
      expect(r.problems).toEqual([])
      return buildPlan(r.sends, emptyState(), {stateLocation: 's', hasher}).sends[0]!.batches[0]!.messages[0]!.messageKey
    }
    const keyedTemplated = await key(templated)
    expect(keyedTemplated).toBe(await key(plain))
    expect(keyedTemplated).not.toBe(await key(templated, UNKEYED))
  })
})

describe('var files get the strict input of manifests', () => {
  let dir: string | undefined
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, {recursive: true, force: true})
    dir = undefined
  })

  it('invalid UTF-8 in a var file is a located error', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mcsend-vars-'))
    writeFileSync(path.join(dir, 'bad.yaml'), Buffer.concat([Buffer.from('version: "4.3'), Buffer.from([0xff]), Buffer.from('"\n')]))
    const error = await prepareVariables({varFiles: ['bad.yaml']}, {}, dir).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(InvalidInputError)
    const problem = (error as InvalidInputError).problems[0]!
    expect(`${problem.file}:${problem.line}:${problem.column}`).toBe('bad.yaml:1:14')
    expect(problem.message).toMatch(/UTF-8/)
  })
})
