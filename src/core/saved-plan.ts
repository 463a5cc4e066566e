import {readFileSync} from 'node:fs'
import {open, readFile, realpath} from 'node:fs/promises'
import path from 'node:path'

import type {ValidateFunction} from 'ajv'

import {CliError, ExitCode, InvalidInputError, StalePlanError} from '../errors.js'
import type {Attributes, SourceDigest} from '../manifest/types.js'
import type {VariableLayer, VariableValue} from '../manifest/vars.js'
import {maskAttributes, maskValue} from '../privacy/index.js'
import {realFs, writeFileAtomically} from '../state/file-io.js'
import type {SendSnapshot, StateTarget} from '../state/types.js'
import {describeTarget, targetMismatch} from './target.js'
import {sha256Hex} from '../keys/hash.js'
import {PLAN_FORMAT_VERSION, type Action, type Plan, type PlanEnvironment, type PlannedMessage, type PlannedSend, type PlanSummary} from '../plan/types.js'
import {newAjv} from '../manifest/schema.js'

/**
 * The saved plan (`mcsend plan --out FILE`, applied with `mcsend apply FILE`): the plan's keys and batches, the
 * digests of every file it read and the state it was computed against. It holds no email address and no
 * per-recipient attribute value (contactKeys and shared attributes that are addresses are masked), so it can be
 * uploaded as a CI artifact. Format: schemas/saved-plan.schema.json.
 */
export const SAVED_PLAN_KIND = 'mcsend/saved-plan'
/** Bump when the saved-plan layout changes; apply refuses a plan of any other version (it is stale). */
export const SAVED_PLAN_FORMAT_VERSION = 1

export interface SavedMessage {
  messageKey: string
  /** Masked when it is an email address. */
  contactKey: string
  action: Action
  reason?: string
}

/** A planned send as saved: its shared attributes with addresses masked, its messages as SavedMessage. */
export interface SavedSend extends Omit<PlannedSend, 'batches' | 'unchanged'> {
  batches: {index: number; messages: SavedMessage[]}[]
  unchanged: SavedMessage[]
}

export interface SavedPlan {
  kind: typeof SAVED_PLAN_KIND
  formatVersion: number
  toolVersion: string
  createdAt: string
  /** Made against the sandbox's state (`plan --sandbox`); apply must then target the sandbox too. */
  sandbox: boolean
  /** The target the plan was made for, as far as plan knew it (src/core/target.ts); apply FILE refuses another. */
  target?: StateTarget
  /** `--send` names the plan was limited to (empty: every send of the manifests). */
  targets: string[]
  state: {location: string; lineage: string; serial: number}
  /**
   * The variable values given from outside the manifests (project file, var files, MCSEND_VAR_*, --var), by name;
   * `apply FILE` uses them where it is given none. Values that are email addresses are left out (never saved).
   */
  variables?: Attributes
  /** The environment of the project file the plan was made for, and that file's digest. */
  environment?: PlanEnvironment
  project?: SourceDigest
  /** Every manifest file read, in load order (paths relative to the directory plan ran in). */
  manifests: SourceDigest[]
  summary: PlanSummary
  sends: SavedSend[]
  /** Each planned send as last applied (null: never applied), for the diff in review output. Addresses masked. */
  previous: Record<string, SendSnapshot | null>
}

export interface SaveContext {
  manifests: SourceDigest[]
  toolVersion: string
  createdAt: string
  sandbox: boolean
  /** What the plan was made for (the state's recorded target, or what the environment says). */
  target?: StateTarget
  targets: readonly string[]
  previous: Readonly<Record<string, SendSnapshot | undefined>>
  /** How the state stores a snapshot value (an address as a hash), so the saved plan's diff compares like with like. */
  storable?: (value: string) => string
  /** The project file the environment came from (its digest makes the plan stale when it changes). */
  project?: SourceDigest
}

/** Shared attributes as saved: stored like the state's snapshot (addresses hashed), anything left masked. */
function savedAttributes(attributes: SendSnapshot['attributes'], storable: ((value: string) => string) | undefined): SendSnapshot['attributes'] {
  if (storable === undefined) return maskAttributes(attributes, MASKED)
  const out: SendSnapshot['attributes'] = {}
  for (const [k, v] of Object.entries(attributes)) out[storable(k)] = typeof v === 'string' ? storable(v) : v
  return maskAttributes(out, MASKED)
}

