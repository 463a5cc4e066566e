import {createHash} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {fileURLToPath} from 'node:url'

import type {ErrorObject, ValidateFunction} from 'ajv'

import {escapeTerminal, excerpt, findAddresses} from '../privacy/index.js'
import {didYouMean} from './suggest.js'

/** The manifest schema ships with the package; both src/ and dist/ sit two levels below its root. */
export const MANIFEST_SCHEMA_URL = new URL('../../schemas/manifest.schema.json', import.meta.url)

interface SchemaDocument {
  $id: string
  $defs: {email: {pattern: string; maxLength: number}; slug: {pattern: string; maxLength: number}; contactKey: {pattern: string; maxLength: number}}
  properties: {definitionKey: {pattern: string; maxLength: number}}
}

export interface ManifestValidators {
  /** Validates one manifest document (a send). */
  manifest: ValidateFunction
  /** Validates one recipient object (from a JSON or NDJSON source), against the same definition inline recipients use. */
  recipient: ValidateFunction
  /** The schema's email pattern, so CSV rows are held to exactly the same rule without a validator call per row. */
  email: RegExp
  emailMaxLength: number
  slug: RegExp
  /** The schema's contactKey rule, so CSV rows are held to it too. */
  contactKey: RegExp
  contactKeyMaxLength: number
  definitionKey: RegExp
}

let validators: ManifestValidators | undefined

const require = createRequire(import.meta.url)

/**
 * The validators as code, written by `npm run build` (src/manifest/write-validators.ts) beside this module in dist/:
 * a run loads them instead of compiling the schema, which costs about 0.2 s of every plan, apply and validate.
 * Ajv's standalone code (https://ajv.js.org/standalone.html) reports the same errors as the compiled validators.
 */
const PRECOMPILED = new URL('./manifest-validators.cjs', import.meta.url)

interface CompiledValidators {
  manifest: ValidateFunction
  recipient: ValidateFunction
  /** SHA-256 (hex) of the schema file the code was made from. */
  schemaSha256?: string
}


/**
 * The shipped schema lets `name` and `revision` hold a `${{ vars.NAME }}` template, so editors accept them. The
 * loader validates documents after the variables are resolved, where only the resolved forms are valid.
 */
function resolvedSchema(schema: SchemaDocument): SchemaDocument {
  const properties = (schema as unknown as {properties: Record<string, {anyOf?: object[]}>}).properties
  for (const field of ['name', 'revision']) {
    const property = properties[field]
    if (property?.anyOf === undefined) continue
    const {anyOf, ...rest} = property
    properties[field] = {...rest, ...anyOf[0]}
  }
  return schema
}

function readSchema(): {schema: SchemaDocument; sha256: string} {
  const text = readFileSync(MANIFEST_SCHEMA_URL, 'utf8')
  return {schema: resolvedSchema(JSON.parse(text) as SchemaDocument), sha256: createHash('sha256').update(text).digest('hex')}
}

/** A new Ajv for JSON Schema 2020-12. ajv is loaded on first use: a run that compiles no schema never loads it. */
export function newAjv(options: ConstructorParameters<typeof import('ajv/dist/2020.js').Ajv2020>[0]): import('ajv/dist/2020.js').Ajv2020 {
  // ajv is CommonJS, so require() loads it synchronously.
  const {Ajv2020} = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js')
  return new Ajv2020(options)
}

/** The schema in an Ajv instance (only when the validators must be compiled or written as code). */
function manifestAjv(schema: SchemaDocument, source: boolean) {
  // allowUnionTypes: attribute values are `type: [string, number, boolean]`, which reads better than an anyOf.
  const ajv = newAjv({allErrors: true, strict: true, verbose: true, allowUnionTypes: true, code: {source}})
  ajv.addSchema(schema as unknown as object)
  return ajv
}

