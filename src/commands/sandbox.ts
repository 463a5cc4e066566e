import * as Flags from '@oclif/core/flags'
import path from 'node:path'

import {BaseCommand} from '../cli/base-command.js'
import {CliError, ExitCode, InvalidInputError, type ExitCodes} from '../errors.js'
import {CONTROL_ROUTES, CONTROL_SECRET_HEADER} from '../sandbox/control.js'
import {DEFINITIONS_FILE, KNOWN_DEFINITIONS, type DefinitionState} from '../sandbox/definitions.js'
import {startSandbox, type RequestLogEvent} from '../sandbox/server.js'
import {OUTBOX_FILE, SANDBOX_DIR} from '../sandbox/outbox-file.js'

export interface SandboxDocument {
  url: string
  authUrl: string
  clientId: string
  clientSecret: string
  dataDir: string
  outbox: string
  /** The sandbox's own state file: the exports point MCSEND_STATE at it, so sandbox sends never land in the real state. */
  state: string
  env: {MCSEND_AUTH_URL: string; MCSEND_CLIENT_ID: string; MCSEND_CLIENT_SECRET: string; MCSEND_STATE: string}
  /** The shell line that points mcsend at this sandbox. */
  exports: string
}

export default class Sandbox extends BaseCommand<typeof Sandbox> {
  static summary = 'Run a local fake Marketing Cloud to try mcsend without an account.'
  static description = `Starts the built-in fake of Marketing Cloud's transactional email API on 127.0.0.1 and keeps it running until Ctrl-C. It prints the credentials and the environment lines that point mcsend at it. What it accepts is appended to outbox.ndjson under --data-dir, and a restart with the same directory remembers every messageKey, like the real service does for 72 hours.

The printed exports also set MCSEND_STATE to the sandbox's own state file (state.json under --data-dir), so a shell pointed at the sandbox can never record sandbox sends in the real state.

Like Marketing Cloud, the sandbox refuses a definitionKey it does not know (404 on the definition route, 109111 on send). It knows ${Object.keys(KNOWN_DEFINITIONS).join(', ')} (the keys of the examples and \`mcsend init\`), those in ${DEFINITIONS_FILE} under --data-dir ({"KEY": "Active"}), and each --definition KEY=STATE.

Each request is logged to stderr as one line (method, path, status, recipients); email addresses are never logged. Ctrl-C (or SIGTERM) closes the server, flushes the outbox and exits 0.

CONTROL ROUTES
Tests steer a running sandbox over HTTP under /mcsend-sandbox/ (Marketing Cloud has no such routes; mcsend's client never calls them). Each request needs the client secret in the ${CONTROL_SECRET_HEADER} header.
${CONTROL_ROUTES.map((r) => `  ${r}`).join('\n')}`

  static exitCodes: ExitCodes = [
    [0, 'stopped with Ctrl-C or SIGTERM after closing cleanly'],
    [1, 'could not start: the port is taken or the data directory is not writable'],
    [3, `invalid flag value (--port, --token-lifetime, --definition) or a malformed ${DEFINITIONS_FILE}`],
    64,
  ]

  static examples = [
    {description: 'Start on a free port and paste the printed export line into another shell', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'A fixed port, a throw-away outbox and tokens that die after 60 seconds', command: '<%= config.bin %> <%= command.id %> --port 8787 --data-dir /tmp/mc-outbox --token-lifetime 60'},
    {description: 'Machine-readable connection details for scripts', command: '<%= config.bin %> <%= command.id %> --json'},
    {description: 'Know one more send definition, and one that is Inactive', command: '<%= config.bin %> <%= command.id %> --definition order-confirmation=Active --definition paused-news=Inactive'},
  ]