function savedText(value: string, storable: ((value: string) => string) | undefined): string {
  return maskValue(storable === undefined ? value : storable(value), MASKED)
}

const MASKED = {showAddresses: false}

function savedMessage(m: PlannedMessage): SavedMessage {
  const o: SavedMessage = {messageKey: maskValue(m.messageKey, MASKED), contactKey: maskValue(m.contactKey, MASKED), action: m.action}
  if (m.reason !== undefined) o.reason = maskValue(m.reason, MASKED)
  return o
}

/** The saved form of a plan: addresses masked, `to` and per-recipient attributes dropped. Pure. */
export function toSavedPlan(plan: Plan, context: SaveContext): SavedPlan {
  const {previous, ...head} = savedPlanHead(plan, context)
  return {
    ...head,
    sends: plan.sends.map((s) => ({
      ...savedSendHead(s, context),
      batches: s.batches.map((b) => ({index: b.index, messages: b.messages.map(savedMessage)})),
      unchanged: s.unchanged.map(savedMessage),
    })),
    previous,
  }
}

/** Everything a saved plan holds but its sends. */
function savedPlanHead(plan: Plan, context: SaveContext): Omit<SavedPlan, 'sends'> {
  const previous: Record<string, SendSnapshot | null> = {}
  for (const send of plan.sends) {
    const snap = context.previous[send.name]
    previous[send.name] =
      snap === undefined
        ? null
        : {
            ...snap,
            definitionKey: maskValue(snap.definitionKey, MASKED),
            attributes: maskAttributes(snap.attributes, MASKED),
            ...(snap.nameTemplate === undefined ? {} : {nameTemplate: maskValue(snap.nameTemplate, MASKED)}),
            ...(snap.variables === undefined ? {} : {variables: maskAttributes(snap.variables, MASKED)}),
          }
  }
  const given: Attributes = {}
  for (const send of plan.sends) {
    for (const [name, value] of Object.entries(send.variables ?? {})) {
      if (send.variableSources?.[name] === 'default' || name in given) continue
      if (typeof value === 'string' && maskValue(value, MASKED) !== value) continue
      given[name] = value
    }
  }
  return {
    kind: SAVED_PLAN_KIND,
    formatVersion: SAVED_PLAN_FORMAT_VERSION,
    toolVersion: context.toolVersion,
    createdAt: context.createdAt,
    sandbox: context.sandbox === true,
    ...(context.target === undefined ? {} : {target: context.target}),
    targets: [...context.targets],
    state: {...plan.state},
    ...(Object.keys(given).length === 0 ? {} : {variables: given}),
    ...(plan.environment === undefined ? {} : {environment: {...plan.environment}}),
    ...(context.project === undefined ? {} : {project: {file: context.project.file, sha256: context.project.sha256}}),
    manifests: context.manifests.map((m) => ({file: m.file, sha256: m.sha256})),
    summary: {...plan.summary},
    previous,
  }
}

/** A saved send without its messages. */
function savedSendHead(s: PlannedSend, context: SaveContext): Omit<SavedSend, 'batches' | 'unchanged'> {
  return {
    name: s.name,
    definitionKey: savedText(s.definitionKey, context.storable),
    revision: s.revision,
    attributes: savedAttributes(s.attributes, context.storable),
    batchSize: s.batchSize,
    file: s.file,
    line: s.line,
    sources: s.sources.map((d) => ({file: d.file, sha256: d.sha256})),
    ...(s.nameTemplate === undefined ? {} : {nameTemplate: s.nameTemplate}),
    ...(s.variables === undefined ? {} : {variables: maskAttributes(s.variables, MASKED), variableSources: {...s.variableSources}}),
    counts: {...s.counts},
    ...(s.bySource === undefined ? {} : {bySource: s.bySource.map((c) => ({...c, file: maskValue(c.file, MASKED)}))}),
    pending: s.pending,
    ...(s.canary === undefined ? {} : {canary: {...s.canary}}),
  }
}

interface SendPieces<T> {
  head: object
  batches: readonly {index: number; messages: readonly T[]}[]
  unchanged: readonly T[]
}

/** Messages turned into saved lines a thousand at a time: one generator step per message would cost more than it. */
function* messageLines<T>(messages: readonly T[], toSaved: (m: T) => SavedMessage): Generator<string> {
  for (let i = 0; i < messages.length; i += 1000) {
    const chunk = messages.slice(i, i + 1000).map((m) => JSON.stringify(toSaved(m)))
    yield `${i > 0 ? ',\n' : ''}${chunk.join(',\n')}`
  }
}

