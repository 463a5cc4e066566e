import path from 'node:path'

import {CliError, ExitCode} from '../errors.js'
import type {ClientOptions} from '../sfmc/client.js'
import {credentialsFromEnv} from '../sfmc/credentials.js'
import type {Credentials, SfmcClient} from '../sfmc/types.js'
import type {Pacer} from '../status/pacer.js'
import type {StateTarget} from '../state/types.js'
import {authHostOf} from './target.js'

import {SANDBOX_DIR} from '../sandbox/outbox-file.js'

export {SANDBOX_DIR}
/** --sandbox uses its own state (unless --state is given), so a sandbox run never marks a real send as done. */
export const SANDBOX_STATE = `${SANDBOX_DIR}/state.json`

export interface ConnectOptions {
  sandbox?: boolean
  env: NodeJS.ProcessEnv
  cwd: string
  clientOptions?: ClientOptions
}

export interface Connection {
  client: SfmcClient
  /** What this connection reaches, as a state records it. */
  target(): Promise<StateTarget>
  /** Closes the client, and stops the sandbox if one was started. */
  close(): Promise<void>
}

/**
 * Checks that there is something to talk to, before any other work: credentials in the environment, or --sandbox.
 * undefined with --sandbox.
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
 * A client for Marketing Cloud, or for the sandbox started on its data directory (so status and refresh know what
 * `apply --sandbox` sent). With a pacer, a 429 on the status route that the client retries slows the pacer down.
 */
export async function openConnection(options: ConnectOptions, pacer?: Pacer): Promise<Connection> {
  const credentials = requireConnection(options)
  const userEvent = options.clientOptions?.onEvent
  const clientOptions: ClientOptions | undefined = pacer
    ? {
        ...options.clientOptions,
        onEvent: (event) => {
          if (event.type === 'retry' && event.route === 'status' && /HTTP 429/.test(event.reason)) pacer.backOff(event.delayMs)
          userEvent?.(event)
        },
      }
    : options.clientOptions
  // The client and its HTTP library load only when a command connects: plan and validate import this module too.
  const {createSfmcClient} = await import('../sfmc/client.js')
  if (credentials) {
    const client = createSfmcClient(credentials, clientOptions)
    const target = async (): Promise<StateTarget> => {
      const accountId = await client.accountId()
      return accountId === undefined ? {kind: 'marketing-cloud', authHost: authHostOf(credentials.authUrl)} : {kind: 'marketing-cloud', authHost: authHostOf(credentials.authUrl), accountId}
    }
    return {client, target, close: () => client.close()}
  }
  const {startSandbox} = await import('../sandbox/server.js')
  const sandbox = await startSandbox({dataDir: path.join(options.cwd, SANDBOX_DIR)})
  const client = createSfmcClient({clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, authUrl: sandbox.authUrl}, clientOptions)
  return {
    client,
    target: async () => ({kind: 'sandbox'}),
    async close() {
      await client.close()
      await sandbox.close()
    },
  }
}