/** The validators as the source of a CommonJS module (Ajv standalone code), for the build. */
export function manifestValidatorsSource(): string {
  const {schema, sha256} = readSchema()
  const standalone = require('ajv/dist/standalone/index.js') as {default: (ajv: unknown, refs: Record<string, string>) => string}
  const code = standalone.default(manifestAjv(schema, true), {manifest: schema.$id, recipient: `${schema.$id}#/$defs/recipient`})
  return `${code}\nmodule.exports.schemaSha256 = ${JSON.stringify(sha256)};\n`
}

/** The built validators when they exist and were made from this schema; else the schema compiled now. */
function compiledValidators(schema: SchemaDocument, sha256: string): CompiledValidators {
  if (existsSync(PRECOMPILED)) {
    const built = require(fileURLToPath(PRECOMPILED)) as CompiledValidators
    if (built.schemaSha256 === sha256) return built
  }
  const ajv = manifestAjv(schema, false)
  const manifest = ajv.getSchema(schema.$id)
  const recipient = ajv.getSchema(`${schema.$id}#/$defs/recipient`)
  if (manifest === undefined || recipient === undefined) throw new Error('manifest schema has no $defs/recipient')
  return {manifest, recipient}
}

/** The validators, once, on first use. */
export function manifestValidators(): ManifestValidators {
  if (validators !== undefined) return validators
  const {schema, sha256} = readSchema()
  const {manifest, recipient} = compiledValidators(schema, sha256)
  validators = {
    manifest,
    recipient,
    email: new RegExp(schema.$defs.email.pattern, 'u'),
    emailMaxLength: schema.$defs.email.maxLength,
    slug: new RegExp(schema.$defs.slug.pattern, 'u'),
    contactKey: new RegExp(schema.$defs.contactKey.pattern, 'u'),
    contactKeyMaxLength: schema.$defs.contactKey.maxLength,
    definitionKey: new RegExp(schema.properties.definitionKey.pattern, 'u'),
  }
  return validators
}

/** One human-readable schema problem, still to be located in its source text. */
export interface SchemaIssue {
  /** Path to the value to point at (ajv's instancePath, split). */
  path: string[]
  /** Point at the property name (the last path segment) rather than at its value. */
  key?: boolean
  message: string
  /** For a missing required field: its name. */
  missing?: string
  /** For an unknown field: the allowed name it most likely misspells. */
  guess?: string
}

/** How values are named in messages: YAML manifests say mapping/list, JSON sources say object/array. */
export type Dialect = 'yaml' | 'json'

export function isEmailAddress(value: string): boolean {
  const v = manifestValidators()
  return value.length <= v.emailMaxLength && v.email.test(value)
}

/** Why a value is not an email address, in a few words. */
export function emailReason(value: string): string {
  if (value.length === 0) return 'it is empty'
  if (/\s/u.test(value)) return 'it contains a space'
  const at = value.split('@').length - 1
  if (at === 0) return 'it has no "@"'
  if (at > 1) return 'it has more than one "@"'
  const [local, domain] = value.split('@') as [string, string]
  if (local.length === 0) return 'nothing before the "@"'
  if (domain.length === 0) return 'no domain after the "@"'
  if (value.length > manifestValidators().emailMaxLength) return `it is longer than ${manifestValidators().emailMaxLength} characters`
  if (!domain.includes('.')) return 'the domain needs a dot, as in example.com'
  return 'the domain has an empty part'
}

/**
 * Shows a rejected address without leaking a deliverable one, as a short quoted excerpt: when what follows the
 * last `@` looks like a real domain, everything before it is masked to its first code point (as the renderers mask
 * addresses); long values are cut and control characters escaped. Linear in the value's length.
 */
export function showRejectedAddress(value: string): string {
  const at = value.lastIndexOf('@')
  const span = at > 0 ? findAddresses(`x${value.slice(at, at + 300)}`)[0] : undefined
  if (span !== undefined && span.start === 0) {
    const first = String.fromCodePoint(value.codePointAt(0)!)
    return excerpt(`${first}***${value.slice(at, at + 300)}`)
  }
  return excerpt(value)
}

export function notAnEmailMessage(value: string): string {
  return `${showRejectedAddress(value)} is not an email address (${emailReason(value)})`
}

