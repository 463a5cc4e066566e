/**
 * The state store: what Marketing Cloud accepted, per messageKey. No email address or attribute value is stored
 * in clear (hashes only), so a state file may be committed to git. Backends: the local file store (default)
 * and PostgreSQL (team state). Both implement StateStore.
 */

export type MessageStatus = 'pending' | 'accepted' | 'failed'

/** `other`: an event category mcsend does not know (e.g. EmailBounced); its raw name is in statusMessage. */
export type DeliveryEvent = 'queued' | 'sent' | 'notSent' | 'other'

export interface DeliveryRecord {
  event: DeliveryEvent
  /** Subscriber status code and name for notSent (e.g. 24 ListDetectiveExclusion). */
  statusCode?: number
  statusMessage?: string
  /** UTC ISO time of the event. */
  at?: string
  /** UTC ISO time when mcsend asked. */
  checkedAt: string
}

export interface MessageRecord {
  messageKey: string
  /** The send's name (manifest `name`). */
  send: string
  revision: number
  status: MessageStatus
  /** UTC ISO time of the last status change. */
  at: string
  requestId?: string
  errorCode?: number
  errorMessage?: string
  /** Hashes (see keys/hash.ts) used to show drift; never the values themselves. */
  toHash: string
  attributesHash: string
  /** Hash of the contactKey, so `state forget --contact-key` can find records without storing the key. */
  contactHash: string
  delivery?: DeliveryRecord
}

/** The non-personal snapshot of a send as last applied (for diffs in review output). */
export interface SendSnapshot {
  name: string
  definitionKey: string
  revision: number
  /** Shared (request-level) attributes: not personal data. */
  attributes: Record<string, string | number | boolean>
  batchSize: number
  sources: {file: string; sha256: string}[]
  appliedAt: string
  /** The name as written when it uses variables (`release-${{ vars.version_slug }}`). */
  nameTemplate?: string
  /** The resolved values of the send's variables (non-personal, like the shared attributes). */
  variables?: Record<string, string | number | boolean>
}

/**
 * The Marketing Cloud a state belongs to: the built-in sandbox, or an account reached through an auth host. A
 * state records it so that it is never used against another one. Never holds an address or a secret.
 */
export type StateTarget = {kind: 'sandbox'} | {kind: 'marketing-cloud'; authHost: string; accountId?: string}

/** Metadata of a state besides its records; a field left out of setMeta() keeps its value. */
export interface StateMeta {
  target?: StateTarget
  /** Fingerprint of the key the state's hashes are keyed with (never the key itself). */
  keyFingerprint?: string
}

export interface StateData {
  /**
   * The format of the state file it was read from (the file store writes 2 and rewrites a 1 the next time it takes
   * the lock); other stores say 1. The records look the same whatever it is.
   */
  formatVersion: 1 | 2
  /** Random id fixed when the state is created; a saved plan binds to it. */
  lineage: string
  /** Increments with every committed change. */
  serial: number
  sends: Record<string, SendSnapshot>
  messages: Map<string, MessageRecord>
  /** The Marketing Cloud this state was applied to; absent: unknown (a state written before it was recorded). */
  target?: StateTarget
  /** Fingerprint of the state key; absent: unknown. */
  keyFingerprint?: string
}

export interface LockOwner {
  /** What holds the lock, e.g. `apply`. */
  operation: string
  /** user@host or CI job name. */
  who: string
  pid: number
  host: string
  /** UTC ISO time. */
  since: string
}

export interface StateLock {
  release(): Promise<void>
}

export interface StateStore {
  /** Human description for messages, e.g. `.mcsend/state.json`. */
  readonly location: string
  /** Reads the current state (folding a leftover journal after a crash). An absent state is an empty one. */
  load(): Promise<StateData>
  /** Takes the exclusive lock, or throws StateLockedError naming the holder. */
  lock(owner: LockOwner): Promise<StateLock>
  /** Who holds the lock, if anyone, and whether that holder looks dead (stale). */
  lockInfo(): Promise<{owner: LockOwner; stale: boolean} | undefined>
  /**
   * Fencing: resolves while this store still holds the lock it took, throws a StateError once it does not (another
   * run took it over). Call before every batch sent. Resolves at once when no lock is held.
   */
  checkLock(): Promise<void>
  /**
   * For read-only commands: a sentence saying that the loaded view holds results not yet written into the state
   * (a run that did not finish) and which command writes them; undefined when there are none.
   */
  unfolded(): Promise<string | undefined>
  /** Removes the lock; refuses a live one unless force. */
  unlock(force: boolean): Promise<LockOwner | undefined>
  /**
   * Durably records records (upsert by messageKey). Costs O(records), not O(state): one journal append and fsync.
   * Call with `pending` records before a batch is posted and with the outcomes after.
   */
  append(records: MessageRecord[]): Promise<void>
  /** Records the non-personal snapshot of an applied send. */
  putSend(snapshot: SendSnapshot): Promise<void>
  /**
   * Records the state's metadata (each field given replaces the stored one; a field left out is kept). Durable
   * like putSend; commit() folds it and bumps the serial when it changed something.
   */
  setMeta(meta: StateMeta): Promise<void>
  /** Forgets records (state rm / forget). Returns how many existed. */
  remove(messageKeys: string[]): Promise<number>
  /** Folds the journal into the snapshot atomically and bumps the serial if anything changed. */
  commit(): Promise<void>
  /** Replaces the whole state with `data`, lineage and serial included (`state push` / `state pull`). */
  importState(data: StateData): Promise<void>
  close(): Promise<void>
}