/**
 * The saved plan's text in pieces: one JSON document with sends and messages one per line, so a large plan stays
 * readable and diffable. Messages are converted as they are written (`toSaved`), never all held as saved objects.
 */
function* savedPlanPieces<T>(head: object, sends: readonly SendPieces<T>[], toSaved: (m: T) => SavedMessage): Generator<string> {
  yield `${JSON.stringify(head).slice(0, -1)},"sends":[`
  for (const [i, send] of sends.entries()) {
    yield `${i > 0 ? ',' : ''}\n${JSON.stringify(send.head).slice(0, -1)},"batches":[`
    for (const [b, batch] of send.batches.entries()) {
      yield `${b > 0 ? ',' : ''}{"index":${batch.index},"messages":[\n`
      yield* messageLines(batch.messages, toSaved)
      yield '\n]}'
    }
    yield '],"unchanged":['
    if (send.unchanged.length > 0) {
      yield '\n'
      yield* messageLines(send.unchanged, toSaved)
      yield '\n'
    }
    yield ']}'
  }
  yield '\n]}\n'
}

/** One JSON document; sends and messages one per line, so a large plan stays readable and diffable. */
export function serializeSavedPlan(saved: SavedPlan): string {
  return [...savedDocumentPieces(saved)].join('')
}

function savedDocumentPieces(saved: SavedPlan): Generator<string> {
  const {sends, ...head} = saved
  return savedPlanPieces(
    head,
    sends.map(({batches, unchanged, ...sendHead}) => ({head: sendHead, batches, unchanged})),
    (m: SavedMessage) => m,
  )
}

/** A cheap look at a file's content: does it claim to be a saved plan? (Used to tell `apply FILE` from manifests.) */
function looksLikeSavedPlan(text: string): boolean {
  const head = text.slice(0, 400).trimStart()
  return head.startsWith('{') && head.includes(`"kind":"${SAVED_PLAN_KIND}"`)
}

/** The schema ships with the package; both src/ and dist/ sit two levels below its root. */
const SAVED_PLAN_SCHEMA_URL = new URL('../../schemas/saved-plan.schema.json', import.meta.url)
let validator: ValidateFunction | undefined

function savedPlanValidator(): ValidateFunction {
  validator ??= newAjv({allErrors: false, strict: true, allowUnionTypes: true}).compile(JSON.parse(readFileSync(SAVED_PLAN_SCHEMA_URL, 'utf8')) as object)
  return validator
}

/**
 * Parses a saved plan. A plan of another format version is stale (StalePlanError, exit 5); anything that is not a
 * well-formed saved plan is invalid input (exit 3).
 */
export function parseSavedPlan(text: string, file: string): SavedPlan {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (error) {
    throw new InvalidInputError(`${file} is not valid JSON: ${(error as Error).message}`, [], 'pass a file written by `mcsend plan --out FILE`')
  }
  const obj = doc !== null && typeof doc === 'object' ? (doc as Record<string, unknown>) : {}
  if (obj.kind !== SAVED_PLAN_KIND) {
    throw new InvalidInputError(`${file} is not a saved plan (no "kind": "${SAVED_PLAN_KIND}")`, [], 'pass a file written by `mcsend plan --out FILE`, or manifests')
  }
  if (obj.formatVersion !== SAVED_PLAN_FORMAT_VERSION) {
    const made = typeof obj.toolVersion === 'string' ? ` by mcsend ${obj.toolVersion}` : ''
    throw new StalePlanError(`the saved plan ${file} is stale; nothing was sent`, [
      `  format: the plan was written in format version ${JSON.stringify(obj.formatVersion)}${made}; this mcsend reads version ${SAVED_PLAN_FORMAT_VERSION}`,
    ], 'run `mcsend plan --out FILE` again with this version of mcsend, review it, then apply the new file')
  }
  const validate = savedPlanValidator()
  if (!validate(doc)) {
    const e = validate.errors?.[0]
    throw new InvalidInputError(`${file} is not a well-formed saved plan: ${e?.instancePath || '/'} ${e?.message ?? ''}`.trim(), [], 'write it again with `mcsend plan --out FILE`; do not edit saved plans by hand')
  }
  return doc as SavedPlan
}

