/**
 * Variables inside one manifest document: reads its `vars:` declarations, resolves them from the given layers and
 * replaces every `${{ vars.NAME }}` where templates are allowed (name, revision, definitionKey, shared attribute
 * values, inline recipients' attribute values, source paths). Runs on the document's plain value before the schema
 * check, so the schema judges the resolved values. Pure.
 */

import type {Problem} from '../errors.js'
import {formatPath} from './schema.js'
import type {AttributeValue, Attributes} from './types.js'
import {
  hasTemplate,
  interpolate,
  patternError,
  resolveVariables,
  templateVariables,
  VARIABLE_NAME,
  type Place,
  type ResolvedVariable,
  type VariableDeclaration,
  type VariableInputs,
  type VariableType,
} from './vars.js'
import {excerpt} from '../privacy/index.js'

type Path = readonly (string | number)[]
type Locate = (path: Path, key?: boolean) => {line: number; column: number}

export interface DocumentVariables {
  /** Resolved values of the declared variables (those that resolved). */
  values: Map<string, ResolvedVariable>
  /** Every declared name, resolved or not. */
  declared: string[]
  /** JSON pointers of the fields whose value came from a template, with the text before resolution. */
  templated: Map<string, string>
  /** JSON pointers of the fields whose template could not be resolved (already reported; left as they were). */
  failed: Set<string>
}

const ALLOWED_HERE = 'variables may be used in name, revision, definitionKey, attribute values and source paths'
const SOURCE_KINDS = ['csv', 'json', 'ndjson'] as const

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function pointer(segments: Path): string {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')
}

function readDeclarations(vars: unknown, file: string, at: Locate, add: (p: Problem) => void): {declarations: VariableDeclaration[]; declared: string[]} {
  const declarations: VariableDeclaration[] = []
  const declared: string[] = []
  if (!isRecord(vars)) return {declarations, declared} // the schema reports a `vars` that is not a mapping
  const place = (path: Path, key = false): Place => ({file, ...at(path, key)})
  for (const [name, spec] of Object.entries(vars)) {
    const keyAt = place(['vars', name], true)
    if (!VARIABLE_NAME.test(name)) {
      add({...keyAt, path: formatPath(['vars', name]), message: `${excerpt(name, 60)} is not a variable name: use letters, digits and _, not starting with a digit (at most 64)`})
      continue
    }
    declared.push(name)
    // A declaration the schema rejects (unknown field, bad type) is reported by the schema; it resolves to nothing.
    if (spec !== null && !isRecord(spec)) continue
    const s = spec ?? {}
    const type = (s.type ?? 'string') as VariableType
    if (!['string', 'number', 'boolean'].includes(type as string)) continue
    if (s.pattern !== undefined && typeof s.pattern !== 'string') continue
    if (s.description !== undefined && typeof s.description !== 'string') continue
    const decl: VariableDeclaration = {name, type, at: keyAt}
    if (typeof s.pattern === 'string') {
      decl.pattern = s.pattern
      decl.patternAt = place(['vars', name, 'pattern'])
      const bad = patternError(s.pattern)
      if (bad !== undefined) {
        add({...decl.patternAt, path: formatPath(['vars', name, 'pattern']), message: `variable ${name}: the pattern is not a valid regular expression (${bad})`})
        continue
      }
    }
    if (s.default !== undefined) {
      const d = s.default
      if (typeof d !== 'string' && typeof d !== 'number' && typeof d !== 'boolean') continue
      decl.defaultAt = place(['vars', name, 'default'])
      if (typeof d !== type) {
        const quoteIt = type === 'string' ? ` (quote it: "${String(d)}")` : ''
        add({...decl.defaultAt, path: formatPath(['vars', name, 'default']), message: `variable ${name}: the default must be ${type === 'boolean' ? 'true or false' : `a ${type}`}, like its type${quoteIt}`})
        continue
      }
      decl.default = d
    }
    declarations.push(decl)
  }
  return {declarations, declared}
}

/** Every string below `value` that holds `${{`, with its path (for the places templates are not allowed). */
function* templatedStrings(value: unknown, path: (string | number)[]): Generator<Path> {
  if (typeof value === 'string') {
    if (hasTemplate(value)) yield path
  } else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) yield* templatedStrings(v, [...path, i])
  } else if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) yield* templatedStrings(v, [...path, k])
  }
}

