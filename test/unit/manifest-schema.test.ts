import fs from 'node:fs'

import {describe, expect, it} from 'vitest'

import {
  describeSchemaErrors,
  emailReason,
  formatPath,
  isEmailAddress,
  MANIFEST_SCHEMA_URL,
  manifestValidators,
  showRejectedAddress,
} from '../../src/manifest/schema.js'
import {didYouMean, editDistance} from '../../src/manifest/suggest.js'

function issues(value: unknown): string[] {
  const validate = manifestValidators().manifest
  validate(value)
  return describeSchemaErrors(validate.errors, 'yaml').map((i) => `${formatPath(i.path) || '(root)'}${i.key ? ' (key)' : ''}: ${i.message}`)
}

const base = {apiVersion: 'mcsend/v1', kind: 'Send', name: 'n', definitionKey: 'd'}

describe('manifest schema', () => {
  it('is a draft 2020-12 schema shipped with the package and compiles in strict mode', () => {
    const schema = JSON.parse(fs.readFileSync(MANIFEST_SCHEMA_URL, 'utf8')) as {$schema: string}
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema')
    expect(manifestValidators().manifest(base)).toBe(false)
    expect(manifestValidators().manifest({...base, recipients: [{inline: []}]})).toBe(true)
  })

  it('gives one message for a source with an unknown key instead of ajv\'s branch-by-branch noise', () => {
    const validate = manifestValidators().manifest
    validate({...base, recipients: [{csvv: 'a.csv'}]})
    expect(validate.errors!.length).toBeGreaterThan(3)
    expect(issues({...base, recipients: [{csvv: 'a.csv'}]})).toEqual(['recipients[0].csvv (key): unknown field "csvv" (did you mean "csv"?)'])
  })

  it('explains a source with two kinds, with none, and columns without csv, once each', () => {
    expect(issues({...base, recipients: [{csv: 'a', json: 'b'}, {}, {json: 'c', columns: {to: 'e'}}, {ndjson: 'd', inline: []}]})).toEqual([
      'recipients[2].columns (key): "columns" only applies to a csv source',
      'recipients[0]: a recipient source must have exactly one of "inline", "csv", "json" or "ndjson"; it has "csv" and "json"',
      'recipients[1]: a recipient source needs one of "inline", "csv", "json" or "ndjson"',
      'recipients[3]: a recipient source must have exactly one of "inline", "csv", "json" or "ndjson"; it has "inline" and "ndjson"',
    ])
  })

  it('merges a misspelt required field into the did-you-mean message', () => {
    expect(issues({apiVersion: 'mcsend/v1', kind: 'Send', name: 'n', definitonKey: 'd', recipients: [{inline: [{contactKey: 'a', tp: 'a@example.com'}]}]})).toEqual([
      'definitonKey (key): unknown field "definitonKey" (did you mean "definitionKey"?)',
      'recipients[0].inline[0].tp (key): unknown field "tp" (did you mean "to"?)',
    ])
  })

  it('rejects numbers JSON cannot carry', () => {
    expect(issues({...base, attributes: {Big: Number.POSITIVE_INFINITY}, recipients: [{inline: []}]})).toEqual(['attributes.Big: must be a finite number, not Infinity'])
  })

  it('names the expected type and what it got', () => {
    expect(issues({...base, revision: '2', batchSize: 10.5, attributes: {A: [1]}, recipients: {}})).toEqual([
      'revision: must be a whole number, not a string',
      'attributes.A: must be a string, number or boolean, not a list',
      'batchSize: must be a whole number, not 10.5',
      'recipients: must be a list, not a mapping',
    ])
  })
})

describe('email addresses', () => {
  it.each([
    ['ann@example.com', true],
    ['ann.lee+tag@mail.example.co.uk', true],
    ['o\'brien@example.ie', true],
    ['ann@example', false],
    ['ann@', false],
    ['@example.com', false],
    ['ann@@example.com', false],
    ['ann lee@example.com', false],
    ['ann@example..com', false],
    ['ann@.example.com', false],
    ['ann@example.com.', false],
    ['', false],
    [`${'a'.repeat(250)}@example.com`, false],
  ])('%j valid: %s', (value, valid) => {
    expect(isEmailAddress(value)).toBe(valid)
  })

  it('says what is wrong', () => {
    expect(emailReason('ann')).toBe('it has no "@"')
    expect(emailReason('ann@@x.com')).toBe('it has more than one "@"')
    expect(emailReason('@x.com')).toBe('nothing before the "@"')
    expect(emailReason('ann@')).toBe('no domain after the "@"')
    expect(emailReason('ann@x')).toBe('the domain needs a dot, as in example.com')
    expect(emailReason('ann@x..com')).toBe('the domain has an empty part')
    expect(emailReason('a b@x.com')).toBe('it contains a space')
    expect(emailReason(`${'a'.repeat(250)}@example.com`)).toBe('it is longer than 254 characters')
  })

  it('masks rejected values that still carry a real-looking address', () => {
    expect(showRejectedAddress('ann@')).toBe('"ann@"')
    expect(showRejectedAddress('ann@example')).toBe('"ann@example"')
    expect(showRejectedAddress('ann lee@example.com')).toBe('"a***@example.com"')
    // A short excerpt: 24 code points, an ellipsis and the quotes.
    expect(showRejectedAddress('x'.repeat(100))).toBe(`"${'x'.repeat(24)}…"`)
  })

  it('holds CSV rows to the same pattern as the schema', () => {
    const schema = JSON.parse(fs.readFileSync(MANIFEST_SCHEMA_URL, 'utf8')) as {$defs: {email: {pattern: string}}}
    expect(manifestValidators().email.source).toBe(schema.$defs.email.pattern)
  })
})

describe('did you mean', () => {
  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('cvs', 'csv')).toBe(1)
    expect(editDistance('kitten', 'sitting')).toBe(3)
    expect(editDistance('', 'abc')).toBe(3)
  })

  it('suggests close names only', () => {
    const allowed = ['apiVersion', 'kind', 'name', 'definitionKey', 'revision', 'attributes', 'batchSize', 'recipients']
    expect(didYouMean('definitonKey', allowed)).toBe('definitionKey')
    expect(didYouMean('batchsize', allowed)).toBe('batchSize')
    expect(didYouMean('recipient', allowed)).toBe('recipients')
    expect(didYouMean('colour', allowed)).toBeUndefined()
    expect(didYouMean('x', [])).toBeUndefined()
  })
})

describe('formatPath', () => {
  it('writes indices in brackets and quotes odd names', () => {
    expect(formatPath(['recipients', '0', 'inline', 3, 'to'])).toBe('recipients[0].inline[3].to')
    expect(formatPath(['attributes', 'First Name'])).toBe('attributes["First Name"]')
    expect(formatPath([0, 'to'])).toBe('[0].to')
    expect(formatPath([])).toBe('')
  })
})
