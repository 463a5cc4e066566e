/**
 * bench/state-validate: what checking message records costs, by hand (serialize.ts recordProblem, as the store
 * guard does for every record written and the loader for every record read) versus ajv compiled from
 * schemas/state.schema.json's messageRecord definition. Decides whether the guard may use the schema instead.
 *
 *   npx tsx bench/state-validate.ts [--rows N]
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {performance} from 'node:perf_hooks'

import {Ajv2020} from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'

import {recordProblem} from '../src/state/serialize.js'
import type {MessageRecord} from '../src/state/types.js'
import {ROOT} from './lib.js'

const rowsArg = process.argv.indexOf('--rows')
const rows = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 1_000_000

const records: Omit<MessageRecord, 'messageKey'>[] = []
for (let i = 0; i < rows; i++) {
  records.push({
    send: 'release',
    revision: 1,
    status: i % 10 === 0 ? 'failed' : 'accepted',
    at: '2026-11-26T10:00:00.000Z',
    requestId: 'f0c2e1c3-1b0e-4c55-9f8e-1d2a3b4c5d6e',
    ...(i % 10 === 0 ? {errorCode: 180008, errorMessage: 'Subscriber is unsubscribed'} : {}),
    toHash: 'Hw7TDTppersxe6QpkuzOaP',
    attributesHash: 'a8Kx0pQm3uVbN1cR5tZy2w',
    contactHash: 'Zq4mN8vB2xC6kL0pR7tY1u',
  })
}

const schema = JSON.parse(readFileSync(path.join(ROOT, 'schemas', 'state.schema.json'), 'utf8')) as {$defs: Record<string, unknown>}
// ajv-formats is CommonJS: under NodeNext its function is the module's `default` at run time.
const addFormats = ((addFormatsModule as unknown as {default?: typeof addFormatsModule}).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => void
const ajv = new Ajv2020({allErrors: false, strict: true})
addFormats(ajv)
ajv.addSchema(schema, 'state')
const validate = ajv.getSchema('state#/$defs/messageRecord')
if (!validate) throw new Error('messageRecord not found in the schema')

function time(label: string, check: (r: unknown) => boolean): number {
  // One warm-up pass, then the measured one.
  for (let i = 0; i < Math.min(rows, 50_000); i++) check(records[i])
  const t0 = performance.now()
  let bad = 0
  for (const r of records) if (!check(r)) bad++
  const ms = performance.now() - t0
  if (bad !== 0) throw new Error(`${label}: ${bad} records refused`)
  console.log(`${label.padEnd(28)} ${ms.toFixed(0).padStart(6)} ms for ${rows.toLocaleString('en-US')} records (${((ms * 1e6) / rows).toFixed(0)} ns each)`)
  return ms
}

const byHand = time('recordProblem (by hand)', (r) => recordProblem(r) === undefined)
const withAjv = time('ajv (state.schema.json)', (r) => validate(r) === true)
console.log(`ajv / by hand: ${(withAjv / byHand).toFixed(2)}x`)