/**
 * Resolves the document's variables and rewrites its templates in place. Problems name the variable and point at
 * the field that uses it (or at the declaration, or at the value that set it).
 */
export function resolveDocumentVariables(manifest: Record<string, unknown>, inputs: VariableInputs, file: string, at: Locate, add: (p: Problem) => void): DocumentVariables {
  const {declarations, declared} = readDeclarations(manifest.vars, file, at, add)
  const resolved = resolveVariables(declarations, inputs)
  for (const p of resolved.problems) {
    add({file: p.place.file, line: p.place.line, column: p.place.column, message: p.message, ...(p.hint === undefined ? {} : {hint: p.hint})})
  }
  const values = resolved.values
  const templated = new Map<string, string>()
  const failed = new Set<string>()
  const allowed = new Set<string>()

  const substitute = (holder: Record<string, unknown>, key: string, path: Path): void => {
    const text = holder[key]
    if (typeof text !== 'string' || !hasTemplate(text)) return
    allowed.add(pointer(path))
    const result = interpolate(text, values, declared)
    if ('value' in result) {
      holder[key] = result.value
      templated.set(pointer(path), text)
      return
    }
    for (const message of result.errors) add({file, ...at(path), path: formatPath(path), message})
    failed.add(pointer(path))
  }
  const substituteAttributes = (attributes: unknown, path: Path): void => {
    if (!isRecord(attributes)) return
    for (const key of Object.keys(attributes)) substitute(attributes, key, [...path, key])
  }

  for (const field of ['name', 'revision', 'definitionKey']) substitute(manifest, field, [field])
  substituteAttributes(manifest.attributes, ['attributes'])
  if (Array.isArray(manifest.recipients)) {
    for (const [i, source] of manifest.recipients.entries()) {
      if (!isRecord(source)) continue
      for (const kind of SOURCE_KINDS) substitute(source, kind, ['recipients', i, kind])
      if (!Array.isArray(source.inline)) continue
      // Inline recipients' attributes are resolved with every other recipient's (resolveAttributeTemplates).
      for (const [j, recipient] of source.inline.entries()) {
        const attributes = isRecord(recipient) ? recipient.attributes : undefined
        if (isRecord(attributes)) for (const key of Object.keys(attributes)) allowed.add(pointer(['recipients', i, 'inline', j, 'attributes', key]))
      }
    }
  }
  for (const path of templatedStrings({...manifest, vars: undefined}, [])) {
    if (allowed.has(pointer(path))) continue
    add({file, ...at(path), path: formatPath(path), message: `\${{ … }} is not allowed in ${formatPath(path)}`, hint: ALLOWED_HERE})
  }
  return {values, declared, templated, failed}
}

/** `; it comes from ${{ vars.a }} = "x"`: appended to a schema message about a field that was a template. */
export function templateOrigin(template: string, values: ReadonlyMap<string, ResolvedVariable>): string {
  const names = [...new Set(templateVariables(template))]
  const shown = names.map((n) => {
    const v = values.get(n)
    return v === undefined ? `\${{ vars.${n} }}` : `\${{ vars.${n} }} = ${typeof v.value === 'string' ? excerpt(v.value, 60) : String(v.value)}`
  })
  return shown.length === 0 ? '' : ` (from ${shown.join(', ')})`
}

/**
 * Per-recipient attribute values from data files (CSV, JSON, NDJSON) and inline recipients may hold templates too:
 * rewrites them in place. Returns one message per problem, with the attribute it is in.
 */
export function resolveAttributeTemplates(attributes: Attributes, values: ReadonlyMap<string, ResolvedVariable>, declared: readonly string[]): readonly {attribute: string; message: string}[] {
  // Called for every recipient: the list is made only when there is something to report.
  let out: {attribute: string; message: string}[] | undefined
  for (const key in attributes) {
    const v = attributes[key]
    if (typeof v !== 'string' || !hasTemplate(v)) continue
    const result = interpolate(v, values, declared)
    if ('value' in result) attributes[key] = result.value as AttributeValue
    else for (const message of result.errors) (out ??= []).push({attribute: key, message})
  }
  return out ?? NOTHING_TO_REPORT
}

const NOTHING_TO_REPORT: readonly {attribute: string; message: string}[] = []