export async function readSavedPlanFile(file: string, cwd: string): Promise<SavedPlan> {
  let text: string
  try {
    text = await readFile(path.resolve(cwd, file), 'utf8')
  } catch (error) {
    throw new InvalidInputError(`cannot read the saved plan ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, [], 'check the path; `mcsend plan --out FILE` writes one')
  }
  return parseSavedPlan(text, file)
}

/**
 * Writes atomically (temporary file, fsync, rename): a reader never sees half a plan. Mode 0600 (owner only), like
 * the state: a plan names sends, keys and files of the project, even without addresses.
 */
export async function writeSavedPlanFile(file: string, cwd: string, saved: SavedPlan): Promise<void> {
  await writeSavedPieces(file, cwd, savedDocumentPieces(saved))
}

/**
 * Saves a plan (`plan --out`) straight from the plan, streamed: the same text as serializeSavedPlan(toSavedPlan(…)),
 * written in pieces, so a plan of millions of recipients never exists as saved objects or as one string.
 */
export async function writePlanFile(file: string, cwd: string, plan: Plan, context: SaveContext): Promise<void> {
  const sends = plan.sends.map((s) => ({head: savedSendHead(s, context), batches: s.batches, unchanged: s.unchanged}))
  await writeSavedPieces(file, cwd, savedPlanPieces(savedPlanHead(plan, context), sends, savedMessage))
}

async function writeSavedPieces(file: string, cwd: string, pieces: Iterable<string>): Promise<void> {
  try {
    const target = path.resolve(cwd, file)
    // Through a symbolic link to the file it names (the link stays a link).
    const real = await realpath(target).catch(() => target)
    // Always 0600, even over a file that had wider permissions.
    await writeFileAtomically(realFs, real, pieces, 0o600)
  } catch (error) {
    throw new CliError(`cannot write the saved plan ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      code: 'write_failed',
      exitCode: ExitCode.error,
      hint: 'check that the directory exists and is writable',
    })
  }
}

/** Every file a saved plan depends on: its manifests, then each send's source files (deduplicated). */
export function savedPlanInputs(saved: SavedPlan): SourceDigest[] {
  const seen = new Map<string, string>()
  for (const d of [...saved.manifests, ...saved.sends.flatMap((s) => s.sources)]) if (!seen.has(d.file)) seen.set(d.file, d.sha256)
  return [...seen].map(([file, sha256]) => ({file, sha256}))
}

/** SHA-256 of each file now (undefined: missing or unreadable). Paths are relative to cwd. */
export async function digestFiles(files: readonly string[], cwd: string): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>()
  for (const file of files) {
    try {
      out.set(file, sha256Hex(await readFile(path.resolve(cwd, file))))
    } catch {
      out.set(file, undefined)
    }
  }
  return out
}

export interface CurrentInputs {
  /** The state apply is about to use. */
  state: {lineage: string; serial: number; location: string}
  /** Digest of each file now; undefined when it is missing. */
  files: ReadonlyMap<string, string | undefined>
  /** Whether this apply targets the sandbox; unset is Marketing Cloud. */
  sandbox?: boolean
  /** What this apply targets, as far as it is known (the business unit may be learnt only once connected). */
  target?: StateTarget
  /** The environment of the project file this apply uses, and that file's digest now. */
  environment?: PlanEnvironment
  project?: SourceDigest
}

/**
 * Why a saved plan can no longer be applied as reviewed: one line per reason, empty when it is fresh. Pure.
 * (The format version is checked when the plan is parsed.)
 */
export function staleReasons(saved: SavedPlan, now: CurrentInputs): string[] {
  const reasons: string[] = []
  if (saved.sandbox !== (now.sandbox === true)) {
    reasons.push(
      saved.sandbox
        ? 'target: the plan was made for the sandbox (plan --sandbox), but this apply targets Marketing Cloud'
        : 'target: the plan was made for Marketing Cloud, but this apply targets the sandbox (--sandbox)',
    )
  }
  if (saved.sandbox === (now.sandbox === true) && targetMismatch(saved.target, now.target) !== undefined) {
    reasons.push(`target: the plan was made for ${describeTarget(saved.target!)}, but this apply targets ${describeTarget(now.target!)}`)
  }
  reasons.push(...environmentReasons(saved, now))
  const was = saved.state
  if (was.lineage !== '' && now.state.lineage !== '' && was.lineage !== now.state.lineage) {
    reasons.push(`state: ${now.state.location} is not the state the plan was made against (lineage ${was.lineage}, now ${now.state.lineage})`)
  } else if (was.lineage !== now.state.lineage || was.serial !== now.state.serial) {
    reasons.push(`state: ${now.state.location} changed since the plan (serial ${was.serial} → ${now.state.serial}): another apply or a state command ran`)
  }
  for (const input of savedPlanInputs(saved)) {
    const current = now.files.get(input.file)
    if (current === undefined) reasons.push(`file: ${input.file} is missing (it was read by the plan; run apply from the directory plan ran in)`)
    else if (current !== input.sha256) reasons.push(`file: ${input.file} changed since the plan (sha256 ${short(input.sha256)} → ${short(current)})`)
  }
  return reasons
}