  static flags = {
    port: Flags.integer({description: 'TCP port on 127.0.0.1 (0 picks a free port).', default: 0}),
    'data-dir': Flags.string({description: 'Directory for outbox.ndjson, kept across runs.', default: SANDBOX_DIR}),
    'token-lifetime': Flags.integer({description: 'Seconds an access token really lives (Marketing Cloud: 1200; expires_in still says 1080).'}),
    json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print the connection details as one JSON object.'}),
    definition: Flags.string({description: 'A send definition the sandbox knows, KEY=Active|Inactive|Deleted (repeatable).', multiple: true}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Sandbox)
    if (flags.port < 0 || flags.port > 65_535) {
      throw new InvalidInputError(`--port must be from 0 to 65535, got ${flags.port}`, [], 'use --port 0 to pick a free port')
    }
    const lifetime = flags['token-lifetime']
    if (lifetime !== undefined && lifetime < 1) {
      throw new InvalidInputError(`--token-lifetime must be at least 1 second, got ${lifetime}`, [], 'leave it out for the real 20 minutes')
    }
    const definitions = parseDefinitions(flags.definition ?? [])
    const dataDir = path.resolve(flags['data-dir'])
    const sandbox = await startSandbox({
      port: flags.port,
      dataDir,
      definitions,
      tokenLifetimeMs: lifetime === undefined ? undefined : lifetime * 1000,
      onRequest: (event) => this.note(formatRequest(event)),
    }).catch((error: unknown) => {
      throw startFailure(error, flags.port, dataDir)
    })

    const state = path.join(dataDir, 'state.json')
    const env = {MCSEND_AUTH_URL: sandbox.authUrl, MCSEND_CLIENT_ID: sandbox.clientId, MCSEND_CLIENT_SECRET: sandbox.clientSecret, MCSEND_STATE: state}
    const exports = `export ${Object.entries(env)
      .map(([k, v]) => `${k}=${shellQuote(v)}`)
      .join(' ')}`
    const doc: SandboxDocument = {url: sandbox.url, authUrl: sandbox.authUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, dataDir, outbox: path.join(dataDir, OUTBOX_FILE), state, env, exports}

    // Listen for Ctrl-C/SIGTERM before telling anyone where the server is: a signal sent as soon as the line
    // is read must close the server cleanly, not kill the process.
    const stopped = new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        resolve()
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    })

    // The document is printed at once (not returned: the server runs until Ctrl-C).
    if (this.jsonEnabled()) {
      this.logJson(doc)
    } else {
      const paint = this.paint(process.stdout)
      this.log(
        [
          `${paint.green('mcsend sandbox')} listening on ${sandbox.url}`,
          `  auth URL       ${doc.authUrl}`,
          `  client id      ${doc.clientId}`,
          `  client secret  ${doc.clientSecret}`,
          `  outbox         ${doc.outbox}`,
          `  state          ${doc.state} (the sandbox's own; MCSEND_STATE below points at it)`,
          '',
          'Point mcsend at it (paste into another shell):',
          exports,
        ].join('\n'),
      )
    }
    this.note('sandbox running; press Ctrl-C to stop')

    await stopped
    await sandbox.close()
    this.note('sandbox stopped')
  }
}

function parseDefinitions(values: readonly string[]): Record<string, DefinitionState> {
  const out: Record<string, DefinitionState> = {}
  for (const value of values) {
    const m = /^([^=]+)=(active|inactive|deleted)$/i.exec(value)
    if (!m) {
      throw new InvalidInputError(`--definition must be KEY=Active, KEY=Inactive or KEY=Deleted, got "${value}"`, [], 'e.g. --definition release-notes=Active')
    }
    const state = m[2]!.toLowerCase()
    out[m[1]!] = (state.charAt(0).toUpperCase() + state.slice(1)) as DefinitionState
  }
  return out
}

/** Single quotes for a shell when the value needs them (a data directory with spaces). */
function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`
}

function formatRequest(e: RequestLogEvent): string {
  const parts = [e.method, e.path, e.status === 0 ? 'dropped' : String(e.status)]
  if (e.recipients !== undefined) parts.push(`recipients=${e.recipients}`)
  parts.push(`${e.ms}ms`)
  if (e.fault) parts.push(`fault=${e.fault}`)
  return parts.join(' ')
}

function startFailure(error: unknown, port: number, dataDir: string): CliError {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'EADDRINUSE') return new CliError(`port ${port} on 127.0.0.1 is already in use`, {code: 'sandbox_port', exitCode: ExitCode.error, hint: 'choose another --port, or --port 0 for a free one', cause: error})
  if (code === 'EACCES' && port !== 0 && port < 1024) {
    return new CliError(`port ${port} needs elevated privileges`, {code: 'sandbox_port', exitCode: ExitCode.error, hint: 'use a port from 1024 up, or --port 0', cause: error})
  }
  if (error instanceof SyntaxError) return new InvalidInputError(error.message, [], `fix ${DEFINITIONS_FILE} or remove it`, error)
  if (code === 'EACCES' || code === 'EPERM' || code === 'ENOTDIR' || code === 'EROFS') {
    return new CliError(`cannot write the sandbox outbox under ${dataDir} (${code})`, {code: 'sandbox_data_dir', exitCode: ExitCode.error, hint: 'pass a writable directory with --data-dir', cause: error})
  }
  return new CliError(`the sandbox could not start: ${(error as Error).message ?? String(error)}`, {code: 'sandbox_start', exitCode: ExitCode.error, cause: error})
}
