import {onlineRun, type ManifestRunOptions} from './run-options.js'
import type {CanaryOutcome, CanaryReport} from '../apply/canary.js'
import type {ApplyResult, ExecuteEvent, Progress} from '../apply/execute.js'
import {canaryExitCode, canaryPacer, executeWithCanary} from './canary.js'
import {CliError, ExitCode, InvalidInputError, UsageError} from '../errors.js'
import {buildPlan} from '../plan/build.js'
import {digestFiles, planMismatches, readSavedPlanFile, savedPlanInputs, savedVariablesLayer, selectSavedSends, stalePlanError, staleReasons, type SavedPlan} from './saved-plan.js'
import type {Plan} from '../plan/types.js'
import type {ClientOptions} from '../sfmc/client.js'
import type {SfmcClient} from '../sfmc/types.js'
import {makeLockOwner} from '../state/lock.js'
import type {MessageStatus, StateData, StateTarget} from '../state/types.js'
import type {Send} from '../manifest/types.js'
import {refuseKnownKeys} from './known-keys.js'
import {assertTargetsExist, loadOrFail} from './load.js'
import {appliedSnapshot, bindStateKey, checkStateKey, stateHasherFromEnv, storableValue} from './state-key.js'
import type {StateHasher} from '../keys/keyed.js'
import {withConnection, withLockedStore} from './resources.js'
import {assertTarget, offlineTarget} from './target.js'
import {environmentOfPlan, type EnvironmentInfo} from './environment.js'
import {prepareVariables, type PreparedVariables} from './variables.js'

// Marketing Cloud's messageKey reuse window is documented as 72 h in places and "2 days" in others
// (docs/marketing-cloud-api.md); a pending key older than the shorter one can no longer be re-sent safely.
export const SAFE_RESEND_WINDOW_MS = 48 * 3600 * 1000

export interface ApplyOptions extends ManifestRunOptions {
  targets?: string[]
  parallelism: number
  allowInactive: boolean
  signal?: AbortSignal
  clock?: () => Date
  /**
   * A saved plan (`plan --out FILE`) to apply instead of `paths`: applied without approval (the review was the
   * approval), and refused with StalePlanError (exit 5) unless the state and every file it read are unchanged.
   */
  planFile?: string
  /** Client tuning (tests shorten retry delays). */
  clientOptions?: ClientOptions
  /** --refresh: settle pending keys through the status endpoint before planning (src/core/refresh.ts). */
  refresh?: boolean
  /** --skip-canary: send the canary requests with all the others, without waiting (core/canary.ts). */
  skipCanary?: boolean
}

export interface ApplyUi {
  /** Shows the plan before asking. */
  showPlan(plan: Plan): Promise<void> | void
  /**
   * Asks for approval, naming where the messages go; false cancels (exit 1, nothing sent). Called after the lock,
   * the credentials and the definitions were checked; not called with nothing to send nor for a saved plan.
   */
  approve(plan: Plan, target: string): Promise<boolean>
  note(message: string): void
  onEvent?(event: ExecuteEvent): void
  onProgress?(progress: Progress): void
  /** After the canary was awaited: shows the report; true sends the rest (default: only when it passed). */
  afterCanary?(report: CanaryReport): Promise<boolean>
}

export interface ApplyOutcome {
  plan: Plan
  result?: ApplyResult
  cancelled: boolean
  exitCode: number
  stateLocation: string
  /** Where the messages went (set when something was sent). */
  target?: string
  /** The canary step, when the plan had one: skipped, or its report and whether the rest went. */
  canary?: CanaryOutcome
}

/**
 * apply: credentials first (fail before anything else), then manifests, lock, state, plan, the connection and the
 * definition preflight, approval (naming the target), and the write-ahead execution. The lock is held from before the state is read until
 * the state is committed.
 */