function short(sha: string): string {
  return sha.slice(0, 12)
}

/**
 * Compares a freshly computed plan with the saved one: the same sends, in the same order, with the same requests
 * holding the same keys. Any difference means the plan is not what was reviewed. Pure; empty when identical.
 */
export function planMismatches(saved: SavedPlan, plan: Plan, storable?: (value: string) => string): string[] {
  const reasons: string[] = []
  const names = (sends: readonly {name: string}[]) => sends.map((s) => s.name).join(', ')
  // Variables first: a changed value is the cause, a changed name or key only its effect.
  if (saved.sends.length === plan.sends.length) for (const [i, now] of plan.sends.entries()) reasons.push(...variableMismatches(saved.sends[i]!, now))
  if (names(saved.sends) !== names(plan.sends)) {
    return [...reasons, `plan: the sends differ (saved: ${names(saved.sends) || 'none'}; now: ${names(plan.sends) || 'none'})`]
  }
  for (const [i, now] of plan.sends.entries()) {
    const was = saved.sends[i]!
    const fields: string[] = []
    if (was.definitionKey !== savedText(now.definitionKey, storable)) fields.push('definitionKey')
    if (was.revision !== now.revision) fields.push('revision')
    if (was.batchSize !== now.batchSize) fields.push('batch size')
    if (JSON.stringify(was.attributes) !== JSON.stringify(savedAttributes(now.attributes, storable))) fields.push('shared attributes')
    if (fields.length > 0) reasons.push(`plan: send ${now.name}: ${fields.join(', ')} differ from the saved plan`)
    if (was.batches.length !== now.batches.length) {
      reasons.push(`plan: send ${now.name} now needs ${now.batches.length} requests; the saved plan has ${was.batches.length}`)
      continue
    }
    for (const [j, batch] of now.batches.entries()) {
      const keys = batch.messages.map((m) => m.messageKey)
      const savedKeys = was.batches[j]!.messages.map((m) => m.messageKey)
      if (keys.length !== savedKeys.length || keys.some((k, n) => k !== savedKeys[n])) {
        reasons.push(`plan: send ${now.name}, request ${batch.index}: its messages differ from the saved plan`)
        break
      }
    }
  }
  return reasons
}

function describeEnvironment(e: PlanEnvironment | undefined): string {
  if (e === undefined) return 'no environment'
  const parts = [e.tenant === undefined ? undefined : `tenant ${e.tenant}`, e.accountId === undefined ? undefined : `business unit ${e.accountId}`].filter((x) => x !== undefined)
  return `environment ${e.name}${parts.length === 0 ? '' : ` (${parts.join(', ')})`}`
}

/** The plan was made for another environment (or its target changed), or the project file changed since. */
function environmentReasons(saved: SavedPlan, now: CurrentInputs): string[] {
  const a = saved.environment
  const b = now.environment
  const reasons: string[] = []
  if (a?.name !== b?.name || a?.tenant !== b?.tenant || a?.accountId !== b?.accountId) {
    reasons.push(`environment: the plan was made for ${describeEnvironment(a)}, but this apply uses ${describeEnvironment(b)} (--env, MCSEND_ENV or the project file)`)
  }
  if (saved.project !== undefined && now.project !== undefined && saved.project.file === now.project.file && saved.project.sha256 !== now.project.sha256) {
    reasons.push(`file: ${now.project.file} changed since the plan (sha256 ${saved.project.sha256.slice(0, 12)} → ${now.project.sha256.slice(0, 12)})`)
  }
  return reasons
}

