import {InvalidInputError, type Problem} from '../errors.js'
import {suppressionHash, type SuppressMatch} from '../keys/suppression.js'
import {contactKeyProblem, isEmailAddress, notAnEmailMessage} from '../manifest/schema.js'
import {stateHasherFromEnv} from './state-key.js'

export interface SuppressHashOptions {
  match: SuppressMatch
  env: NodeJS.ProcessEnv
  /** How the input is named in problems (`stdin`). */
  inputName: string
}

/**
 * `mcsend suppress hash`: one value per input line (blank lines skipped) in, a CSV with the header `hash` out,
 * one hash per value (keys/suppression.ts; keyed with MCSEND_STATE_KEY when it is set). Every bad line is a problem
 * that does not replay the value; with any, nothing is written and InvalidInputError (exit 3) lists them.
 */
export async function hashSuppressionList(lines: AsyncIterable<string>, options: SuppressHashOptions): Promise<string[]> {
  const hasher = stateHasherFromEnv(options.env)
  const out = ['hash']
  const problems: Problem[] = []
  let n = 0
  for await (const raw of lines) {
    n++
    const value = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (value.trim() === '') continue
    if (options.match === 'to') {
      if (!isEmailAddress(value.trim())) {
        if (problems.length < 50) problems.push({file: options.inputName, line: n, message: notAnEmailMessage(value)})
        continue
      }
    } else {
      const why = contactKeyProblem(value)
      if (why !== undefined) {
        if (problems.length < 50) problems.push({file: options.inputName, line: n, message: `contactKey ${why}`})
        continue
      }
    }
    out.push(suppressionHash(hasher, options.match, value))
  }
  if (problems.length > 0) {
    throw new InvalidInputError(`${problems.length} line${problems.length === 1 ? '' : 's'} of ${options.inputName} cannot be hashed`, problems, 'give one value per line: an email address with --match to, a contactKey with --match contactKey')
  }
  return out
}
