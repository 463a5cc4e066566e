import fs from 'node:fs'

import {InvalidInputError} from '../errors.js'
import {loadManifests} from '../manifest/load.js'
import {namedSourceRoots} from '../manifest/source-roots.js'
import type {LoadResult, Send} from '../manifest/types.js'

export interface LoadDeps {
  cwd: string
  /** --source-root values (MCSEND_SOURCE_ROOT is added from `env`). */
  sourceRoots?: readonly string[]
  env?: NodeJS.ProcessEnv
}

/** Loads manifests and turns any problem into one InvalidInputError (exit 3) listing them all. */
export async function loadOrFail(paths: string[], deps: LoadDeps): Promise<{sends: Send[]; result: LoadResult}> {
  const result = await loadManifests(paths, {fs, cwd: deps.cwd, sourceRoots: namedSourceRoots(deps.sourceRoots, deps.env ?? {})})
  throwIfProblems(result)
  return {sends: result.sends, result}
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
