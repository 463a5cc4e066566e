import path from 'node:path'

import {CliError} from '../errors.js'
import {createSfmcClient, type ClientOptions} from '../sfmc/client.js'
import {CREDENTIAL_VARIABLES, credentialsFromEnv} from '../sfmc/credentials.js'
import {DEFAULT_RETRY_POLICY} from '../sfmc/retry.js'
import {createTokenProvider} from '../sfmc/token.js'
import type {Credentials} from '../sfmc/types.js'
import {SANDBOX_DIR} from './connection.js'
import {applyEnvironment} from './environment.js'
import {loadOrFail} from './load.js'
import {prepareVariables, type VariableOptions} from './variables.js'

export interface DoctorOptions {
  /** Manifests whose definitions to check (none: only the connection). */
  paths: string[]
  sandbox: boolean
  env: NodeJS.ProcessEnv
  cwd: string
  clientOptions?: ClientOptions
  /** --env NAME: the environment of the project file whose tenant, business unit and credentials to check. */
  envName?: string
  /** --var, --var-file: values for the manifests' variables (as plan and apply take them). */
  variables?: VariableOptions
}

export interface DoctorCheck {
  /** credentials, token, rest-host, business-unit or definition:KEY */
  name: string
  ok: boolean
  detail: string
  hint?: string
}

export interface DoctorReport {
  ok: boolean
  target: {kind: 'sandbox' | 'marketing-cloud'; authHost?: string; restHost?: string; tenant?: string; businessUnit?: string}
  checks: DoctorCheck[]
}

const MC_HOST = /^([a-z\d-]+)\.(auth|rest)\.marketingcloudapis\.com$/i

/** The tenant subdomain of a Marketing Cloud auth or REST host, or the host itself elsewhere (sandbox, proxy). */
export function tenantOf(host: string): string {
  return MC_HOST.exec(host)?.[1]?.toLowerCase() ?? host
}

/**
 * `mcsend doctor`: what `gh auth status` is to gh. Checks, without sending anything and without printing a secret:
 * the credentials are set and well-formed, a token is issued, the REST host it names belongs to the same tenant,
 * which business unit it acts on, and that the definitions the given manifests name exist and are Active.
 * Each check is reported; the first failure of the connection stops the ones that need it.
 */
