import {readFile, stat} from 'node:fs/promises'
import path from 'node:path'

import {CliError, ExitCode, InvalidInputError} from '../errors.js'
import {sha256Hex} from '../keys/hash.js'
import {chooseEnvironment, envReferences, parseProject, PROJECT_FILE, projectVariablesLayer, type EnvironmentSpec, type Project} from '../manifest/project.js'
import type {VariableLayer} from '../manifest/vars.js'
import type {PlanEnvironment} from '../plan/types.js'
import {CREDENTIAL_VARIABLES} from '../sfmc/credentials.js'
import {isPostgresSpec} from '../state/open.js'
import {strictTextProblem} from '../manifest/strict-text.js'

/** What the plan, the Markdown and the approval prompt say about where the sends go. */
export interface EnvironmentInfo {
  name: string
  /** The tenant: its subdomain, or the host of its auth URL; undefined when the environment leaves it to MCSEND_*. */
  tenant?: string
  /** The business unit MID, when the environment names one. */
  accountId?: string
  protected: boolean
  /** The variables the environment reads its client id and secret from (clientIdEnv, clientSecretEnv). */
  credentialVariables?: {clientId: string; clientSecret: string}
  /** The project file (relative to the working directory) and the SHA-256 of its bytes. */
  project: {file: string; sha256: string}
}

export interface EnvironmentOptions {
  /** --env NAME (else MCSEND_ENV, else the project's defaultEnvironment). */
  envName?: string
  /** --state and --workspace: they win over the environment's. */
  state?: string
  workspace?: string
  cwd: string
  env: NodeJS.ProcessEnv
  /** --sandbox: the environment gives only its variable values; the target and state are the sandbox's. */
  sandbox?: boolean
  /** This command talks to Marketing Cloud: the environment's credential variables must be set. */
  needsCredentials?: boolean
  /** This command needs no target (validate): without an environment named, none is chosen. */
  optional?: boolean
}

/** The options a command runs with once its environment is applied. */
export interface Targeted {
  /** The process environment with the environment's tenant, business unit and credentials as MCSEND_* values. */
  env: NodeJS.ProcessEnv
  state?: string
  workspace?: string
  /** The environment's variable values. */
  projectLayer?: VariableLayer
  environment?: EnvironmentInfo
}

/** The environment as a plan carries it (the project file's digest stays with the saved plan). */
export function environmentOfPlan(info: EnvironmentInfo): PlanEnvironment {
  const out: PlanEnvironment = {name: info.name, protected: info.protected}
  if (info.tenant !== undefined) out.tenant = info.tenant
  if (info.accountId !== undefined) out.accountId = info.accountId
  return out
}

/**
 * The project file: `mcsend.yaml` in the working directory or, inside a git repository, in the nearest parent up
 * to the repository root. Outside a repository only the working directory counts: a stray file in a parent (a
 * shared temporary directory, a home directory) must never pick the target.
 */
export async function findProjectFile(cwd: string): Promise<string | undefined> {
  const start = path.resolve(cwd)
  const chain: string[] = []
  let root: string | undefined
  for (let dir = start; ; dir = path.dirname(dir)) {
    chain.push(dir)
    if (await exists(path.join(dir, '.git'))) {
      root = dir
      break
    }
    if (path.dirname(dir) === dir) break
  }
  for (const dir of root === undefined ? [start] : chain) {
    const candidate = path.join(dir, PROJECT_FILE)
    if (await isFile(candidate)) return candidate
  }
  return undefined
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile()
  } catch {
    return false
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p)
    return true
  } catch {
    return false
  }
}

export async function loadProject(cwd: string): Promise<{project: Project; sha256: string; abs: string} | undefined> {
  const abs = await findProjectFile(cwd)
  if (abs === undefined) return undefined
  const bytes = await readFile(abs)
  const file = path.relative(cwd, abs).split(path.sep).join('/')
  // The same strict input as a manifest: valid UTF-8, no absurd nesting.
  const strict = strictTextProblem(bytes, file)
  if (strict !== undefined) throw new InvalidInputError(`1 problem in ${file}`, [strict], 'the project file is described by schemas/project.schema.json')
  const {project, problems} = parseProject(bytes.toString('utf8'), file)
  if (project === undefined) {
    throw new InvalidInputError(`${problems.length} problem${problems.length === 1 ? '' : 's'} in ${file}`, problems, 'the project file is described by schemas/project.schema.json')
  }
  return {project, sha256: sha256Hex(bytes), abs}
}

