import type {Attributes, Recipient, Send, SuppressionList} from '../manifest/types.js'
import {describeSuppressionHashMode, normaliseSuppressed, suppressionHash, suppressionHashMode, suppressionHashModeOf} from '../keys/suppression.js'
import type {MessageRecord, SendSnapshot, StateData} from '../state/types.js'
import {chooseBatchSize, chunk} from './batch.js'
import {InvalidInputError, type Problem} from '../errors.js'
import {sameHash} from '../keys/hash.js'
import {UNKEYED, type StateHasher} from '../keys/keyed.js'
import {PLAN_FORMAT_VERSION, type Action, type Plan, type PlannedBatch, type PlannedMessage, type PlannedSend, type PlanSummary, type RenamedSendWarning, type SourceCount, type SuppressionCount} from './types.js'

export interface BuildPlanOptions {
  /** Human description of the state (file path or URL without secrets). */
  stateLocation: string
  /** Limit the plan to these send names (like Terraform's -target). Empty or absent means all. */
  targets?: readonly string[]
  /** Hashes and messageKeys: keyed under MCSEND_STATE_KEY, or not (default). */
  hasher?: StateHasher
}

/**
 * The plan: a pure function of the loaded sends and the state. Every recipient gets its deterministic key and
 * an action; the messages to send are cut into requests in manifest order.
 */
export function buildPlan(sends: readonly Send[], state: StateData, options: BuildPlanOptions): Plan {
  const selected = options.targets && options.targets.length > 0 ? sends.filter((s) => options.targets!.includes(s.name)) : sends
  checkSuppressionHashes(selected, options.hasher ?? UNKEYED)
  const planned = selected.map((send) => planSend(send, state.messages, options.hasher ?? UNKEYED))
  const plan: Plan = {
    formatVersion: PLAN_FORMAT_VERSION,
    state: {location: options.stateLocation, lineage: state.lineage, serial: state.serial},
    sends: planned,
    summary: summarise(planned),
  }
  const renamed = findRenamedSends(planned, state, sends)
  if (renamed.length > 0) plan.renamed = renamed
  return plan
}

/**
 * Renaming a send changes every messageKey, so all its recipients would get the email again. Flag a send that was
 * never applied under its name but matches one applied under another name that the manifests no longer declare:
 * same definitionKey and at least one recipient file with the same digest. (A send whose old name is still declared
 * is a copy, such as the next release of a templated manifest, not a rename.)
 */
export function findRenamedSends(sends: readonly PlannedSend[], state: StateData, declared: readonly {name: string}[] = sends): RenamedSendWarning[] {
  const out: RenamedSendWarning[] = []
  const names = new Set(declared.map((s) => s.name))
  const applied = Object.values(state.sends).filter((a) => !names.has(a.name))
  for (const send of sends) {
    if (send.counts.create === 0 || state.sends[send.name] !== undefined) continue
    const digests = new Set(send.sources.map((s) => s.sha256))
    if (digests.size === 0) continue
    const like = applied.find(
      (a) =>
        a.name !== send.name &&
        a.definitionKey === send.definitionKey &&
        a.sources.some((s) => digests.has(s.sha256)) &&
        // The same name template with other values: the next release of the same manifest.
        (send.nameTemplate === undefined || a.nameTemplate !== send.nameTemplate),
    )
    if (like) out.push({send: send.name, appliedAs: like.name, appliedAt: like.appliedAt})
  }
  return out
}

/**
 * The applied snapshot each planned send is compared with in review output: its own, or, for a send whose name
 * comes from variables and that was never applied, the latest applied send of the same name template (the last
 * release), so the diff shows what changed since then.
 */
export function previousSnapshots(sends: readonly PlannedSend[], applied: Readonly<Record<string, SendSnapshot>>): Record<string, SendSnapshot | undefined> {
  const out: Record<string, SendSnapshot | undefined> = {}
  for (const send of sends) {
    let snap = applied[send.name]
    if (snap === undefined && send.nameTemplate !== undefined) {
      for (const a of Object.values(applied)) {
        if (a.nameTemplate === send.nameTemplate && (snap === undefined || a.appliedAt > snap.appliedAt)) snap = a
      }
    }
    out[send.name] = snap
  }
  return out
}

