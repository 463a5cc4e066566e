/**
 * The project file (`mcsend.yaml`, `kind: Project`): the environments sends go to. Parsing, checking and choosing an
 * environment are pure; core/environment.ts finds and reads the file and applies the choice.
 */

import {readFileSync} from 'node:fs'

import type {ValidateFunction} from 'ajv'
import {LineCounter, parseDocument, type Document, type Node} from 'yaml'

import type {Problem} from '../errors.js'
import {escapeTerminal, excerpt} from '../privacy/index.js'
import {describeSchemaErrors, formatPath, newAjv} from './schema.js'
import {didYouMean} from './suggest.js'
import {layerFromYamlMap, placeText, type Place, type VariableLayer} from './vars.js'
import {locateYaml} from './yaml-locate.js'
import type {SuppressSpec} from './suppression.js'

export const PROJECT_FILE = 'mcsend.yaml'
export const PROJECT_SCHEMA_URL = new URL('../../schemas/project.schema.json', import.meta.url)

export interface EnvironmentSpec {
  subdomain?: string
  authUrl?: string
  accountId?: string
  state: string
  workspace?: string
  clientIdEnv?: string
  clientSecretEnv?: string
  vars?: Record<string, string | number | boolean>
  protected?: boolean
}

export interface Project {
  file: string
  /** Suppression sources for every send (paths relative to the project file). */
  suppress?: SuppressSpec[]
  defaultEnvironment?: string
  environments: Record<string, EnvironmentSpec>
  /** The parsed document, for locating an environment's values. */
  doc: Document
  counter: LineCounter
}

let validator: ValidateFunction | undefined

function projectValidator(): ValidateFunction {
  validator ??= newAjv({allErrors: true, strict: true, verbose: true, allowUnionTypes: true}).compile(JSON.parse(readFileSync(PROJECT_SCHEMA_URL, 'utf8')) as object)
  return validator
}

/** Parses and checks a project file; every problem located at file:line:column. */
export function parseProject(text: string, file: string): {project?: Project; problems: Problem[]} {
  const counter = new LineCounter()
  const doc = parseDocument(text.startsWith('\uFEFF') ? text.slice(1) : text, {lineCounter: counter, uniqueKeys: true, prettyErrors: false})
  const yamlErrors = [...doc.errors, ...doc.warnings]
  if (yamlErrors.length > 0) {
    return {
      problems: yamlErrors.map((e) => {
        const {line, col} = counter.linePos(e.pos[0])
        return {file, line, column: col, message: e.code === 'DUPLICATE_KEY' ? 'duplicate key (each key may appear only once in a mapping)' : escapeTerminal(e.message.replace(/\s+/g, ' ').trim().slice(0, 200))}
      }),
    }
  }
  const at = (path: readonly (string | number)[], key = false) => ({file, ...locateYaml(doc, counter, path, key)})
  let value: unknown
  try {
    value = doc.toJS({maxAliasCount: 100})
  } catch (error) {
    return {problems: [{...at([]), message: `cannot read this document: ${escapeTerminal((error as Error).message.slice(0, 200))}`}]}
  }
  const validate = projectValidator()
  const problems: Problem[] = []
  if (!validate(value)) {
    for (const issue of describeSchemaErrors(validate.errors, 'yaml')) {
      problems.push({...at(issue.path, issue.key), path: formatPath(issue.path) || undefined, message: issue.message})
    }
    problems.sort((a, b) => a.line! - b.line! || a.column! - b.column!)
    return {problems}
  }
  const raw = value as {defaultEnvironment?: string; environments?: Record<string, EnvironmentSpec>; suppress?: SuppressSpec[]}
  // A project file may hold only suppression lists for every send: then it declares no environment.
  const environments = raw.environments ?? {}
  const names = Object.keys(environments)
  for (const [name, env] of Object.entries(environments)) {
    if (env.subdomain !== undefined && env.authUrl !== undefined) {
      problems.push({...at(['environments', name, 'authUrl'], true), path: formatPath(['environments', name]), message: 'give either subdomain or authUrl, not both'})
    }
    if (env.authUrl !== undefined) {
      const why = authUrlProblem(env.authUrl)
      if (why !== undefined) problems.push({...at(['environments', name, 'authUrl']), path: formatPath(['environments', name, 'authUrl']), message: why})
    }
    for (const ref of envReferences(env.state)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(ref)) problems.push({...at(['environments', name, 'state']), path: formatPath(['environments', name, 'state']), message: `\${env.${ref}} is not an environment variable name`})
    }
  }
  if (raw.defaultEnvironment !== undefined && !names.includes(raw.defaultEnvironment)) {
    const guess = didYouMean(raw.defaultEnvironment, names)
    problems.push({...at(['defaultEnvironment']), path: 'defaultEnvironment', message: `no environment named ${excerpt(String(raw.defaultEnvironment), 60)}${guess !== undefined ? ` (did you mean ${guess}?)` : names.length === 0 ? '; the file declares no environments' : `; environments: ${names.join(', ')}`}`})
  }
  if (problems.length > 0) return {problems}
  const project: Project = {file, defaultEnvironment: raw.defaultEnvironment, environments, doc, counter}
  if (raw.suppress !== undefined && raw.suppress.length > 0) project.suppress = raw.suppress
  return {project, problems}
}