function tenantOf(spec: EnvironmentSpec): string | undefined {
  if (spec.subdomain !== undefined) return spec.subdomain
  if (spec.authUrl !== undefined) return new URL(spec.authUrl).host
  return undefined
}

/**
 * Applies the chosen environment of the project file: its tenant, business unit and credential variables become
 * the MCSEND_* values the client reads, its state and workspace become the defaults (--state and --workspace still
 * win), and its variable values become the project layer. Without a project file, or with `optional` and no
 * environment named, nothing changes.
 */
export async function applyEnvironment(options: EnvironmentOptions): Promise<Targeted> {
  const plain: Targeted = {env: options.env, state: options.state, workspace: options.workspace}
  const asked = options.envName ?? (options.env.MCSEND_ENV || undefined)
  const loaded = await loadProject(options.cwd)
  if (loaded === undefined) {
    if (asked === undefined) return plain
    throw new InvalidInputError(`${options.envName === undefined ? 'MCSEND_ENV' : '--env'} ${JSON.stringify(asked)}: there is no ${PROJECT_FILE} here or in a parent directory`, [], `environments are declared in ${PROJECT_FILE} at the repository root (kind: Project); see schemas/project.schema.json`)
  }
  const {project, sha256, abs} = loaded
  const choice = chooseEnvironment(project, options.envName, options.env.MCSEND_ENV || undefined)
  if (choice.error !== undefined) throw new InvalidInputError(choice.error, [], choice.hint)
  if (choice.name === undefined) {
    if (options.optional || options.sandbox || Object.keys(project.environments).length === 0) return plain
    throw new InvalidInputError(`${project.file} declares environments but none is chosen`, [], `pass --env NAME (or set MCSEND_ENV), or set defaultEnvironment in ${project.file}; environments: ${Object.keys(project.environments).join(', ')}`)
  }
  const name = choice.name
  const spec = project.environments[name]!
  const projectLayer = projectVariablesLayer(project, name)
  const environment: EnvironmentInfo = {name, protected: spec.protected === true, project: {file: project.file, sha256}}
  const tenant = tenantOf(spec)
  if (tenant !== undefined) environment.tenant = tenant
  if (spec.accountId !== undefined) environment.accountId = spec.accountId
  if (options.sandbox) return {...plain, projectLayer, environment}

  const env: NodeJS.ProcessEnv = {...options.env}
  const conflicts: string[] = []
  const set = (variable: string, value: string | undefined) => {
    if (value === undefined) return
    const current = options.env[variable]?.trim()
    if (current && current !== value) conflicts.push(variable)
    env[variable] = value
  }
  set(CREDENTIAL_VARIABLES.subdomain, spec.subdomain)
  set(CREDENTIAL_VARIABLES.authUrl, spec.authUrl)
  set(CREDENTIAL_VARIABLES.accountId, spec.accountId)
  // One of them names the tenant: the other, from the shell, must not override it.
  if (spec.subdomain !== undefined && !options.env[CREDENTIAL_VARIABLES.authUrl]?.trim()) delete env[CREDENTIAL_VARIABLES.authUrl]
  if (spec.authUrl !== undefined && !options.env[CREDENTIAL_VARIABLES.subdomain]?.trim()) delete env[CREDENTIAL_VARIABLES.subdomain]
  if (conflicts.length > 0) {
    throw new InvalidInputError(`environment ${name} sets the target, but ${conflicts.join(' and ')} in the shell name${conflicts.length === 1 ? 's' : ''} another`, [], `unset ${conflicts.join(' and ')}, or change environment ${name} in ${project.file}`)
  }
  const idName = spec.clientIdEnv ?? CREDENTIAL_VARIABLES.clientId
  const secretName = spec.clientSecretEnv ?? CREDENTIAL_VARIABLES.clientSecret
  environment.credentialVariables = {clientId: idName, clientSecret: secretName}
  env[CREDENTIAL_VARIABLES.clientId] = options.env[idName]
  env[CREDENTIAL_VARIABLES.clientSecret] = options.env[secretName]
  if (options.needsCredentials) {
    const missing = [idName, secretName].filter((n) => !options.env[n]?.trim())
    if (missing.length > 0) {
      throw new CliError(`environment ${name} needs its credentials: ${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not set`, {
        code: 'missing_credentials',
        exitCode: ExitCode.error,
        hint: `set ${missing.join(' and ')} (named in ${project.file}) from the API integration of the installed package, or try it with --sandbox`,
      })
    }
  }

  let state = options.state
  if (state === undefined) state = resolveStateSpec(spec.state, options.env, path.dirname(abs), options.cwd, name, project.file, [idName, secretName])
  let workspace = options.workspace ?? spec.workspace
  if (workspace === undefined && isPostgresSpec(state)) workspace = name
  refuseOtherEnvironmentsState(project, name, {state, workspace}, options, path.dirname(abs))
  return {env, state, workspace, projectLayer, environment}
}