function planSend(send: Send, records: ReadonlyMap<string, MessageRecord>, hasher: StateHasher): PlannedSend {
  const toSend: PlannedMessage[] = []
  const unchanged: PlannedMessage[] = []
  const counts = {create: 0, retry: 0, noop: 0, drift: 0}
  let pending = 0
  let anyAttributes = false
  const derive = hasher.messageKeyDeriver(send.name, send.revision)
  const checkRecords = records.size > 0
  const bySource: SourceCount[] = []
  // Consecutive recipients come from the same source: look the counter up only when the file changes.
  let source: SourceCount | undefined
  const lists = send.suppression ?? []
  const suppressedBy = lists.length > 0 ? suppressionMatcher(lists, hasher) : undefined
  const suppression: SuppressionCount[] = lists.map((l) => ({file: l.file, match: l.match, hashed: l.hashed, scope: l.scope, suppressed: 0, alreadySent: 0}))
  let suppressed = 0
  // The canary is the first recipients of the send that are not suppressed: the seeds (merged first) left after
  // suppression, or the first N of the audience left after it (`first: N` of a smaller audience is all of it). A
  // suppressed recipient never counts: it is never sent, so it cannot be awaited either.
  const canaryLimit = send.canary?.size ?? 0
  let canarySize = 0
  let canaryToSend = 0
  let kept = 0
  const recipients = send.recipients
  for (let i = 0; i < recipients.length; i++) {
    const r = recipients[i]!
    const messageKey = r.messageKey ?? derive(r.contactKey)
    const record = checkRecords ? records.get(messageKey) : undefined
    if (suppressedBy !== undefined) {
      const index = suppressedBy(r)
      if (index >= 0) {
        // Left out before anything else: no batch, no sample, no drift; an earlier send is counted as such.
        const count = suppression[index]!
        count.suppressed++
        if (record?.status === 'accepted') count.alreadySent++
        suppressed++
        continue
      }
    }
    const inCanary = send.canary?.from === 'seeds' ? i < canaryLimit : kept < canaryLimit
    kept++
    if (inCanary) canarySize++
    if (!anyAttributes && r.attributes !== undefined && hasKeys(r.attributes)) anyAttributes = true
    let action: Action = 'create'
    let reason: string | undefined
    if (record) {
      if (record.status === 'accepted') {
        const changed: string[] = []
        if (!sameHash(record.toHash, hasher.hashTo(r.to))) changed.push('to')
        if (!sameHash(record.attributesHash, hasher.hashAttributes(send.attributes, r.attributes))) changed.push('attributes')
        action = changed.length > 0 ? 'drift' : 'noop'
        if (changed.length > 0) reason = `${changed.join(' and ')} changed since it was sent; bump revision to send again`
      } else if (record.status === 'failed') {
        action = 'retry'
        reason = `rejected${record.errorCode === undefined ? '' : ` (${record.errorCode})`}: ${record.errorMessage ?? 'no reason given'}`
      } else {
        action = 'retry'
        pending++
        reason = `pending since ${record.at}: an earlier run was interrupted before Marketing Cloud answered`
      }
    }
    counts[action]++
    if (source?.file !== r.file) source = sourceCount(bySource, r.file, r.file === send.file)
    source.total++
    source[action]++
    const message: PlannedMessage = action === 'create' && reason === undefined ? new RecipientMessage(r, messageKey) : new ExplainedMessage(r, messageKey, action, reason)
    if (action === 'create' || action === 'retry') {
      toSend.push(message)
      if (inCanary) canaryToSend++
    } else unchanged.push(message)
  }
  if (send.canary !== undefined && canarySize === 0 && toSend.length > 0) {
    // Every seed is suppressed: going on would send to everyone with nothing awaited, as if the canary had passed.
    const message = 'every canary recipient is suppressed, so there is nothing to send first and wait for'
    throw new InvalidInputError(
      `send ${send.name}: ${message}`,
      [{file: send.file, line: send.canary.line, column: send.canary.column, path: 'canary', message}],
      'name canary recipients that are not on a suppression list, or remove `canary:` to send without one',
    )
  }
  const batchSize = chooseBatchSize(send.batchSize, anyAttributes)
  // A canary step only when something follows it: its requests first, then the rest cut as usual.
  const withCanary = send.canary !== undefined && canarySize > 0 && toSend.length > canaryToSend
  const leading = withCanary ? chunk(toSend.slice(0, canaryToSend), batchSize) : []
  const rest = withCanary ? chunk(toSend.slice(canaryToSend), batchSize) : chunk(toSend, batchSize)
  const batches: PlannedBatch[] = [
    ...leading.map((messages, i): PlannedBatch => ({index: i + 1, messages, canary: true})),
    ...rest.map((messages, i): PlannedBatch => ({index: leading.length + i + 1, messages})),
  ]
  return {
    name: send.name,
    definitionKey: send.definitionKey,
    revision: send.revision,
    attributes: send.attributes,
    batchSize,
    file: send.file,
    line: send.line,
    sources: send.sources,
    ...(send.nameTemplate === undefined ? {} : {nameTemplate: send.nameTemplate}),
    ...(send.variables === undefined ? {} : {variables: send.variables, variableSources: send.variableSources ?? {}}),
    batches,
    unchanged,
    counts: {...counts, total: send.recipients.length - suppressed, toSend: toSend.length, requests: batches.length},
    bySource,
    pending,
    ...(withCanary
      ? {canary: {from: send.canary!.from, size: canarySize, await: send.canary!.await, timeoutMs: send.canary!.timeoutMs, batches: leading.length, toSend: canaryToSend}}
      : {}),
    ...(lists.length === 0 ? {} : {suppression}),
  }
}