export async function runDoctor(given: DoctorOptions): Promise<DoctorReport> {
  // The environment as apply would choose it (its credentials are checked below, not required here).
  const chosen = await applyEnvironment({envName: given.envName, cwd: given.cwd, env: given.env, sandbox: given.sandbox})
  const options = {...given, env: chosen.env}
  let sends: Awaited<ReturnType<typeof loadOrFail>>['sends'] = []
  if (options.paths.length > 0) {
    const variables = await prepareVariables({...options.variables, projectLayer: chosen.projectLayer}, options.env, options.cwd)
    sends = (await loadOrFail(options.paths, {cwd: options.cwd, env: options.env, variables})).sends
  }
  const checks: DoctorCheck[] = []
  const report: DoctorReport = {ok: false, target: {kind: options.sandbox ? 'sandbox' : 'marketing-cloud'}, checks}
  const e = chosen.environment
  if (e !== undefined) {
    const parts = [e.tenant === undefined ? undefined : `tenant ${e.tenant}`, e.accountId === undefined ? undefined : `business unit ${e.accountId}`].filter((x) => x !== undefined)
    checks.push({name: 'environment', ok: true, detail: `${e.name} (${e.project.file})${parts.length > 0 ? `: ${parts.join(', ')}` : ''}${e.protected ? ', protected' : ''}${options.sandbox ? '; --sandbox: only its variable values are used' : ''}`})
  }
  let stop: (() => Promise<void>) | undefined
  try {
    let credentials: Credentials | undefined
    if (options.sandbox) {
      const {startSandbox} = await import('../sandbox/server.js')
      const sandbox = await startSandbox({dataDir: path.join(options.cwd, SANDBOX_DIR)})
      stop = () => sandbox.close()
      credentials = {clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, authUrl: sandbox.authUrl}
      checks.push({name: 'credentials', ok: true, detail: 'the built-in sandbox (--sandbox): its own credentials, nothing reaches a real inbox'})
    } else {
      // An environment reads the client id and secret from the variables it names: report those, not MCSEND_*.
      const names = e?.credentialVariables
      const missing = names === undefined ? [] : [names.clientId, names.clientSecret].filter((n) => !given.env[n]?.trim())
      if (names !== undefined && missing.length > 0) {
        const hint = `set ${missing.join(' and ')} (named in ${e!.project.file}) from the API integration of the installed package; or check the sandbox with --sandbox`
        checks.push({name: 'credentials', ok: false, detail: `environment ${e!.name} reads its credentials from ${names.clientId} and ${names.clientSecret}: ${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not set`, hint})
        return report
      }
      try {
        credentials = credentialsFromEnv(options.env)
      } catch (error) {
        if (!(error instanceof CliError)) throw error
        checks.push({name: 'credentials', ok: false, detail: error.message, hint: error.hint})
        return report
      }
      if (credentials === undefined) {
        checks.push({name: 'credentials', ok: false, detail: 'no Marketing Cloud credentials in the environment', hint: `set ${CREDENTIAL_VARIABLES.clientId}, ${CREDENTIAL_VARIABLES.clientSecret} and ${CREDENTIAL_VARIABLES.subdomain} (or ${CREDENTIAL_VARIABLES.authUrl}); or check the sandbox with --sandbox`})
        return report
      }
      const set = Object.values(CREDENTIAL_VARIABLES).filter((name) => (options.env[name] ?? '').trim() !== '')
      checks.push({name: 'credentials', ok: true, detail: names === undefined ? `${set.join(', ')} set` : `${names.clientId} and ${names.clientSecret} set (environment ${e!.name})`})
    }
    const authHost = new URL(credentials.authUrl).host
    report.target.authHost = authHost
    report.target.tenant = tenantOf(authHost)

    const http = {retry: {...DEFAULT_RETRY_POLICY, limit: 2, ...options.clientOptions?.retry}, timeoutMs: options.clientOptions?.timeoutMs ?? 15_000, random: Math.random}
    const tokens = createTokenProvider(credentials, {http})
    let restUrl: string
    try {
      restUrl = (await tokens.get()).restUrl
    } catch (error) {
      if (!(error instanceof CliError)) throw error
      checks.push({name: 'token', ok: false, detail: error.message, hint: error.hint})
      return report
    }
    checks.push({name: 'token', ok: true, detail: `issued by ${authHost}`})
    const restHost = new URL(restUrl).host
    report.target.restHost = restHost
    const sameTenant = !MC_HOST.test(authHost) || !MC_HOST.test(restHost) || tenantOf(authHost) === tenantOf(restHost)
    checks.push(
      sameTenant
        ? {name: 'rest-host', ok: true, detail: `${restHost}${MC_HOST.test(restHost) ? ` (tenant ${tenantOf(restHost)})` : ''}`}
        : {name: 'rest-host', ok: false, detail: `${restHost} belongs to tenant ${tenantOf(restHost)}, the auth host to ${tenantOf(authHost)}`, hint: `check ${CREDENTIAL_VARIABLES.subdomain} / ${CREDENTIAL_VARIABLES.authUrl}: the token and the REST host must belong to the same tenant`},
    )
    const client = createSfmcClient(credentials, {...options.clientOptions, tokenProvider: tokens})
    try {
      // Without MCSEND_ACCOUNT_ID, the business unit is the token's own, as apply learns it (GET /v2/userinfo).
      const businessUnit = options.sandbox ? credentials.accountId : await client.accountId().catch(() => undefined)
      report.target.businessUnit = businessUnit
      checks.push({
        name: 'business-unit',
        ok: true,
        detail: options.sandbox
          ? 'the sandbox has one'
          : credentials.accountId !== undefined
            ? `${credentials.accountId} (${CREDENTIAL_VARIABLES.accountId})`
            : businessUnit !== undefined
              ? `${businessUnit} (the token's default business unit; ${CREDENTIAL_VARIABLES.accountId} unset)`
              : `the API package's own business unit (${CREDENTIAL_VARIABLES.accountId} unset; Marketing Cloud did not name it)`,
      })
      for (const key of [...new Set(sends.map((s) => s.definitionKey))].sort()) {
        const name = `definition:${key}`
        try {
          const definition = await client.getDefinition(key)
          if (definition === undefined) checks.push({name, ok: false, detail: `"${key}" does not exist in this business unit`, hint: `check definitionKey in the manifest, and ${CREDENTIAL_VARIABLES.accountId}`})
          else if (definition.status === 'Active') checks.push({name, ok: true, detail: `"${key}" is Active`})
          else checks.push({name, ok: false, detail: `"${key}" is ${definition.status}: apply refuses it`, hint: definition.status === 'Inactive' ? 'activate it, or apply with --allow-inactive to queue the messages (up to 3 days)' : 'point definitionKey at an active definition'})
        } catch (error) {
          if (!(error instanceof CliError)) throw error
          checks.push({name, ok: false, detail: error.message, hint: error.hint})
        }
      }
    } finally {
      await client.close()
    }
    report.ok = checks.every((c) => c.ok)
    return report
  } finally {
    await stop?.()
  }
}
