import * as Flags from '@oclif/core/flags'
import {DEFAULT_STATUS_RATE} from '../status/pacer.js'
import {parseDuration} from '../text/duration.js'

/**
 * Flags shared by several commands, defined once so their help reads the same everywhere. Help groups: the
 * command's own flags first, then OUTPUT (format, addresses), STATE (where the state is), GLOBAL.
 */
export const stateFlags = {
  state: Flags.string({
    description: 'State location: a file path or a postgres:// URL. [default: $MCSEND_STATE or .mcsend/state.json]',
    helpValue: 'FILE|URL',
    helpGroup: 'STATE',
  }),
  workspace: Flags.string({
    description: 'PostgreSQL state only: the workspace. [default: $MCSEND_WORKSPACE or "default"]',
    helpGroup: 'STATE',
  }),
}

export const showAddressesFlag = {
  'show-addresses': Flags.boolean({helpGroup: 'OUTPUT', description: 'Print email addresses in clear (they are masked by default, e.g. a***@example.com).'}),
}

export const sourceRootFlag = {
  'source-root': Flags.string({
    description:
      'A directory recipient files may be read from (repeatable; also MCSEND_SOURCE_ROOT, a path list). Sources outside it, through `..` or a symlink, and special files are refused. [default: the working directory]',
    multiple: true,
    helpValue: 'DIR',
  }),
}

export const sendFlag = {
  send: Flags.string({description: 'Only this send (by name); repeat for several.', multiple: true, helpValue: 'NAME'}),
}

/** For the state commands: the sandbox's own state, as `apply --sandbox` writes it. */
export const sandboxStateFlag = {
  sandbox: Flags.boolean({description: "Use the sandbox's own state (.mcsend/sandbox/state.json, as `apply --sandbox` writes it) unless --state is given."}),
}

export const envFlag = {
  env: Flags.string({
    description: 'The environment of mcsend.yaml to use: its tenant, business unit, state, credentials and variable values. [default: $MCSEND_ENV or defaultEnvironment]',
    helpValue: 'NAME',
  }),
}

export const variableFlags = {
  var: Flags.string({
    description: 'Set a manifest variable (repeatable); wins over MCSEND_VAR_NAME, --var-file and the defaults.',
    multiple: true,
    helpValue: 'NAME=VALUE',
  }),
  'var-file': Flags.file({
    description: 'Read variable values from a YAML file of `name: value` lines (repeatable; a later file wins).',
    multiple: true,
    helpValue: 'FILE',
  }),
}

/** --lock-timeout: wait for a state another run holds, like terraform's -lock-timeout. Parsed to milliseconds. */
export const lockTimeoutFlag = {
  'lock-timeout': Flags.custom<number>({
    description: 'How long to wait for the state lock while another run holds it, e.g. 30s, 5m, 1m30s. [default: 0s, refuse at once with exit 5]',
    helpValue: 'DURATION',
    helpGroup: 'STATE',
    async parse(input) {
      const ms = parseDuration(input)
      if (ms === undefined) throw new Error(`expected a duration such as 30s, 5m or 1m30s, got "${input}"`)
      return ms
    },
  })(),
}

/** What plan and apply read: the manifests (which sends, environment, variables, sources), the state and its lock. */
export const planFlags = {
  ...sendFlag,
  ...envFlag,
  ...variableFlags,
  ...showAddressesFlag,
  ...sourceRootFlag,
  ...stateFlags,
  ...lockTimeoutFlag,
}

/** What state rm and state forget share: --yes, --json, and where the state is (they write it under its lock). */
export const removeRecordsFlags = {
  yes: Flags.boolean({char: 'y', description: 'Do not ask for confirmation (required in a non-interactive shell).'}),
  json: Flags.boolean({helpGroup: 'OUTPUT', description: 'Print what was removed as one JSON document.'}),
  ...stateFlags,
  ...sandboxStateFlag,
  ...envFlag,
  ...lockTimeoutFlag,
}

/** What status and state recover share: the sandbox, the pace of the status requests, and what they read as plan does. */
export const statusRequestFlags = {
  sandbox: Flags.boolean({description: 'Ask the built-in fake Marketing Cloud (what apply --sandbox sent; its own state).'}),
  rate: Flags.integer({description: 'Status requests per second at most.', default: DEFAULT_STATUS_RATE, min: 1, max: 50}),
  ...sendFlag,
  ...sourceRootFlag,
  ...envFlag,
  ...variableFlags,
  ...stateFlags,
  ...lockTimeoutFlag,
}

/** Where the manifests are read, from --source-root, --var, --var-file and --env: as core/'s run options name them. */
export function manifestInputs(flags: {'source-root'?: string[]; var?: string[]; 'var-file'?: string[]; env?: string}) {
  return {cwd: process.cwd(), env: process.env, sourceRoots: flags['source-root'], variables: {vars: flags.var, varFiles: flags['var-file']}, envName: flags.env}
}

/** Where the state is and how long to wait for its lock, from --state, --workspace and --lock-timeout. */
export function stateInputs(flags: {state?: string; workspace?: string; 'lock-timeout'?: number}) {
  return {state: flags.state, workspace: flags.workspace, lockTimeoutMs: flags['lock-timeout']}
}