function splitPointer(pointer: string): string[] {
  if (pointer === '') return []
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

function typeName(type: string, dialect: Dialect): string {
  switch (type) {
    case 'string':
      return 'a string'
    case 'integer':
      return 'a whole number'
    case 'number':
      return 'a number'
    case 'boolean':
      return 'true or false'
    case 'object':
      return dialect === 'yaml' ? 'a mapping (key: value)' : 'an object'
    case 'array':
      return dialect === 'yaml' ? 'a list' : 'an array'
    case 'null':
      return 'null'
    default:
      return type
  }
}

function describeValue(value: unknown, dialect: Dialect): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return dialect === 'yaml' ? 'a list' : 'an array'
  if (typeof value === 'object') return dialect === 'yaml' ? 'a mapping' : 'an object'
  if (typeof value === 'number') return Number.isInteger(value) ? 'a number' : `the number ${value}`
  if (typeof value === 'boolean') return `${value}`
  if (typeof value === 'string') return 'a string'
  return typeof value
}

function joinOr(words: string[]): string {
  if (words.length <= 1) return words.join('')
  return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`
}

function joinAnd(words: string[]): string {
  if (words.length <= 1) return words.join('')
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`
}

/** Names and values from the manifest in messages: short, safe excerpts (masked, escaped, cut). */
const quote = (s: string): string => excerpt(s)

function typeMessage(e: ErrorObject, dialect: Dialect): string {
  const expected = ([] as string[]).concat(e.params.type as string | string[])
  const names = expected.map((t) => typeName(t, dialect))
  const list = names.length === 3 && expected.join() === 'string,number,boolean' ? 'a string, number or boolean' : joinOr(names)
  const data: unknown = e.data
  let message = `must be ${list}, not ${describeValue(data, dialect)}`
  if (expected.includes('integer') && typeof data === 'number') message = `must be a whole number, not ${data}`
  // ajv's strict mode rejects Infinity and NaN (YAML's .inf, or a float literal too large for a double).
  if (typeof data === 'number' && !Number.isFinite(data)) message = `must be a finite number, not ${data}`
  if (dialect === 'yaml' && expected.length === 1 && expected[0] === 'string' && (typeof data === 'number' || typeof data === 'boolean')) {
    message += ` (quote it: "${String(data)}")`
  }
  return message
}

/** The first control character in a value, escaped, with its 1-based position: `\x1b at character 3`. */
function firstControl(value: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  const m = /[\u0000-\u001f\u007f-\u009f]/u.exec(value)
  return m === null ? undefined : `${escapeTerminal(m[0])} at character ${m.index + 1}`
}

/**
 * What is wrong with a contactKey, or undefined: empty, longer than Marketing Cloud's 254 characters, whitespace
 * at either end (Marketing Cloud would keep it, so "ann" and "ann " are two subscribers), or control characters.
 */
export function contactKeyProblem(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty'
  const v = manifestValidators()
  if (value.length > v.contactKeyMaxLength) return `must be at most ${v.contactKeyMaxLength} characters, Marketing Cloud's limit (it has ${value.length})`
  const control = firstControl(value)
  if (control !== undefined) return `must not contain control characters (found ${control})`
  if (value.trim() !== value) return 'must not start or end with whitespace (remove the spaces, or the subscriber differs from the one without them)'
  return undefined
}

function patternMessage(e: ErrorObject): string {
  const data = typeof e.data === 'string' ? e.data : ''
  const v = manifestValidators()
  if (e.params.pattern === v.contactKey.source) return contactKeyProblem(data) ?? 'is not a valid contactKey'
  if (e.params.pattern === v.definitionKey.source) return `must not contain control characters (found ${firstControl(data) ?? 'one'})`
  if (e.params.pattern === v.email.source) return notAnEmailMessage(data)
  if (e.params.pattern === v.slug.source) {
    return `${quote(data)} is not a valid name: use lowercase letters, digits and hyphens, starting and ending with a letter or digit`
  }
  if (e.instancePath.endsWith('/canary/timeout')) return `is not a duration such as 30s, 5m or 1h (got ${excerpt(String(data), 40)})`
  return `must match ${String(e.params.pattern)}`
}

