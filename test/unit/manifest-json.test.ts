import {createHash} from 'node:crypto'

import {describe, expect, it} from 'vitest'

import {readNdjsonSource} from '../../src/manifest/json-source.js'
import {loadManifests} from '../../src/manifest/load.js'
import {JsonSyntaxError, locateJson, parseJson, parseJsonArray} from '../../src/manifest/strict-json.js'
import {inChunks, loadFromMemory, memfs, sourceTarget} from '../helpers/manifests.js'

function syntaxError(text: string): {message: string; line: number; column: number} {
  try {
    parseJson(text)
  } catch (error) {
    if (error instanceof JsonSyntaxError) return {message: error.message, line: error.line, column: error.column}
    throw error
  }
  throw new Error(`parsed without error: ${text}`)
}

describe('strict JSON parser', () => {
  it('parses the JSON grammar like JSON.parse does for valid input', () => {
    const samples = [
      '{"a": [1, -2.5, 3e2, 0, -0.5E-3], "b": {"c": null, "d": true, "e": false}, "f": ""}',
      '"esc \\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\ud83d\\ude00"',
      '  [ ]  ',
      '{}',
      '[[[]], {"x": [{}]}]',
      '9007199254740991',
      '"Jörg ✓"',
    ]
    for (const sample of samples) expect(parseJson(sample)).toEqual(JSON.parse(sample))
  })

  it('refuses numbers a double would change: integers beyond 2^53 and overflows, with "quote it"', () => {
    expect(() => parseJson('{"OrderId": 1234567890123456789}')).toThrow(
      'the integer "1234567890123456789" is beyond JavaScript\'s safe range, it would be sent as 1234567890123456800 (quote it: "1234567890123456789")',
    )
    expect(() => parseJson('[1e400]')).toThrow('the number "1e400" is too large to represent (quote it: "1e400")')
  })

  it('keeps "__proto__" as an ordinary key instead of changing the prototype', () => {
    const value = parseJson('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
    expect(Object.keys(value)).toEqual(['__proto__', 'a'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it.each([
    ['{"to": "a", "to": "b"}', 'duplicate key "to" (first at line 1, column 2)', 1, 13],
    ['{\n  "a": 1,\n}', 'trailing comma before "}"', 2, 9],
    ['[1, 2,\n]', 'trailing comma before "]"', 1, 6],
    ['{"a": 1 "b": 2}', 'missing "," between properties', 1, 9],
    ['[1 2]', 'missing "," between array elements', 1, 4],
    ['{"a": 1; "b": 2}', 'expected "," or "}", found ";"', 1, 8],
    ['{"a" 1}', 'expected ":" after the property name "a", found "1"', 1, 6],
    ["{'a': 1}", 'expected a property name in double quotes, found "\'"', 1, 2],
    ["['a']", 'expected a value, found "\'" (JSON strings use double quotes)', 1, 2],
    ['{"a": "b', 'unterminated string (missing closing ")', 1, 7],
    ['{"a": "b\n"}', 'unterminated string (line break before the closing ")', 1, 7],
    ['"tab\there"', 'control character U+0009 in a string; escape it', 1, 5],
    ['"bad \\x"', 'invalid escape "\\x" in a string', 1, 6],
    ['"\\u12g4"', 'invalid \\u escape in a string (needs four hex digits)', 1, 2],
    ['[01]', 'numbers cannot have leading zeros', 1, 2],
    ['[1.]', 'invalid number: expected a digit after "."', 1, 4],
    ['[-]', 'invalid number: expected a digit, found "]"', 1, 3],
    ['[1e]', 'invalid number: expected a digit in the exponent', 1, 4],
    ['[NaN]', 'expected a value, found "N"', 1, 2],
    ['// note\n[]', 'comments are not allowed in JSON', 1, 1],
    ['[1] [2]', 'unexpected "[" after the end of the JSON value', 1, 5],
    ['', 'unexpected end of the input: expected a value', 1, 1],
    ['{"a": [1, 2}', 'expected "," or "]", found "}"', 1, 12],
    ['[1, 2', 'unexpected end of the input: expected "," or "]"', 1, 6],
  ])('rejects %j with a located message', (text, message, line, column) => {
    expect(syntaxError(text)).toEqual({message, line, column})
  })

  it('turns absurd nesting into an error, not a stack overflow', () => {
    expect(syntaxError('['.repeat(100_000)).message).toBe('nesting deeper than 256 levels')
  })

  it('reports positions of elements and locates values and keys inside them', () => {
    const text = '[\n  {"a": 1},\n  {"b": {"c": [true, "x"]}}\n]'
    const elements: {value: unknown; line: number; column: number; offset: number}[] = []
    expect(parseJsonArray(text, (value, at) => elements.push({value, ...at}))).toBe(true)
    expect(elements.map((e) => [e.line, e.column])).toEqual([
      [2, 3],
      [3, 3],
    ])
    const second = elements[1]!
    expect(locateJson(text, second, ['b', 'c', 1])).toMatchObject({line: 3, column: 22})
    expect(locateJson(text, second, ['b', 'c'], true)).toMatchObject({line: 3, column: 10})
    // A path that leaves the value falls back to the deepest part that exists.
    expect(locateJson(text, second, ['b', 'missing'])).toMatchObject({line: 3, column: 9})
    expect(parseJsonArray('{"a": 1}', () => undefined)).toBe(false)
  })
})

describe('NDJSON source', () => {
  it('streams lines across chunk boundaries, multi-byte characters included, and hashes every byte', async () => {
    const lines = Array.from({length: 50}, (_, i) => JSON.stringify({contactKey: `k${i}`, to: `p${i}@example.com`, attributes: {Name: `Zoë ✓ ${i}`}}))
    const bytes = Buffer.from(`${lines.join('\r\n')}\r\n\n`, 'utf8')
    for (const size of [1, 3, 7, 64, 100_000]) {
      const {collector, problems, sink} = sourceTarget()
      const sha = await readNdjsonSource(inChunks(bytes, size), 'x.ndjson', collector, problems)
      expect(sink.problems).toEqual([])
      expect(sha).toBe(createHash('sha256').update(bytes).digest('hex'))
      expect(collector.recipients).toHaveLength(50)
      expect(collector.recipients[49]).toEqual({contactKey: 'k49', to: 'p49@example.com', attributes: {Name: 'Zoë ✓ 49'}, file: 'x.ndjson', line: 50, column: 1})
    }
  })

  it('reads a last line without a newline and reports each bad line without stopping', async () => {
    const text = '{"contactKey": "a", "to": "a@example.com"}\n{"contactKey": "a", "to": "b@example.com"}\n\n{"contactKey": "c"\n{"contactKey": "d", "to": "d@example.com"}'
    const {collector, problems, sink} = sourceTarget()
    await readNdjsonSource(inChunks(Buffer.from(text), 5), 'y.ndjson', collector, problems)
    expect(sink.problems.map((p) => [p.line, p.column, p.message])).toEqual([
      [2, 1, 'duplicate contactKey "a": also at y.ndjson:1:1'],
      [4, 19, 'unexpected end of the input: expected "," or "}"'],
    ])
    expect(collector.recipients.map((r) => r.contactKey)).toEqual(['a', 'd'])
  })
})

describe('JSON sources through the loader', () => {
  const head = 'apiVersion: mcsend/v1\nkind: Send\nname: j\ndefinitionKey: d\nrecipients:\n'

  it('reports duplicate contactKeys across JSON and NDJSON sources with both places', async () => {
    const result = await loadFromMemory(
      {
        '/w/m.yaml': `${head}  - json: a.json\n  - ndjson: b.ndjson\n`,
        '/w/a.json': '[\n  {"contactKey": "ann@example.com", "to": "ann@example.com"}\n]',
        '/w/b.ndjson': '{"contactKey": "bo", "to": "bo@example.com"}\n{"contactKey": "ann@example.com", "to": "ann@example.org"}\n',
      },
      ['m.yaml'],
    )
    expect(result.problems).toEqual([
      {
        file: 'b.ndjson',
        line: 2,
        column: 1,
        message: 'duplicate contactKey "a***@example.com": also at a.json:2:3',
        hint: 'each recipient of a send needs its own contactKey',
      },
    ])
    // contactKeys may be addresses: they are masked in messages.
    expect(JSON.stringify(result.problems)).not.toContain('ann@')
    expect(result.sends).toEqual([])
  })

  it('reads an empty array and a BOM, and gives each JSON source its digest', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[{"contactKey": "a", "to": "a@example.com"}]')])
    const fs = memfs({'/w/m.yaml': `${head}  - json: a.json\n  - json: empty.json\n`, '/w/empty.json': ' [ ] '})
    fs.writeFileSync('/w/a.json', bytes)
    const result = await loadManifests([], {fs, cwd: '/w'})
    expect(result.problems).toEqual([])
    expect(result.sends[0]!.recipients).toEqual([{contactKey: 'a', to: 'a@example.com', file: 'a.json', line: 1, column: 2}])
    expect(result.sends[0]!.sources).toEqual([
      {file: 'a.json', sha256: createHash('sha256').update(bytes).digest('hex')},
      {file: 'empty.json', sha256: createHash('sha256').update(' [ ] ').digest('hex')},
    ])
  })
})