/** Credentials go to this URL: https only, except a local fake on the loopback address. */
function authUrlProblem(url: string): string | undefined {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return `${JSON.stringify(url)} is not a URL`
  }
  const local = ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)
  if (parsed.protocol === 'https:' || (parsed.protocol === 'http:' && local)) return undefined
  return 'must be an https:// URL (http:// only for 127.0.0.1 or localhost): the client secret is sent to it'
}

/** The names in `${env.NAME}` references of a text. */
export function envReferences(text: string): string[] {
  return [...text.matchAll(/\$\{env\.([^}]*)\}/g)].map((m) => m[1]!)
}

/** The environment's `vars:` as the project layer of variable values, located in the project file. */
export function projectVariablesLayer(project: Project, name: string): VariableLayer {
  const node = project.doc.getIn(['environments', name, 'vars'], true) as Node | undefined
  return layerFromYamlMap(node, project.counter, project.file, `environment ${name}`).layer
}

export function environmentPlace(project: Project, name: string): Place {
  return {file: project.file, ...locateYaml(project.doc, project.counter, ['environments', name], true)}
}

/**
 * The environment to use: --env, else MCSEND_ENV, else the project's default. undefined when none is named and the
 * project has no default (the caller decides whether one is needed); an unknown name is an error message.
 */
export function chooseEnvironment(project: Project, flag: string | undefined, envVar: string | undefined): {name?: string; error?: string; hint?: string} {
  const names = Object.keys(project.environments)
  const [asked, from] = flag !== undefined ? [flag, '--env'] : envVar ? [envVar, 'MCSEND_ENV'] : [project.defaultEnvironment, 'defaultEnvironment']
  if (asked === undefined) return {}
  if (names.includes(asked)) return {name: asked}
  if (names.length === 0) return {error: `${from} ${JSON.stringify(asked)}: ${project.file} declares no environments`, hint: `declare it under environments: in ${project.file} (see schemas/project.schema.json)`}
  const guess = didYouMean(asked, names)
  return {
    error: `${from} ${JSON.stringify(asked)}: ${project.file} has no such environment${guess === undefined ? '' : ` (did you mean ${guess}?)`}`,
    hint: `its environments: ${names.join(', ')} (declared at ${placeText(environmentPlace(project, names[0]!))})`,
  }
}

/** The project's `suppress:` entries, each with its place in the project file (for the loader's problems). */
export function projectSuppressEntries(project: Project): {spec: SuppressSpec; at: {file: string; line: number; column: number; path: string}}[] {
  return (project.suppress ?? []).map((spec, i) => {
    const kind = spec.csv !== undefined ? 'csv' : 'ndjson'
    return {spec, at: {file: project.file, ...locateYaml(project.doc, project.counter, ['suppress', i, kind]), path: formatPath(['suppress', i, kind])}}
  })
}
