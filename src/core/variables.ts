import {readFile} from 'node:fs/promises'
import path from 'node:path'

import {errorCode, InvalidInputError, type Problem} from '../errors.js'
import {didYouMean} from '../manifest/suggest.js'
import type {LoadResult} from '../manifest/types.js'
import {layerFromEnv, layerFromFlags, parseVarFile, type VariableInputs, type VariableLayer, type VariableProblem} from '../manifest/vars.js'
import {strictTextProblem} from '../manifest/strict-text.js'

/** Where variable values come from, as the commands receive them. */
export interface VariableOptions {
  /** `--var NAME=VALUE` flags, in order (a later one wins). */
  vars?: readonly string[]
  /** `--var-file FILE` paths, in order (a later file wins). */
  varFiles?: readonly string[]
  /** The selected environment's values from the project file (lowest layer after the defaults). */
  projectLayer?: VariableLayer
  /** `apply FILE`: the values the saved plan was made with, just above the project file's. */
  savedLayer?: VariableLayer
}

export interface PreparedVariables {
  inputs: VariableInputs
  /** Names given with --var, checked against the declarations once the manifests are loaded. */
  flagNames: string[]
  /** The var files read, with their digests' input (display path), for saved plans. */
  varFiles: {file: string; text: string}[]
}

function toProblem(p: VariableProblem): Problem {
  return {file: p.place.file, line: p.place.line, column: p.place.column, message: p.message, ...(p.hint === undefined ? {} : {hint: p.hint})}
}

/**
 * The layers, later winning: the environment's values in the project file < each --var-file < MCSEND_VAR_<name> <
 * --var. Reads the var files; a file that cannot be read or parsed, or a malformed --var, is invalid input (exit 3).
 */
export async function prepareVariables(options: VariableOptions, env: NodeJS.ProcessEnv, cwd: string): Promise<PreparedVariables> {
  const layers: VariableLayer[] = []
  const problems: Problem[] = []
  if (options.projectLayer !== undefined) layers.push(options.projectLayer)
  if (options.savedLayer !== undefined) layers.push(options.savedLayer)
  const varFiles: {file: string; text: string}[] = []
  for (const file of options.varFiles ?? []) {
    let bytes: Buffer
    try {
      bytes = await readFile(path.resolve(cwd, file))
    } catch (error) {
      const reason = errorCode(error) === 'ENOENT' ? 'no such file' : errorCode(error) === 'EISDIR' ? 'is a directory' : 'cannot be read'
      throw new InvalidInputError(`--var-file ${file}: ${reason}`, [], 'pass a YAML file of `name: value` lines')
    }
    // The same strict input as a manifest: valid UTF-8, no absurd nesting.
    const strict = strictTextProblem(bytes, file)
    if (strict !== undefined) throw new InvalidInputError(`1 problem in ${file}`, [strict], 'a var file maps variable names to strings, numbers or booleans')
    const text = bytes.toString('utf8')
    varFiles.push({file, text})
    const parsed = parseVarFile(text, file)
    problems.push(...parsed.problems.map(toProblem))
    layers.push(parsed.layer)
  }
  layers.push(layerFromEnv(env))
  const flags = layerFromFlags(options.vars ?? [])
  if (flags.errors.length > 0) {
    throw new InvalidInputError(flags.errors.length === 1 ? flags.errors[0]! : `${flags.errors.length} malformed --var flags`, [], 'write --var NAME=VALUE, e.g. --var version=4.3.0', )
  }
  layers.push(flags.layer)
  if (problems.length > 0) {
    throw new InvalidInputError(`${problems.length} problem${problems.length === 1 ? '' : 's'} in ${varFiles.length === 1 ? varFiles[0]!.file : 'the var files'}`, problems, 'a var file maps variable names to strings, numbers or booleans')
  }
  return {inputs: {layers}, flagNames: [...flags.layer.keys()], varFiles}
}

/** A `--var` no loaded manifest declares is a mistake (a typo would otherwise be silently ignored). */
export function assertFlagVariablesDeclared(result: LoadResult, flagNames: readonly string[]): void {
  const declared = result.variables ?? []
  const unknown = flagNames.filter((n) => !declared.includes(n))
  if (unknown.length === 0) return
  const guess = unknown.length === 1 ? didYouMean(unknown[0]!, declared) : undefined
  throw new InvalidInputError(
    `--var ${unknown.join(', ')}: no manifest declares ${unknown.length === 1 ? 'this variable' : 'these variables'}${guess === undefined ? '' : ` (did you mean ${guess}?)`}`,
    [],
    declared.length === 0 ? 'declare variables under `vars:` in the manifest' : `the manifests declare: ${declared.join(', ')}`,
  )
}