/** A state as compared between environments: a file by its absolute path, PostgreSQL by server, database and workspace. */
function stateIdentity(state: string, workspace: string | undefined, cwd: string): string {
  if (!isPostgresSpec(state)) return `file:${path.resolve(cwd, state)}`
  const url = new URL(state)
  return `pg:${url.hostname}:${url.port || '5432'}${url.pathname}#${workspace ?? 'default'}`
}

/**
 * Each environment has its own state: a state records what one business unit accepted, so pointing prod at dev's
 * state (in the project file, or with --state / --workspace) would plan prod against dev's history. Refused.
 */
function refuseOtherEnvironmentsState(project: Project, name: string, mine: {state: string; workspace?: string}, options: EnvironmentOptions, projectDir: string): void {
  const identity = stateIdentity(mine.state, mine.workspace, options.cwd)
  for (const [other, spec] of Object.entries(project.environments)) {
    if (other === name) continue
    // Another environment's state may need variables this run does not have; it only counts when it resolves.
    let state: string
    try {
      state = resolveStateSpec(spec.state, options.env, projectDir, options.cwd, other, project.file, [])
    } catch {
      continue
    }
    const workspace = spec.workspace ?? (isPostgresSpec(state) ? other : undefined)
    if (stateIdentity(state, workspace, options.cwd) !== identity) continue
    const how = options.state !== undefined || options.workspace !== undefined ? 'with --state/--workspace' : `in ${project.file}`
    throw new InvalidInputError(`environment ${name} would use the state of environment ${other} (${isPostgresSpec(state) ? `workspace ${workspace}` : state}), ${how}: refused`, [], `a state records what one business unit accepted; give ${name} its own state in ${project.file}${options.state !== undefined ? ', or drop --state' : ''}`)
  }
}

/**
 * The environment's state: `${env.NAME}` references filled in (for a password kept in a secret), a file path taken
 * relative to the project file. A credential variable may not be referenced: the state URL is not where a secret
 * meant for Marketing Cloud may go.
 */
function resolveStateSpec(spec: string, env: NodeJS.ProcessEnv, projectDir: string, cwd: string, name: string, file: string, credentialNames: string[]): string {
  const forbidden = new Set([...credentialNames, CREDENTIAL_VARIABLES.clientId, CREDENTIAL_VARIABLES.clientSecret])
  for (const ref of envReferences(spec)) {
    if (forbidden.has(ref)) {
      throw new InvalidInputError(`environment ${name}: the state may not use \${env.${ref}}, a Marketing Cloud credential`, [], `keep the database password in its own variable, in ${file}`)
    }
    if (env[ref] === undefined || env[ref] === '') {
      throw new InvalidInputError(`environment ${name}: its state uses \${env.${ref}}, which is not set`, [], `set ${ref} (for example from a CI secret), or change the state of ${name} in ${file}`)
    }
  }
  const filled = spec.replace(/\$\{env\.([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, ref: string) => (isPostgresSpec(spec) ? encodeURIComponent(env[ref]!) : env[ref]!))
  if (isPostgresSpec(filled)) return filled
  const relative = path.relative(cwd, path.resolve(projectDir, filled)).split(path.sep).join('/')
  return relative === '' ? '.' : relative
}