function maxLengthMessage(e: ErrorObject): string {
  const length = typeof e.data === 'string' ? e.data.length : undefined
  const limit = Number(e.params.limit)
  const path = splitPointer(e.instancePath)
  if (path[path.length - 1] === 'to' && limit === manifestValidators().emailMaxLength && typeof e.data === 'string') {
    return notAnEmailMessage(e.data)
  }
  if (path[path.length - 1] === 'contactKey' && typeof e.data === 'string') return contactKeyProblem(e.data) ?? `must be at most ${limit} characters`
  return `must be at most ${limit} characters${length === undefined ? '' : ` (it has ${length})`}`
}

function single(e: ErrorObject, dialect: Dialect): SchemaIssue | undefined {
  const path = splitPointer(e.instancePath)
  const last = path[path.length - 1]
  switch (e.keyword) {
    case 'required':
      return {path, missing: String(e.params.missingProperty), message: `missing required field ${quote(String(e.params.missingProperty))}`}
    case 'additionalProperties': {
      const name = String(e.params.additionalProperty)
      const parent = e.parentSchema as {properties?: Record<string, unknown>} | undefined
      const allowed = Object.keys(parent?.properties ?? {})
      const guess = didYouMean(name, allowed)
      const tail = guess === undefined ? `; allowed fields: ${allowed.join(', ')}` : ` (did you mean ${quote(guess)}?)`
      return {path: [...path, name], key: true, guess, message: `unknown field ${quote(name)}${tail}`}
    }
    case 'type':
      return {path, message: typeMessage(e, dialect)}
    case 'const': {
      const expected = quote(String(e.params.allowedValue))
      const got = typeof e.data === 'string' ? `, not ${quote(e.data)}` : ''
      return {path, message: `must be ${expected}${got}`}
    }
    case 'enum':
      return {path, message: `must be one of ${joinOr((e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)))}`}
    case 'pattern':
      return {path, message: patternMessage(e)}
    case 'minLength':
      return {path, message: Number(e.params.limit) === 1 ? 'must not be empty' : `must be at least ${String(e.params.limit)} characters`}
    case 'maxLength':
      return {path, message: maxLengthMessage(e)}
    case 'minimum':
      return {path, message: `must be at least ${String(e.params.limit)}`}
    case 'maximum':
      return {path, message: `must be at most ${String(e.params.limit)}`}
    case 'minItems':
      if (last === 'recipients') return {path, message: 'must list at least one source (inline, csv, json or ndjson)'}
      return {path, message: `must have at least ${String(e.params.limit)} item${Number(e.params.limit) === 1 ? '' : 's'}`}
    case 'propertyNames':
      return {path, message: 'field names must not be empty'}
    case 'dependentRequired': {
      const property = String(e.params.property)
      const missing = String(e.params.missingProperty)
      if (property === 'columns' && missing === 'csv') return {path: [...path, property], key: true, message: '"columns" only applies to a csv source'}
      return {path: [...path, property], key: true, message: `${quote(property)} needs ${quote(missing)}`}
    }
    default:
      return {path, message: e.message ?? `fails ${e.keyword}`}
  }
}

interface AlternativeSchema {
  oneOf?: {required?: string[]}[]
  anyOf?: {required?: string[]}[]
}

/**
 * ajv reports every failing branch of a oneOf/anyOf and then the oneOf itself. Keep one message per mistake:
 * branches that only say "required property x" become a single "needs one of" message (dropped when an unknown
 * field or a misplaced one at the same place already explains it); otherwise keep the closest branch's errors.
 */
