/**
 * Manifest variables: `vars:` declarations, the layered values that set them, and `${{ vars.NAME }}` templates.
 * Pure: the loader and core pass in every value (flags, environment, parsed var files); nothing here reads a file.
 */

import {isMap, isScalar, LineCounter, parseDocument, type Node} from 'yaml'

import type {AttributeValue} from './types.js'
import {didYouMean} from './suggest.js'
import {escapeTerminal, excerpt} from '../privacy/index.js'

export type VariableType = 'string' | 'number' | 'boolean'

/** A declared variable name: letters, digits and underscores, not starting with a digit (it becomes MCSEND_VAR_<name>). */
export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/

export const VARIABLE_ENV_PREFIX = 'MCSEND_VAR_'

export interface Place {
  file: string
  line: number
  column: number
}

/** One variable as a manifest declares it. */
export interface VariableDeclaration {
  name: string
  type: VariableType
  default?: AttributeValue
  description?: string
  /** The whole value (as text) must match it. */
  pattern?: string
  /** Where the declaration is (its key), and where its default and pattern are. */
  at: Place
  defaultAt?: Place
  patternAt?: Place
}

/**
 * A value given for a variable from outside the manifest. Values from the command line and the environment are
 * text (`fromText`), converted to the declared type; values from YAML files keep their YAML type.
 */
export interface VariableValue {
  value: unknown
  fromText: boolean
  /** How the user names where it came from: `--var version`, `MCSEND_VAR_version`, `vars.yaml:3:10`. */
  origin: string
  /** A short name of the layer, kept with the resolved value: `--var`, `MCSEND_VAR_version`, `vars.yaml`. */
  source: string
  place?: Place
}

export type VariableLayer = ReadonlyMap<string, VariableValue>

/**
 * Where values come from, later layers winning: defaults (in the manifest) < the environment's values in the
 * project file < `--var-file` files in order < `MCSEND_VAR_<name>` < `--var name=value`.
 */
export interface VariableInputs {
  layers: readonly VariableLayer[]
}

export const NO_VARIABLES: VariableInputs = {layers: []}

export interface ResolvedVariable {
  value: AttributeValue
  /** `default`, or the source of the layer that set it. */
  source: string
}

export interface VariableProblem {
  place: Place
  message: string
  hint?: string
}

const UNSET_HINT = 'give it a default, or pass --var NAME=VALUE, --var-file FILE, MCSEND_VAR_NAME, or a value in the environment of mcsend.yaml'

function typeNoun(type: VariableType): string {
  return type === 'string' ? 'a string' : type === 'number' ? 'a number' : 'true or false'
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'empty'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  if (typeof value === 'string') return `the string ${excerpt(value, 60)}`
  return `${typeof value === 'number' ? 'the number' : ''} ${String(value)}`.trim()
}

export function shorten(value: string, max = 60): string {
  return value.length > max ? `${value.slice(0, max - 3)}...` : value
}

const NUMBER_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/

/** A value converted to the declared type, or why it cannot be. */
export function convertValue(type: VariableType, value: unknown, fromText: boolean): {value: AttributeValue} | {error: string} {
  if (fromText && typeof value === 'string') {
    if (type === 'string') return {value}
    if (type === 'number') {
      const n = Number(value)
      return NUMBER_TEXT.test(value.trim()) && Number.isFinite(n) ? {value: n} : {error: `must be a number, not ${describe(value)}`}
    }
    if (value === 'true' || value === 'false') return {value: value === 'true'}
    return {error: `must be true or false, not ${describe(value)}`}
  }
  if (typeof value === type && (type !== 'number' || Number.isFinite(value))) return {value: value as AttributeValue}
  const quoteIt = type === 'string' && (typeof value === 'number' || typeof value === 'boolean') ? ` (quote it: "${String(value)}")` : ''
  return {error: `must be ${typeNoun(type)}, not ${describe(value)}${quoteIt}`}
}

