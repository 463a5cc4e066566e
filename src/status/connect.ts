import path from 'node:path'

import {CliError, ExitCode} from '../errors.js'
import {createSfmcClient, type ClientOptions} from '../sfmc/client.js'
import {credentialsFromEnv} from '../sfmc/credentials.js'
import type {Credentials, SfmcClient} from '../sfmc/types.js'
import type {Pacer} from './pacer.js'

/** Where --sandbox keeps its outbox and its own state (the same place apply --sandbox uses). */
export const SANDBOX_DATA_DIR = '.mcsend/sandbox'
export const SANDBOX_STATE_FILE = `${SANDBOX_DATA_DIR}/state.json`

export interface ConnectOptions {
  sandbox: boolean
  env: NodeJS.ProcessEnv
  cwd: string
  clientOptions?: ClientOptions
}

export interface StatusConnection {
  client: SfmcClient
  label: string
  close(): Promise<void>
}

/**
 * Checks that there is something to ask, before any other work: credentials in the environment, or --sandbox.
 * Throws the same error as apply when there is neither.
 */
export function requireConnection(options: Pick<ConnectOptions, 'sandbox' | 'env'>): Credentials | undefined {
  if (options.sandbox) return undefined
  const credentials = credentialsFromEnv(options.env)
  if (credentials === undefined) {
    throw new CliError('no Marketing Cloud credentials', {
      code: 'missing_credentials',
      exitCode: ExitCode.error,
      hint: 'set MCSEND_CLIENT_ID, MCSEND_CLIENT_SECRET and MCSEND_SUBDOMAIN (or MCSEND_AUTH_URL), optionally MCSEND_ACCOUNT_ID; or try it against the built-in fake with --sandbox',
    })
  }
  return credentials
}

/**
 * A client for the status endpoint: Marketing Cloud, or the sandbox started on its data directory (so it knows what
 * `apply --sandbox` sent). A 429 the client retries slows the pacer down.
 */
export async function openStatusConnection(options: ConnectOptions, pacer?: Pacer): Promise<StatusConnection> {
  const credentials = requireConnection(options)
  const userEvent = options.clientOptions?.onEvent
  const clientOptions: ClientOptions = {
    ...options.clientOptions,
    onEvent: (event) => {
      if (pacer && event.type === 'retry' && event.route === 'status' && /HTTP 429/.test(event.reason)) pacer.backOff(event.delayMs)
      userEvent?.(event)
    },
  }
  if (credentials) {
    const client = createSfmcClient(credentials, clientOptions)
    return {client, label: 'Marketing Cloud', close: () => client.close()}
  }
  const {startSandbox} = await import('../sandbox/server.js')
  const sandbox = await startSandbox({dataDir: path.join(options.cwd, SANDBOX_DATA_DIR)})
  const client = createSfmcClient({clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, authUrl: sandbox.authUrl}, clientOptions)
  return {
    client,
    label: `the sandbox (${SANDBOX_DATA_DIR})`,
    async close() {
      await client.close()
      await sandbox.close()
    },
  }
}