/**
 * A hashed list made another way than this plan hashes (without MCSEND_STATE_KEY, or under another key) would match
 * nobody, and the people on it would get the email: refused at the list's first hash, before anything is planned.
 */
function checkSuppressionHashes(sends: readonly Send[], hasher: StateHasher): void {
  const mode = suppressionHashMode(hasher)
  const problems: Problem[] = []
  const seen = new Set<string>()
  for (const send of sends) {
    for (const l of send.suppression ?? []) {
      if (!l.hashed || seen.has(l.file)) continue
      const first = l.values.values().next()
      const made = l.hashMode ?? (first.done === true ? undefined : {mode: suppressionHashModeOf(first.value), line: undefined})
      if (made === undefined || made.mode === mode) continue
      seen.add(l.file)
      problems.push({
        file: l.file,
        ...(made.line === undefined ? {} : {line: made.line}),
        message: `this list was hashed ${describeSuppressionHashMode(made.mode)}, but the plan runs ${describeSuppressionHashMode(mode)}: it would suppress nobody`,
      })
    }
  }
  if (problems.length === 0) return
  throw new InvalidInputError(
    `${problems.length === 1 ? 'a hashed suppression list was' : `${problems.length} hashed suppression lists were`} hashed with another MCSEND_STATE_KEY (or without one) than the plan runs with`,
    problems,
    're-hash the list with `mcsend suppress hash` under the same MCSEND_STATE_KEY the plan runs with, or run the plan with the key the list was hashed with',
  )
}

/**
 * Which suppression list (index) leaves a recipient out, or -1. Plain lists hold normalised values; hashed ones the
 * hashes of them (keys/suppression.ts), computed per recipient only when such a list exists.
 */
function suppressionMatcher(lists: readonly SuppressionList[], hasher: StateHasher): (r: Recipient) => number {
  const hashed = lists.some((l) => l.hashed)
  return (r) => {
    const to = normaliseSuppressed('to', r.to)
    const toHash = hashed ? suppressionHash(hasher, 'to', r.to) : ''
    const contactHash = hashed ? suppressionHash(hasher, 'contactKey', r.contactKey) : ''
    for (let i = 0; i < lists.length; i++) {
      const l = lists[i]!
      const value = l.match === 'to' ? (l.hashed ? toHash : to) : l.hashed ? contactHash : r.contactKey
      if (l.values.has(value)) return i
    }
    return -1
  }
}

function sourceCount(list: SourceCount[], file: string, inline: boolean): SourceCount {
  let found = list.find((c) => c.file === file)
  if (found === undefined) {
    found = {file, inline, total: 0, create: 0, retry: 0, noop: 0, drift: 0}
    list.push(found)
  }
  return found
}

/**
 * A planned message that reads the recipient's fields through getters instead of copying them. Most messages of a
 * large plan are new (create, no reason): they hold two fields, the recipient and the key; the others
 * (ExplainedMessage) also their action and reason.
 */
class RecipientMessage implements PlannedMessage {
  constructor(
    private readonly recipient: Recipient,
    readonly messageKey: string,
  ) {}

  get action(): Action {
    return 'create'
  }

  get reason(): string | undefined {
    return undefined
  }

  get contactKey(): string {
    return this.recipient.contactKey
  }

  get to(): string {
    return this.recipient.to
  }

  get attributes(): Attributes | undefined {
    return this.recipient.attributes
  }

  get file(): string {
    return this.recipient.file
  }

  get line(): number {
    return this.recipient.line
  }

  toJSON(): Record<string, unknown> {
    return {messageKey: this.messageKey, contactKey: this.contactKey, to: this.to, attributes: this.attributes, action: this.action, reason: this.reason, file: this.file, line: this.line}
  }
}

/** A message to retry, or one not sent (noop, drift), with why. */
class ExplainedMessage extends RecipientMessage {
  constructor(
    recipient: Recipient,
    messageKey: string,
    private readonly kind: Action,
    private readonly why: string | undefined,
  ) {
    super(recipient, messageKey)
  }

  override get action(): Action {
    return this.kind
  }

  override get reason(): string | undefined {
    return this.why
  }
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true
  return false
}

function summarise(sends: readonly PlannedSend[]): PlanSummary {
  const s: PlanSummary = {sends: sends.length, messages: 0, create: 0, retry: 0, noop: 0, drift: 0, toSend: 0, requests: 0, pending: 0}
  for (const send of sends) {
    if (send.suppression !== undefined) s.suppressed = (s.suppressed ?? 0) + send.suppression.reduce((n, c) => n + c.suppressed, 0)
    s.messages += send.counts.total
    s.create += send.counts.create
    s.retry += send.counts.retry
    s.noop += send.counts.noop
    s.drift += send.counts.drift
    s.toSend += send.counts.toSend
    s.requests += send.counts.requests
    s.pending += send.pending
  }
  return s
}