/** One line per variable whose value differs from the saved plan's (values compared as saved: addresses masked). */
function variableMismatches(was: SavedSend, now: PlannedSend): string[] {
  const before = was.variables ?? {}
  const after = maskAttributes(now.variables ?? {}, MASKED)
  const out: string[] = []
  for (const name of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    const a = before[name]
    const b = after[name]
    if (a === b) continue
    const show = (v: unknown) => (v === undefined ? '(not declared)' : JSON.stringify(v))
    const from = now.variableSources?.[name]
    out.push(`variable: send ${now.name}: ${name} was ${show(a)} in the plan, now ${show(b)}${from === undefined ? '' : ` (from ${from})`}`)
  }
  return out
}

/** The values a saved plan was given from outside, as the layer `apply FILE` resolves variables with. */
export function savedVariablesLayer(saved: SavedPlan, file: string): VariableLayer {
  const layer = new Map<string, VariableValue>()
  for (const [name, value] of Object.entries(saved.variables ?? {})) layer.set(name, {value, fromText: false, origin: `the saved plan ${file}`, source: 'saved plan'})
  return layer
}

/** The refusal, one detail line per reason. */
export function stalePlanError(file: string, reasons: readonly string[]): StalePlanError {
  return new StalePlanError(
    `the saved plan ${file} is stale; nothing was sent`,
    reasons.map((r) => `  ${r}`),
    'run `mcsend plan --out FILE` again, review the new plan, then apply it',
  )
}

/** Keeps only the named sends (apply FILE --send NAME); names the plan does not hold are an error. */
export function selectSavedSends(saved: SavedPlan, names: readonly string[] | undefined): SavedPlan {
  if (!names || names.length === 0) return saved
  const have = new Set(saved.sends.map((s) => s.name))
  const missing = names.filter((n) => !have.has(n))
  if (missing.length > 0) {
    throw new InvalidInputError(
      `the saved plan has no send named ${missing.map((m) => `"${m}"`).join(', ')}`,
      [],
      `it holds: ${[...have].join(', ') || '(none)'}`,
    )
  }
  const sends = saved.sends.filter((s) => names.includes(s.name))
  return {...saved, sends, targets: sends.map((s) => s.name)}
}

function plannedMessage(m: SavedMessage, send: SavedSend): PlannedMessage {
  // `to` is not saved: renderers leave an empty address out.
  return {messageKey: m.messageKey, contactKey: m.contactKey, to: '', action: m.action, file: send.file, line: send.line, ...(m.reason === undefined ? {} : {reason: m.reason})}
}

/** The plan as the renderers take it (for `mcsend show`). Addresses stay masked; `to` is empty. */
export function planFromSaved(saved: SavedPlan): Plan {
  return {
    formatVersion: PLAN_FORMAT_VERSION,
    state: {...saved.state},
    ...(saved.environment === undefined ? {} : {environment: {...saved.environment}}),
    summary: {...saved.summary},
    sends: saved.sends.map((s) => ({
      ...s,
      // The saved batches carry no canary mark: the send's canary says how many lead.
      batches: s.batches.map((b, i) => ({index: b.index, messages: b.messages.map((m) => plannedMessage(m, s)), ...(i < (s.canary?.batches ?? 0) ? {canary: true as const} : {})})),
      unchanged: s.unchanged.map((m) => plannedMessage(m, s)),
    })),
  }
}

/** The previous snapshots a saved plan carries, in the shape renderers take. */
export function previousFromSaved(saved: SavedPlan): Record<string, SendSnapshot | undefined> {
  const out: Record<string, SendSnapshot | undefined> = {}
  for (const [name, snap] of Object.entries(saved.previous)) out[name] = snap ?? undefined
  return out
}

/**
 * Whether `apply`'s single argument is a saved plan rather than a manifest or directory: a file that is not YAML
 * and whose content says it is one. A JSON file that is not a saved plan is reported by parseSavedPlan.
 */
export async function isSavedPlanArgument(args: readonly string[], cwd: string): Promise<boolean> {
  if (args.length !== 1) return false
  const file = args[0]!
  if (/\.ya?ml$/i.test(file)) return false
  let head: string
  try {
    const handle = await open(path.resolve(cwd, file), 'r')
    try {
      const buffer = Buffer.alloc(400)
      const {bytesRead} = await handle.read(buffer, 0, buffer.length, 0)
      head = buffer.subarray(0, bytesRead).toString('utf8')
    } finally {
      await handle.close()
    }
  } catch {
    return false
  }
  return looksLikeSavedPlan(head) || (/\.json$/i.test(file) && head.trimStart().startsWith('{'))
}