export async function runApply(given: ApplyOptions, ui: ApplyUi): Promise<ApplyOutcome> {
  const clock = given.clock ?? (() => new Date())
  const {options, chosen} = await onlineRun(given)
  const environment = chosen.environment === undefined ? {} : {environment: environmentOfPlan(chosen.environment), project: chosen.environment.project}
  const hasher = stateHasherFromEnv(options.env)
  let saved: SavedPlan | undefined
  let sends: Send[] = []
  let digests: Map<string, string | undefined> | undefined
  let variables: PreparedVariables
  if (options.planFile === undefined) {
    variables = await prepareVariables(options.variables ?? {}, options.env, options.cwd)
    sends = (await loadOrFail(options.paths, {cwd: options.cwd, sourceRoots: options.sourceRoots, env: options.env, variables})).sends
    assertTargetsExist(sends, options.targets)
  } else {
    saved = selectSavedSends(await readSavedPlanFile(options.planFile, options.cwd), options.targets)
    // The values the plan was made with stand in for the ones it was given from outside; any value given now that
    // differs makes the plan stale (compared after re-planning).
    variables = await prepareVariables({...options.variables, savedLayer: savedVariablesLayer(saved, options.planFile)}, options.env, options.cwd)
    digests = await digestFiles(savedPlanInputs(saved).map((d) => d.file), options.cwd)
  }

  return withLockedStore({...options, note: (m) => ui.note(m)}, makeLockOwner('apply', clock(), options.env), async (store) => {
    const state = await store.load()
    // Before anything is shown: a state of another target is refused as far as the environment tells.
    assertTarget(state, store.location, offlineTarget(options))
    checkStateKey(state, hasher, store.location)
    if (options.refresh && saved === undefined) {
      // Refresh opens its own connection: its status requests are paced, and a 429 slows the pacer down. Its module
      // (the status poller) loads only for --refresh.
      const {refreshPending} = await import('./refresh.js')
      await refreshPending(store, state, {sandbox: options.sandbox, env: options.env, cwd: options.cwd, sends: options.targets, clock, signal: options.signal, clientOptions: options.clientOptions, note: (m) => ui.note(m)})
    }
    const plan =
      saved === undefined
        ? buildPlan(sends, state, {stateLocation: store.location, targets: options.targets, hasher})
        : await replanSaved(saved, options, state, store.location, digests!, hasher, variables, chosen.environment)
    if (chosen.environment !== undefined) plan.environment = environmentOfPlan(chosen.environment)
    await ui.showPlan(plan)
    if (plan.summary.toSend === 0) {
      return {plan, cancelled: false, exitCode: ExitCode.ok, stateLocation: store.location}
    }
    refuseStalePending(plan, state, clock())
    // Every check that can fail comes before the question: the lock (held), the credentials and the target (the
    // connection takes the token), and the definitions. A "yes" is then answered only by the send itself.
    // A reviewed saved plan needs no second approval, except for a protected environment.
    const needsApproval = saved === undefined || plan.environment?.protected === true
    let targetText: string | undefined
    let canary: CanaryOutcome | undefined
    const pacer = canaryPacer()
    const result = await withConnection(options, pacer, async (connection) => {
      const client = connection.client
      // Now the business unit is known too (MCSEND_ACCOUNT_ID, or the token's): compare again, and bind a new state.
      const target = await connection.target()
      assertTarget(state, store.location, target)
      if (saved !== undefined) {
        const files = new Map(savedPlanInputs(saved).map((d) => [d.file, d.sha256]))
        const reasons = staleReasons(saved, {state: {lineage: state.lineage, serial: state.serial, location: store.location}, files, sandbox: options.sandbox, target, ...environment})
        if (reasons.length > 0) throw stalePlanError(options.planFile!, reasons)
      }
      // Three waits that do not depend on each other run together: binding a new state to the target (a write and
      // its fsync), the definitions, and the status answers of the empty-state check (a paced route). Each outcome is
      // held as a value until all three are done (so none is left running when the connection closes, and a failure
      // that comes first is not left unhandled meanwhile); a failure is then reported in that order, the order in
      // which they used to run one after the other.
      const failures = await Promise.all([
        failureOf(state.target === undefined ? store.setMeta({target}) : undefined),
        failureOf(preflightDefinitions(plan, client, options.allowInactive)),
        failureOf(refuseKnownKeys(plan, state, client, {note: (m) => ui.note(m), pacer})),
      ])
      const failed = failures.find((f) => f !== undefined)
      if (failed !== undefined) throw failed.error
      targetText = describeTargetForApproval(target)
      if (needsApproval && !(await ui.approve(plan, targetText))) return undefined
      const before = statusesBefore(plan, state)
      await bindStateKey(store, state, hasher)
      const run = await executeWithCanary(
        plan,
        {client, store, clock, hasher, previousStatus: (key) => before.get(key)},
        {
          parallelism: options.parallelism,
          blockedBackoffMs: options.clientOptions?.retry?.baseDelayMs,
          signal: options.signal,
          onEvent: ui.onEvent,
          onProgress: ui.onProgress,
        },
        pacer,
        {skip: options.skipCanary, decide: ui.afterCanary, note: (m) => ui.note(m), recordOf: (key) => state.messages.get(key)},
      )
      canary = run.canary
      return run.result
    })
    if (result === undefined) return {plan, cancelled: true, exitCode: ExitCode.error, stateLocation: store.location}
    if (result.accepted + result.alreadyAccepted > 0) {
      for (const send of plan.sends) {
        if (send.batches.length === 0) continue
        await store.putSend(appliedSnapshot(send, clock(), hasher))
      }
    }
    await store.commit()
    return {plan, result, cancelled: false, exitCode: canaryExitCode(canary) ?? exitCodeFor(result), stateLocation: store.location, target: targetText, ...(canary === undefined ? {} : {canary})}
  })
}

