import type {Attributes, CanaryAwait, SourceDigest} from '../manifest/types.js'

/**
 * What happens to one message:
 * - create: never sent; will be sent.
 * - retry: rejected before, or left `pending` by an interrupted run; will be sent again with the same key.
 * - noop: accepted before; nothing to do.
 * - drift: accepted before, but `to` or the attributes changed since; shown, not re-sent (bump `revision` to resend).
 */
export type Action = 'create' | 'retry' | 'noop' | 'drift'

/** One message of a plan. Read-only: the planner may back it with the recipient it came from. */
export interface PlannedMessage {
  readonly messageKey: string
  readonly contactKey: string
  readonly to: string
  /** Per-recipient attributes, if any (shared ones live on the send). */
  readonly attributes?: Attributes
  readonly action: Action
  /** For retry and drift: why (e.g. `rejected (109106): MCMS_UTM_Validation_MissingRequiredField_to: …`). */
  readonly reason?: string
  /** Where the recipient was declared. */
  readonly file: string
  readonly line: number
}

export interface PlannedBatch {
  /** 1-based, per send. */
  index: number
  messages: PlannedMessage[]
  /** A request of the canary step: sent, and awaited, before the send's other requests. */
  canary?: true
}

/**
 * The canary step of a send: its first `size` recipients are sent first (the leading `batches` requests) and apply
 * waits until each reached `await` through the status endpoint, at most `timeoutMs`, before the rest. Present only
 * when something beyond the canary is to be sent. The canary's messages already accepted (a re-run) are awaited
 * again, not re-sent: they are the first `size - toSend` entries of `unchanged` (both lists keep manifest order).
 */
export interface PlannedCanary {
  /** seeds: the canary's own recipients; first: the first recipients of the audience. */
  from: 'seeds' | 'first'
  size: number
  await: CanaryAwait
  timeoutMs: number
  /** How many leading requests of `batches` are the canary. */
  batches: number
  /** Canary messages sent in this run (create and retry); the others were accepted before. */
  toSend: number
}

export interface ActionCounts {
  create: number
  retry: number
  noop: number
  drift: number
}

/** How many of a send's recipients one source gave, and what happens to them (for review output). */
export interface SourceCount extends ActionCounts {
  /** The file the recipients were read from (display path); for inline recipients, the manifest. */
  file: string
  /** Declared inline in the manifest, not read from a CSV, JSON or NDJSON file. */
  inline: boolean
  total: number
}

/** What one suppression source left out of a send's plan (counts only: the values are never shown). */
export interface SuppressionCount {
  /** The suppression file (display path). */
  file: string
  match: 'contactKey' | 'to'
  hashed: boolean
  /** Named by the project file (every send) or by the send. */
  scope: 'project' | 'send'
  /** Recipients of this send it left out (one listed by several sources counts for the first). */
  suppressed: number
  /** Of those, how many the state shows as sent before they were suppressed: shown as such, never as drift. */
  alreadySent: number
}

export interface PlannedSend {
  name: string
  definitionKey: string
  revision: number
  attributes: Attributes
  batchSize: number
  file: string
  line: number
  sources: SourceDigest[]
  /** The name as written when it uses variables (see Send.nameTemplate). */
  nameTemplate?: string
  /** Resolved values of the send's variables, by name; absent when it declares none. */
  variables?: Attributes
  /** Where each variable's value came from (`default`, `--var`, `MCSEND_VAR_NAME`, a file). */
  variableSources?: Record<string, string>
  /** Messages to send (create and retry), in manifest order, cut into requests. */
  batches: PlannedBatch[]
  /** Messages not sent (noop and drift), in manifest order. */
  unchanged: PlannedMessage[]
  counts: ActionCounts & {total: number; toSend: number; requests: number}
  /** The recipients per source, in manifest order (absent in plans saved before it existed). */
  bySource?: SourceCount[]
  /** Keys of this send left `pending` by an interrupted run (a subset of the retries). */
  pending: number
  /** The canary step, when the manifest declares one and something beyond it is to be sent. */
  canary?: PlannedCanary
  /** Per suppression source, what it left out; absent when the send has none. Suppressed recipients are in no batch. */
  suppression?: SuppressionCount[]
}

export interface PlanSummary extends ActionCounts {
  /** Recipients left out by suppression sources; absent when no send has any. */
  suppressed?: number
  sends: number
  messages: number
  toSend: number
  requests: number
  pending: number
}

/**
 * A send never applied under its name that looks like one applied under another name (same definitionKey and a
 * recipient file with the same digest): if it was renamed, every recipient would get the email again.
 */
export interface RenamedSendWarning {
  send: string
  appliedAs: string
  appliedAt: string
}

/** The environment of the project file a plan was made for (mcsend.yaml, `--env`). */
export interface PlanEnvironment {
  name: string
  /** The tenant subdomain, or the host of the auth URL. */
  tenant?: string
  /** The business unit MID. */
  accountId?: string
  protected: boolean
}

export interface Plan {
  formatVersion: 1
  /** The environment, when the project file chose one. */
  environment?: PlanEnvironment
  /** The state the plan was computed against. */
  state: {location: string; lineage: string; serial: number}
  sends: PlannedSend[]
  summary: PlanSummary
  /** Possible renames (see RenamedSendWarning); absent or empty when there are none. */
  renamed?: RenamedSendWarning[]
}

export const PLAN_FORMAT_VERSION = 1 as const
