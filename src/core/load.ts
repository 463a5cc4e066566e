import fs from 'node:fs'

import {InvalidInputError} from '../errors.js'
import {loadManifests} from '../manifest/load.js'
import {namedSourceRoots} from '../manifest/source-roots.js'
import type {LoadResult, Send} from '../manifest/types.js'
import {applyEnvironment, loadProject} from './environment.js'
import {projectSuppressEntries} from '../manifest/project.js'
import type {ProjectSuppress} from '../manifest/load.js'
import {assertFlagVariablesDeclared, prepareVariables, type PreparedVariables, type VariableOptions} from './variables.js'

export interface LoadDeps {
  cwd: string
  /** --source-root values (MCSEND_SOURCE_ROOT is added from `env`). */
  sourceRoots?: readonly string[]
  env?: NodeJS.ProcessEnv
  /** Values for the manifests' variables (prepareVariables); without it only defaults apply. */
  variables?: PreparedVariables
}

/** Loads manifests and turns any problem into one InvalidInputError (exit 3) listing them all. */
export async function loadOrFail(paths: string[], deps: LoadDeps): Promise<{sends: Send[]; result: LoadResult}> {
  const result = await loadManifests(paths, {fs, cwd: deps.cwd, sourceRoots: namedSourceRoots(deps.sourceRoots, deps.env ?? {})}, {variables: deps.variables?.inputs, projectSuppress: await projectSuppress(deps.cwd)})
  throwIfProblems(result)
  if (deps.variables !== undefined) assertFlagVariablesDeclared(result, deps.variables.flagNames)
  return {sends: result.sends, result}
}

/** `mcsend validate`: every problem, located (not thrown); a malformed --var or --var-file still throws. */
export async function validateManifests(
  paths: string[],
  options: {cwd: string; env: NodeJS.ProcessEnv; variables?: VariableOptions; envName?: string; sourceRoots?: readonly string[]},
): Promise<LoadResult> {
  // validate needs no target: an environment only lends its variable values, and only when one is named or default.
  const target = await applyEnvironment({envName: options.envName, cwd: options.cwd, env: options.env, optional: true})
  const variables = await prepareVariables({...options.variables, projectLayer: target.projectLayer}, options.env, options.cwd)
  const result = await loadManifests(paths, {fs, cwd: options.cwd, sourceRoots: namedSourceRoots(options.sourceRoots, options.env)}, {variables: variables.inputs, projectSuppress: await projectSuppress(options.cwd)})
  if (result.problems.length === 0) assertFlagVariablesDeclared(result, variables.flagNames)
  return result
}

/** The project file's suppression entries (mcsend.yaml `suppress:`), for every send; undefined without any. */
async function projectSuppress(cwd: string): Promise<ProjectSuppress | undefined> {
  const loaded = await loadProject(cwd)
  if (loaded?.project.suppress === undefined) return undefined
  return {abs: loaded.abs, entries: projectSuppressEntries(loaded.project)}
}

export function throwIfProblems(result: LoadResult, hint = 'fix the locations above; `mcsend validate` checks manifests without contacting Marketing Cloud'): void {
  const omitted = result.omittedProblems ?? 0
  if (result.problems.length === 0) return
  const total = result.problems.length + omitted
  const files = new Set(result.problems.map((p) => p.file))
  const where = files.size === 1 ? ` in ${[...files][0]}` : ` in ${files.size} files`
  const error = new InvalidInputError(`${total} problem${total === 1 ? '' : 's'}${where}`, result.problems, hint)
  if (omitted > 0) error.details.push(`  … and ${omitted} more`)
  throw error
}

export function assertTargetsExist(sends: Send[], targets: string[] | undefined): void {
  if (!targets || targets.length === 0) return
  const names = new Set(sends.map((s) => s.name))
  const missing = targets.filter((t) => !names.has(t))
  if (missing.length > 0) {
    throw new InvalidInputError(
      `no send named ${missing.map((m) => `"${m}"`).join(', ')}`,
      [],
      `the manifests define: ${[...names].sort().join(', ') || '(none)'}`,
    )
  }
}