/**
 * A saved plan is applied only if nothing it was computed from changed: the state (lineage and serial), each
 * manifest and source file (by SHA-256, checked before loading and again on the bytes the loader read), and the
 * plan recomputed from them must hold exactly the saved requests. Otherwise StalePlanError, one line per reason.
 */
async function replanSaved(
  saved: SavedPlan,
  options: ApplyOptions,
  state: StateData,
  location: string,
  digests: ReadonlyMap<string, string | undefined>,
  hasher: StateHasher,
  variables: PreparedVariables,
  environment: EnvironmentInfo | undefined,
): Promise<Plan> {
  const file = options.planFile!
  // The target is a value: an unset --sandbox flag is Marketing Cloud, never "unknown".
  const current = {
    state: {lineage: state.lineage, serial: state.serial, location},
    sandbox: options.sandbox === true,
    target: offlineTarget(options),
    ...(environment === undefined ? {} : {environment: environmentOfPlan(environment), project: environment.project}),
  }
  const before = staleReasons(saved, {...current, files: digests})
  if (before.length > 0) throw stalePlanError(file, before)
  const {sends, result} = await loadOrFail(
    saved.manifests.map((m) => m.file),
    {cwd: options.cwd, sourceRoots: options.sourceRoots, env: options.env, variables},
  )
  const read = new Map<string, string | undefined>([...result.manifests, ...sends.flatMap((s) => s.sources)].map((d) => [d.file, d.sha256]))
  const targets = saved.targets.length > 0 ? saved.targets : undefined
  const plan = buildPlan(sends, state, {stateLocation: location, targets, hasher})
  const reasons = [...staleReasons(saved, {...current, files: read}), ...planMismatches(saved, plan, storableValue(hasher))]
  if (reasons.length > 0) throw stalePlanError(file, reasons)
  return plan
}

/** What a step threw, as a value (undefined when it succeeded or there was no step). */
async function failureOf(step: Promise<unknown> | undefined): Promise<{error: unknown} | undefined> {
  try {
    await step
    return undefined
  } catch (error) {
    return {error}
  }
}