function fullMatch(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`, 'u')
}

/** Whether a pattern compiles; undefined when it does, the reason otherwise. */
export function patternError(pattern: string): string | undefined {
  try {
    fullMatch(pattern)
    return undefined
  } catch (error) {
    return (error as Error).message.replace(/^Invalid regular expression: /, '')
  }
}

/**
 * Resolves the declared variables of one send from its defaults and the layers. Every declared variable must end up
 * with a value of its type that matches its pattern; each failure is a problem naming the variable, at the place the
 * bad value came from (a var file's line, the project file's line) or else at the declaration.
 */
export function resolveVariables(
  declarations: readonly VariableDeclaration[],
  inputs: VariableInputs,
): {values: Map<string, ResolvedVariable>; problems: VariableProblem[]} {
  const values = new Map<string, ResolvedVariable>()
  const problems: VariableProblem[] = []
  for (const decl of declarations) {
    let given: VariableValue | undefined
    for (const layer of inputs.layers) given = layer.get(decl.name) ?? given
    let resolved: ResolvedVariable | undefined
    if (given !== undefined) {
      const converted = convertValue(decl.type, given.value, given.fromText)
      if ('error' in converted) {
        problems.push({place: given.place ?? decl.at, message: `variable ${decl.name} ${converted.error} (set by ${given.origin})`, hint: `it is declared as type ${decl.type} at ${placeText(decl.at)}`})
        continue
      }
      resolved = {value: converted.value, source: given.source}
    } else if (decl.default !== undefined) {
      resolved = {value: decl.default, source: 'default'}
    } else {
      problems.push({place: decl.at, message: `variable ${decl.name} is not set`, hint: UNSET_HINT.replace(/NAME/g, decl.name)})
      continue
    }
    if (typeof resolved.value === 'string' && resolved.value.includes('${{')) {
      problems.push({place: given?.place ?? decl.defaultAt ?? decl.at, message: `variable ${decl.name}: a value may not contain "\${{" (values are not templates)`})
      continue
    }
    if (decl.pattern !== undefined && patternError(decl.pattern) === undefined && !fullMatch(decl.pattern).test(String(resolved.value))) {
      const from = given === undefined ? 'its default' : given.origin
      problems.push({
        place: given?.place ?? decl.defaultAt ?? decl.at,
        message: `variable ${decl.name}: ${excerpt(String(resolved.value), 60)} (from ${from}) does not match its pattern ${decl.pattern}`,
        hint: `the whole value must match the pattern declared at ${placeText(decl.patternAt ?? decl.at)}`,
      })
      continue
    }
    values.set(decl.name, resolved)
  }
  return {values, problems}
}

export function placeText(p: Place): string {
  return `${p.file}:${p.line}:${p.column}`
}

/** One `${{ … }}` in a text: its variable (when the expression is `vars.NAME`) and where it starts. */
interface TemplatePart {
  start: number
  end: number
  variable?: string
  expression: string
}

const EXPRESSION = /^\s*vars\.([A-Za-z_][A-Za-z0-9_]*)\s*$/

/** True when a text holds a template (or an escaped `$${{`, which still needs rewriting). */
export function hasTemplate(text: string): boolean {
  return text.includes('${{')
}

function scan(text: string): {parts: TemplatePart[]; unterminated?: number} {
  const parts: TemplatePart[] = []
  let i = 0
  for (;;) {
    const open = text.indexOf('${{', i)
    if (open < 0) return {parts}
    if (open > 0 && text[open - 1] === '$') {
      // `$${{` is a literal `${{`.
      parts.push({start: open - 1, end: open, expression: ''})
      i = open + 3
      continue
    }
    const close = text.indexOf('}}', open + 3)
    if (close < 0) return {parts, unterminated: open}
    const expression = text.slice(open + 3, close)
    const match = EXPRESSION.exec(expression)
    parts.push({start: open, end: close + 2, expression: expression.trim(), ...(match ? {variable: match[1]} : {})})
    i = close + 2
  }
}

/** The variables a text refers to, in order (for messages such as "the name comes from ${{ vars.x }}"). */
export function templateVariables(text: string): string[] {
  return scan(text).parts.flatMap((p) => (p.variable === undefined ? [] : [p.variable]))
}

export type Interpolation = {value: AttributeValue} | {errors: string[]}

/**
 * Replaces every `${{ vars.NAME }}` in a text. A text that is exactly one template takes the variable's typed value
 * (so `revision: ${{ vars.rev }}` is a number); otherwise the values are written into the text. `$${{` stands for a
 * literal `${{`. Unknown variables, other expressions and an unclosed `${{` are errors naming what is wrong.
 */
export function interpolate(text: string, values: ReadonlyMap<string, ResolvedVariable>, declared: readonly string[] = [...values.keys()]): Interpolation {
  const {parts, unterminated} = scan(text)
  const errors: string[] = []
  if (unterminated !== undefined) errors.push(`"\${{" without a closing "}}" (write "$\${{" for a literal "\${{")`)
  for (const part of parts) {
    if (part.start + 1 === part.end) continue
    if (part.variable === undefined) {
      errors.push(`unsupported expression \${{ ${escapeTerminal(shorten(part.expression, 40))} }}: only \${{ vars.NAME }} is allowed`)
    } else if (!values.has(part.variable)) {
      if (declared.includes(part.variable)) continue // declared but unresolved: already reported where it is declared
      const guess = didYouMean(part.variable, [...declared])
      const tail = guess === undefined ? (declared.length === 0 ? '; declare it under vars:' : `; declared: ${declared.join(', ')}`) : ` (did you mean ${guess}?)`
      errors.push(`undeclared variable ${part.variable}${tail}`)
    }
  }
  if (errors.length > 0) return {errors}
  if (parts.some((p) => p.variable !== undefined && !values.has(p.variable))) return {errors: []}
  const only = parts.length === 1 ? parts[0]! : undefined
  if (only?.variable !== undefined && only.start === 0 && only.end === text.length) return {value: values.get(only.variable)!.value}
  let out = ''
  let at = 0
  for (const part of parts) {
    out += text.slice(at, part.start)
    out += part.variable === undefined ? '' : String(values.get(part.variable)!.value)
    at = part.end
  }
  return {value: out + text.slice(at)}
}

/** `--var name=value` flags as a layer; a flag without `=` or with a bad name is an error naming it. */
export function layerFromFlags(flags: readonly string[]): {layer: Map<string, VariableValue>; errors: string[]} {
  const layer = new Map<string, VariableValue>()
  const errors: string[] = []
  for (const flag of flags) {
    const eq = flag.indexOf('=')
    const name = eq < 0 ? flag : flag.slice(0, eq)
    if (eq < 0) errors.push(`--var ${excerpt(flag, 60)}: expected NAME=VALUE`)
    else if (!VARIABLE_NAME.test(name)) errors.push(`--var ${excerpt(name, 60)}: not a variable name (letters, digits and _, not starting with a digit)`)
    else layer.set(name, {value: flag.slice(eq + 1), fromText: true, origin: `--var ${name}`, source: '--var'})
  }
  return {layer, errors}
}

/** `MCSEND_VAR_<name>` environment variables as a layer. */
export function layerFromEnv(env: Readonly<Record<string, string | undefined>>): Map<string, VariableValue> {
  const layer = new Map<string, VariableValue>()
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(VARIABLE_ENV_PREFIX) || value === undefined) continue
    const name = key.slice(VARIABLE_ENV_PREFIX.length)
    if (VARIABLE_NAME.test(name)) layer.set(name, {value, fromText: true, origin: key, source: key})
  }
  return layer
}

/**
 * A YAML mapping of variable values (a `--var-file`, or an environment's `vars:` in the project file) as a layer.
 * Every value must be a string, number or boolean; problems are located in that file.
 */
export function layerFromYamlMap(node: Node | null | undefined, counter: LineCounter, file: string, source: string): {layer: Map<string, VariableValue>; problems: VariableProblem[]} {
  const layer = new Map<string, VariableValue>()
  const problems: VariableProblem[] = []
  const placeOf = (n: Node | null | undefined): Place => {
    const {line, col} = counter.linePos(n?.range?.[0] ?? 0)
    return {file, line, column: col}
  }
  if (node === null || node === undefined || (isScalar(node) && node.value === null)) return {layer, problems}
  if (!isMap(node)) {
    problems.push({place: placeOf(node), message: 'must be a mapping of variable names to values (name: value)'})
    return {layer, problems}
  }
  for (const pair of node.items) {
    const keyNode = pair.key as Node | null
    const name = isScalar(keyNode) ? String(keyNode.value) : ''
    if (!VARIABLE_NAME.test(name)) {
      problems.push({place: placeOf(keyNode), message: `${excerpt(name, 60)} is not a variable name (letters, digits and _, not starting with a digit)`})
      continue
    }
    const valueNode = pair.value as Node | null
    const value = isScalar(valueNode) ? valueNode.value : valueNode === null ? null : valueNode.toJSON()
    const place = placeOf(valueNode ?? keyNode)
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      problems.push({place, message: `variable ${name} must be a string, number or boolean, not ${describe(value)}`})
      continue
    }
    layer.set(name, {value, fromText: false, origin: placeText(place), source, place})
  }
  return {layer, problems}
}

/** Parses a `--var-file` (YAML: `name: value` lines). */
export function parseVarFile(text: string, file: string): {layer: Map<string, VariableValue>; problems: VariableProblem[]} {
  const counter = new LineCounter()
  const doc = parseDocument(text.startsWith('\uFEFF') ? text.slice(1) : text, {lineCounter: counter, uniqueKeys: true, prettyErrors: false})
  const errors = [...doc.errors, ...doc.warnings]
  if (errors.length > 0) {
    return {
      layer: new Map(),
      problems: errors.map((e) => {
        const {line, col} = counter.linePos(e.pos[0])
        return {place: {file, line, column: col}, message: e.code === 'DUPLICATE_KEY' ? 'duplicate variable (each may appear only once)' : escapeTerminal(e.message.replace(/\s+/g, ' ').trim().slice(0, 200))}
      }),
    }
  }
  return layerFromYamlMap(doc.contents as Node | null, counter, file, file)
}
