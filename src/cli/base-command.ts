import {Command} from '@oclif/core/command'
import * as Errors from '@oclif/core/errors'
import * as Flags from '@oclif/core/flags'
import type * as Interfaces from '@oclif/core/interfaces'

import {CliError, ExitCode, InvalidInputError, formatProblems, type ErrorCode, type ExitCodeValue} from '../errors.js'
import {escapeTerminalLines, jsonLine} from '../privacy/index.js'
import {makePaint, type Paint} from '../render/paint.js'
import {colourEnabled} from './colour-env.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/**
 * The base of every mcsend command: --json (one JSON path, below) and --no-color, stderr for diagnostics, and one place that turns
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

  /**
   * Every command takes --json (oclif's enableJsonFlag; a command's own `json` flag only words its help): what
   * run() returns is then printed by oclif through logJson below, and an error through toErrorJson. The commands
   * with --format also count --format json (see jsonEnabled).
   */
  static enableJsonFlag = true

  /** Set by parse(): the command was given --format json. */
  private formatJson = false

  protected async parse<F extends ParsedValues, B extends ParsedValues, A extends ParsedValues>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    const parsed = await super.parse(options, argv)
    this.formatJson = (parsed.flags as {format?: unknown}).format === 'json'
    return parsed
  }

  /** --json (oclif reads it, also before parsing, so a usage error is JSON too) or, once parsed, --format json. */
  public jsonEnabled(): boolean {
    return super.jsonEnabled() || this.formatJson
  }

  /**
   * The one writer of JSON on stdout: every document (a command's result, an error, each line of `apply --json`)
   * is one line, with the characters a terminal acts on escaped (src/privacy).
   */
  public logJson(json: unknown): void {
    process.stdout.write(jsonLine(json))
  }

  /** The error envelope of every command (schemas/error.schema.json): `{error: {code, message, hint, details}}`, and `valid`/`errors` for invalid input. */
  public toErrorJson(error: unknown): ErrorDocument {
    const failure = this.describeFailure(error)
    const doc: ErrorDocument = {error: {code: failure.code, message: failure.message, hint: failure.hint, details: failure.details.length > 0 ? failure.details : undefined}}
    if (failure.invalid) {
      doc.valid = false
      doc.errors = failure.invalid.problems.map((p) => ({file: p.file, line: p.line ?? null, column: p.column ?? null, message: p.message, path: p.path ?? null, hint: p.hint ?? null}))
    }
    return doc
  }

  /**
   * Ctrl-C during a run that stops between requests: prints `message`, then aborts the signal. `release` stops
   * listening (call it in a finally).
   */
  protected interruptible(message: string): {signal: AbortSignal; release(): void} {
    const controller = new AbortController()
    const onSigint = () => {
      this.note(message)
      controller.abort()
    }
    process.on('SIGINT', onSigint)
    return {signal: controller.signal, release: () => process.off('SIGINT', onSigint)}
  }

  /**
   * `\rVERB done/total` on a terminal's stderr (never with --json), at most once a second and always at the end,
   * for a run of status requests.
   */
  protected progressLine(verb: string): (done: number, total: number) => void {
    const shown = process.stderr.isTTY === true && !this.jsonEnabled()
    let last = 0
    return (done, total) => {
      const now = Date.now()
      if (!shown || (now - last < 1000 && done < total)) return
      last = now
      process.stderr.write(`\r${verb} ${done}/${total}${done === total ? '\n' : ''}`)
    }
  }

  /**
   * The end of a run whose report is a document: an error is thrown as any other in text mode; with --json the
   * document carries it (stdout holds only that one document), and the exit code is the error's, else 130 when
   * interrupted. Returns the document otherwise, for oclif to print with --json.
   */
  protected finishWithDocument<D extends object>(doc: D, error: CliError | undefined, interrupted: boolean): D {
    const json = this.jsonEnabled()
    if (error && !json) throw error
    if (error) {
      this.note(`error: ${error.message}${error.hint ? `\nhint: ${error.hint}` : ''}`)
      this.exitWithDocument(error.exitCode, doc)
    }
    if (interrupted) this.exitWithDocument(ExitCode.interrupted, doc)
    return doc
  }

  /**
   * Ends the run with a non-zero exit code after its document: in JSON mode the document is printed here, since
   * oclif prints what run() returns only when it returns.
   */
  protected exitWithDocument(code: ExitCodeValue, doc: object): never {
    if (this.jsonEnabled()) this.logJson(doc)
    return this.exit(code)
  }

  protected async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (error instanceof Errors.ExitError) throw error
    const failure = this.describeFailure(error)
    if (this.jsonEnabled()) this.logJson(this.toErrorJson(error))
    // Messages may quote file names and values from manifests: no control character reaches the terminal.
    const paint = this.paint(process.stderr)
    const lines = [`${paint.red('error')}: ${escapeTerminalLines(failure.message)}`, ...failure.details.map(escapeTerminalLines)]
    if (failure.hint) lines.push(`${paint.dim('hint')}: ${escapeTerminalLines(failure.hint)}`)
    process.stderr.write(`${lines.join('\n')}\n`)
    if (failure.code === 'internal' && process.env.MCSEND_DEBUG === '1' && error.stack) process.stderr.write(`${error.stack}\n`)
    return this.exit(failure.exitCode)
  }

  /** What to say about an error, in text and JSON alike: oclif's parse failures, our CliErrors, anything else (a bug). */
  private describeFailure(error: unknown): Failure {
    // oclif's parse failures: a flag value it rejects is invalid input (3), anything else a usage error (64).
    const badValue = isFlagValueError(error)
    if (error instanceof Error && (badValue || isParseError(error))) {
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
      if (badValue) return {message, details: [], hint, code: 'invalid_input', exitCode: ExitCode.invalidInput, invalid: new InvalidInputError(message, [], hint)}
      return {message, details: [], hint, code: 'usage', exitCode: ExitCode.usage}
    }
    if (error instanceof CliError) {
      const invalid = error instanceof InvalidInputError ? error : undefined
      const details = invalid ? [...formatProblems(invalid.problems), ...error.details] : error.details
      return {message: error.message, details, hint: error.hint, code: error.code, exitCode: error.exitCode, invalid}
    }
    const message = error instanceof Error ? error.message || String(error) : String(error)
    return {
      message: `unexpected failure: ${message}`,
      details: [],
      hint: 'this is a bug in mcsend; please report it with the command you ran (set MCSEND_DEBUG=1 for a stack trace)',
      code: 'internal',
      exitCode: ExitCode.error,
    }
  }
}

/** oclif's parsed flags and args (its FlagOutput and ArgOutput, which its index does not export). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ParsedValues = {[name: string]: any}

/** The `--json` error document (schemas/error.schema.json). */
export interface ErrorDocument {
  error: {code: ErrorCode; message: string; hint?: string; details?: string[]}
  valid?: false
  errors?: {file: string; line: number | null; column: number | null; message: string; path: string | null; hint: string | null}[]
}

interface Failure {
  message: string
  details: string[]
  hint?: string
  code: ErrorCode
  exitCode: ExitCodeValue
  invalid?: InvalidInputError
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