export function exitCodeFor(result: ApplyResult): number {
  if (result.interrupted) return ExitCode.interrupted
  if (result.fatal) return result.fatal.exitCode
  if (result.rejected > 0 || result.unknown > 0) return ExitCode.rejected
  return ExitCode.ok
}

/**
 * Each retried key's status before this run, read before the executor's pending records replace them. Only a retry
 * has a record (plan/build.ts: a key without one is a create), so a plan of new messages costs no walk at all.
 */
function statusesBefore(plan: Plan, state: StateData): Map<string, MessageStatus> {
  const before = new Map<string, MessageStatus>()
  for (const send of plan.sends) {
    if (send.counts.retry === 0) continue
    for (const b of send.batches) {
      for (const m of b.messages) {
        if (m.action !== 'retry') continue
        const status = state.messages.get(m.messageKey)?.status
        if (status !== undefined) before.set(m.messageKey, status)
      }
    }
  }
  return before
}

function refuseStalePending(plan: Plan, state: StateData, now: Date): void {
  // The plan counted the pending keys it will re-send: with none (the usual case), there is nothing to look up.
  if (plan.summary.pending === 0) return
  let old = 0
  for (const send of plan.sends) {
    if (send.pending === 0) continue
    for (const batch of send.batches) {
      for (const m of batch.messages) {
        if (m.action !== 'retry') continue
        const record = state.messages.get(m.messageKey)
        if (record?.status === 'pending' && now.getTime() - Date.parse(record.at) > SAFE_RESEND_WINDOW_MS) old++
      }
    }
  }
  if (old > 0) {
    throw new CliError(`${old} message${old === 1 ? ' was' : 's were'} left pending more than 48 hours ago`, {
      code: 'stale_pending',
      exitCode: ExitCode.error,
      hint: 'Marketing Cloud de-duplicates a messageKey for only 2-3 days, so re-sending them could deliver twice. Run again with --refresh to ask Marketing Cloud which of them it accepted; keys too old to check stay pending, and to send those anyway forget them first with `mcsend state rm KEY…` (they may then arrive twice).',
    })
  }
}

async function preflightDefinitions(plan: Plan, client: SfmcClient, allowInactive: boolean): Promise<void> {
  const keys = [...new Set(plan.sends.filter((s) => s.batches.length > 0).map((s) => s.definitionKey))]
  for (const key of keys) {
    const definition = await client.getDefinition(key)
    if (definition === undefined) {
      throw new InvalidInputError(`send definition "${key}" does not exist in this business unit`, [], 'check definitionKey in the manifest, and MCSEND_ACCOUNT_ID if you target another business unit')
    }
    // The docs' schema says "active, inactive, or deleted" while the examples say "Active": compare without case.
    const status = definition.status.toLowerCase()
    if (status === 'deleted') {
      throw new InvalidInputError(`send definition "${key}" is deleted`, [], 'point definitionKey at an active transactional send definition')
    }
    if (status !== 'active' && !allowInactive) {
      throw new InvalidInputError(
        `send definition "${key}" is ${definition.status}: Marketing Cloud would queue the messages for up to 3 days instead of sending them`,
        [],
        'activate the definition, or pass --allow-inactive to queue them anyway',
      )
    }
  }
}

export function refuseNonInteractive(): never {
  throw new UsageError('apply needs approval, and this shell is not interactive', 'pass --auto-approve to send without a prompt (in CI, after reviewing the plan)')
}

/** Where apply sends, in words for the approval prompt and the result: the sandbox, or the tenant and business unit. */
export function describeTargetForApproval(target: StateTarget): string {
  if (target.kind === 'sandbox') return 'the built-in sandbox (nothing reaches a real inbox)'
  const bu = target.accountId === undefined ? "the API package's own business unit" : `business unit ${target.accountId}`
  return `Marketing Cloud tenant ${target.authHost}, ${bu}`
}