function alternatives(errors: ErrorObject[], dialect: Dialect): {issues: SchemaIssue[]; consumed: Set<ErrorObject>} {
  const issues: SchemaIssue[] = []
  const consumed = new Set<ErrorObject>()
  for (const alt of errors) {
    if (alt.keyword !== 'oneOf' && alt.keyword !== 'anyOf') continue
    consumed.add(alt)
    const prefix = `${alt.schemaPath}/`
    const branchErrors = errors.filter((e) => e !== alt && e.schemaPath.startsWith(prefix) && e.instancePath.startsWith(alt.instancePath))
    for (const e of branchErrors) consumed.add(e)
    const path = splitPointer(alt.instancePath)
    const branches = ((alt.parentSchema as AlternativeSchema | undefined)?.[alt.keyword as 'oneOf' | 'anyOf'] ?? []).map((b) => b.required ?? [])
    const choices = branches.flat()
    const noun = path[path.length - 2] === 'recipients' ? 'a recipient source' : path[path.length - 1] === 'canary' ? 'canary' : 'this'
    const passing = alt.params.passingSchemas as number[] | null | undefined
    // `required` holds vacuously for a list or a scalar, so every branch "passes": its type error says it all.
    const mapping = typeof alt.data === 'object' && alt.data !== null && !Array.isArray(alt.data)
    if (Array.isArray(passing) && !mapping) continue
    if (Array.isArray(passing)) {
      const present = passing.flatMap((i) => branches[i] ?? []).map(quote)
      issues.push({path, message: `${noun} must have exactly one of ${joinOr(choices.map(quote))}; it has ${joinAnd(present)}`})
      continue
    }
    const onlyRequired = branchErrors.every((e) => e.keyword === 'required' && e.instancePath === alt.instancePath)
    if (onlyRequired) {
      const explained = errors.some(
        (e) => e.instancePath === alt.instancePath && (e.keyword === 'additionalProperties' || e.keyword === 'dependentRequired') && !e.schemaPath.startsWith(prefix),
      )
      if (!explained) issues.push({path, message: `${noun} needs one of ${joinOr(choices.map(quote))}`})
      continue
    }
    const byBranch = new Map<string, ErrorObject[]>()
    for (const e of branchErrors) {
      const branch = e.schemaPath.slice(prefix.length).split('/')[0] ?? ''
      byBranch.set(branch, [...(byBranch.get(branch) ?? []), e])
    }
    const closest = [...byBranch.values()].sort((a, b) => a.length - b.length)[0] ?? []
    for (const e of closest) {
      const issue = single(e, dialect)
      if (issue) issues.push(issue)
    }
  }
  return {issues, consumed}
}

/** Turns ajv's errors into one human message per mistake, in ajv's order. */
export function describeSchemaErrors(errors: readonly ErrorObject[] | null | undefined, dialect: Dialect): SchemaIssue[] {
  if (!errors || errors.length === 0) return []
  const list = errors.filter((e) => (e as ErrorObject & {propertyName?: string}).propertyName === undefined)
  const {issues: altIssues, consumed} = alternatives(list, dialect)
  const out: SchemaIssue[] = []
  for (const e of list) {
    if (consumed.has(e)) continue
    const issue = single(e, dialect)
    if (issue) out.push(issue)
  }
  out.push(...altIssues)
  // A misspelt required field shows up twice (missing and unknown); the did-you-mean message covers both.
  const misspelt = new Set(out.flatMap((issue) => (issue.key === true && issue.guess !== undefined ? [`${issue.path.slice(0, -1).join('/')}/${issue.guess}`] : [])))
  const seen = new Set<string>()
  return out.filter((issue) => {
    if (issue.missing !== undefined && misspelt.has(`${issue.path.join('/')}/${issue.missing}`)) return false
    const id = `${issue.path.join('\u0000')}\u0001${issue.key === true}\u0001${issue.message}`
    if (seen.has(id)) return false
    seen.add(id)
    return true
  })
}

/** `recipients[0].inline[3].to`: numeric segments as indices, odd names quoted. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = ''
  for (const segment of path) {
    if (typeof segment === 'number' || /^\d+$/.test(segment)) out += `[${segment}]`
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`
    else out += `[${excerpt(segment)}]`
  }
  return out
}
