import {Command, Errors, Flags, type Interfaces} from '@oclif/core'

import {CliError, ExitCode, InvalidInputError, formatProblems, type ErrorCode} from '../errors.js'
import {escapeJsonText, escapeTerminalLines} from '../privacy/index.js'
import {makePaint, type Paint} from '../render/paint.js'
import {colourEnabled} from './colour-env.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/**
 * The base of every mcsend command: --json and --no-color, stderr for diagnostics, and one place that turns
 * errors into `error: …` + `hint: …` with the agreed exit codes (design.md). A stack trace is printed only
 * for unexpected failures and only with MCSEND_DEBUG=1.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static baseFlags = {
    'no-color': Flags.boolean({description: 'Disable colour (also honoured: NO_COLOR, TERM=dumb).', helpGroup: 'GLOBAL'}),
  }

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>

  /** Colours for stderr/stdout text (off unless a TTY and colour is allowed). */
  protected paint(stream: {isTTY?: boolean} = process.stdout): Paint {
    return makePaint(colourEnabled(stream))
  }

  /** Diagnostics, progress and warnings: always stderr, so stdout stays parseable. */
  protected note(message: string): void {
    // Notes name files and sends from the user's input: control characters are shown escaped, line breaks kept.
    const safe = escapeTerminalLines(message)
    process.stderr.write(safe.endsWith('\n') ? safe : `${safe}\n`)
  }

  protected async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    // oclif's parse failures: a flag value it rejects is invalid input (3), anything else a usage error (64).
    const badValue = isFlagValueError(error)
    if (badValue || isParseError(error)) {
      // oclif's parse errors put the useful line after a generic first one ("The following error occurred:").
      const lines = error.message
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !/^The following errors? occurred:?$/i.test(l) && !/^See more help with/i.test(l))
      // "Parsing --parallelism" + "Expected an integer …" reads better as "--parallelism: expected an integer …".
      const flag = /^Parsing (--[\w-]+)$/.exec(lines[0] ?? '')?.[1]
      const message = flag && lines.length > 1 ? `${flag}: ${lines.slice(1).join('; ').replace(/^E/, 'e')}` : lines.join('; ') || error.message
      const hint = `see \`mcsend ${this.id ?? ''} --help\``.replace('  ', ' ')
      // A rejected value is invalid input like any other: its --json error carries valid: false and errors.
      if (badValue) this.writeError(message, [], hint, 'invalid_input', new InvalidInputError(message, [], hint))
      else this.writeError(message, [], hint, 'usage')
      return this.exit(badValue ? ExitCode.invalidInput : ExitCode.usage)
    }
    if (error instanceof Errors.ExitError) throw error
    if (error instanceof CliError) {
      const details = error instanceof InvalidInputError ? [...formatProblems(error.problems), ...error.details] : error.details
      this.writeError(error.message, details, error.hint, error.code, error instanceof InvalidInputError ? error : undefined)
      return this.exit(error.exitCode)
    }
    const message = error.message || String(error)
    this.writeError(`unexpected failure: ${message}`, [], 'this is a bug in mcsend; please report it with the command you ran (set MCSEND_DEBUG=1 for a stack trace)', 'internal')
    if (process.env.MCSEND_DEBUG === '1' && error.stack) process.stderr.write(`${error.stack}\n`)
    return this.exit(ExitCode.error)
  }

  private writeError(message: string, details: string[], hint: string | undefined, code: ErrorCode, invalid?: InvalidInputError): void {
    if (this.jsonRequested()) {
      const doc: Record<string, unknown> = {error: {code, message, hint, details: details.length > 0 ? details : undefined}}
      if (invalid) {
        doc.valid = false
        doc.errors = invalid.problems.map((p) => ({file: p.file, line: p.line ?? null, column: p.column ?? null, message: p.message, path: p.path ?? null, hint: p.hint ?? null}))
      }
      process.stdout.write(`${escapeJsonText(JSON.stringify(doc))}\n`)
    }
    // Messages may quote file names and values from manifests: no control character reaches the terminal.
    const paint = this.paint(process.stderr)
    const lines = [`${paint.red('error')}: ${escapeTerminalLines(message)}`, ...details.map(escapeTerminalLines)]
    if (hint) lines.push(`${paint.dim('hint')}: ${escapeTerminalLines(hint)}`)
    process.stderr.write(`${lines.join('\n')}\n`)
  }

  protected jsonRequested(): boolean {
    const argv = this.argv ?? []
    return argv.includes('--json') || argv.includes('--format=json') || (argv.includes('--format') && argv[argv.indexOf('--format') + 1] === 'json')
  }
}

/** A value oclif rejected: not one of a flag's options, or refused by its parser (e.g. an integer's min/max). */
function isFlagValueError(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const name = error.constructor?.name ?? ''
  return name === 'FlagInvalidOptionError' || name === 'ArgInvalidOptionError' || /^Parsing --[\w-]+/.test(error.message)
}

function isParseError(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const name = error.constructor?.name ?? ''
  return (
    [
      'FailedFlagValidationError',
      'NonExistentFlagsError',
      'RequiredArgsError',
      'UnexpectedArgsError',
      'ArgInvalidOptionError',
      'FlagInvalidOptionError',
      'CLIParseError',
    ].includes(name) || (error as {parse?: unknown}).parse !== undefined
  )
}
