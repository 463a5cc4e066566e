import {CliError} from '../errors.js'
import {mayStoreInClear, redactAddresses} from '../privacy/index.js'
import {canonicalMeta, canonicalRecord, canonicalSend, metaProblem, recordProblem, redactFreeText, sendProblem} from './serialize.js'
import type {LockOwner, MessageRecord, SendSnapshot, StateData, StateLock, StateMeta, StateStore} from './types.js'

/**
 * The store guard: one contract for every backend. Whatever a store does with its input, it only ever receives
 * records of the right shape, with hashes instead of values (no address, no attribute value in clear) and free
 * text (Marketing Cloud's error and status messages) with any address masked; and the errors it throws reach the
 * user with any address masked too. openStateStore wraps every store in it, so the PostgreSQL store makes the same
 * checks as the file store, and a future backend inherits them.
 */

// The guard's two privacy decisions, kept here so that moving them to a shared detector is one edit.
/** Whether a value that must be a hash, an id or a host holds something that looks like an email address. */
function looksLikeAddress(text: string): boolean {
  return text.includes('@')
}

/** Free text with every address-like token masked. */
function redact(text: string): string {
  return redactFreeText(text)
}

/** A record as the store may keep it, or a TypeError naming the field (never its value). */
export function guardRecord(record: MessageRecord, operation: string): MessageRecord {
  if (typeof record?.messageKey !== 'string' || record.messageKey === '') throw new TypeError(`${operation}: a message record's \`messageKey\` must be a non-empty string`)
  const problem = recordProblem(record)
  if (problem) throw new TypeError(`${operation}: a message record ${problem}`)
  for (const field of ['messageKey', 'toHash', 'attributesHash', 'contactHash', 'requestId'] as const) {
    const value = record[field]
    if (value !== undefined && looksLikeAddress(value)) throw new TypeError(`${operation}: a message record's \`${field}\` holds an email address; the state stores hashes only`)
  }
  const out = canonicalRecord(record)
  if (out.errorMessage !== undefined) out.errorMessage = redact(out.errorMessage)
  if (out.delivery?.statusMessage !== undefined) out.delivery.statusMessage = redact(out.delivery.statusMessage)
  return out
}

function guardSend(snapshot: SendSnapshot, operation: string): SendSnapshot {
  const problem = sendProblem(snapshot)
  if (problem) throw new TypeError(`${operation}: the send snapshot ${problem}`)
  return canonicalSend(withoutAddresses(snapshot))
}

/**
 * The rule of what may be stored in clear (src/privacy): a snapshot value holding an address never reaches a store.
 * apply stores such values as (keyed) hashes already; anything else that gets here (an older state being imported)
 * has the address redacted.
 */
function withoutAddresses(snapshot: SendSnapshot): SendSnapshot {
  return mapSnapshotText(snapshot, (value) => (mayStoreInClear(value) ? value : redactAddresses(value)))
}

/**
 * The snapshot with `f` applied to every text that may hold an address: the definitionKey, shared attribute names
 * and values, the name template, variable names and values, source file names. Numbers and hashes stay.
 */
export function mapSnapshotText(snapshot: SendSnapshot, f: (value: string) => string): SendSnapshot {
  const mapValues = (values: Record<string, unknown>) => {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(values)) out[f(k)] = typeof v === 'string' ? f(v) : v
    return out
  }
  const out: SendSnapshot = {
    ...snapshot,
    definitionKey: f(snapshot.definitionKey),
    attributes: mapValues(snapshot.attributes) as SendSnapshot['attributes'],
    sources: snapshot.sources.map((s) => ({...s, file: f(s.file)})),
  }
  if (snapshot.nameTemplate !== undefined) out.nameTemplate = f(snapshot.nameTemplate)
  if (snapshot.variables !== undefined) out.variables = mapValues(snapshot.variables) as NonNullable<SendSnapshot['variables']>
  return out
}

function guardMeta(meta: StateMeta, operation: string): StateMeta {
  const problem = metaProblem(meta)
  if (problem) throw new TypeError(`${operation}: the state metadata ${problem}`)
  const out = canonicalMeta(meta)
  const texts = [out.keyFingerprint, out.target?.kind === 'marketing-cloud' ? out.target.authHost : undefined, out.target?.kind === 'marketing-cloud' ? out.target.accountId : undefined]
  if (texts.some((t) => t !== undefined && looksLikeAddress(t))) throw new TypeError(`${operation}: the state metadata holds an email address`)
  return out
}

/** An error from a store with any address in its message or hint masked (a driver may quote a key or a value). */
function redactError(error: unknown): unknown {
  if (error instanceof Error && looksLikeAddress(error.message)) error.message = redact(error.message)
  if (error instanceof CliError && error.hint !== undefined && looksLikeAddress(error.hint)) {
    ;(error as {hint?: string}).hint = redact(error.hint)
  }
  return error
}

async function redacted<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    throw redactError(error)
  }
}

class GuardedStore implements StateStore {
  constructor(private readonly inner: StateStore) {}

  get location(): string {
    return this.inner.location
  }

  load(): Promise<StateData> {
    return redacted(() => this.inner.load())
  }

  lock(owner: LockOwner): Promise<StateLock> {
    return redacted(() => this.inner.lock(owner))
  }

  lockInfo(): Promise<{owner: LockOwner; stale: boolean} | undefined> {
    return redacted(() => this.inner.lockInfo())
  }

  checkLock(): Promise<void> {
    return redacted(() => this.inner.checkLock())
  }

  unfolded(): Promise<string | undefined> {
    return redacted(() => this.inner.unfolded())
  }

  unlock(force: boolean): Promise<LockOwner | undefined> {
    return redacted(() => this.inner.unlock(force))
  }

  append(records: MessageRecord[]): Promise<void> {
    return redacted(async () => this.inner.append(records.map((r) => guardRecord(r, 'append'))))
  }

  putSend(snapshot: SendSnapshot): Promise<void> {
    return redacted(async () => this.inner.putSend(guardSend(snapshot, 'putSend')))
  }

  setMeta(meta: StateMeta): Promise<void> {
    return redacted(async () => this.inner.setMeta(guardMeta(meta, 'setMeta')))
  }

  remove(messageKeys: string[]): Promise<number> {
    return redacted(() => this.inner.remove(messageKeys))
  }

  commit(): Promise<void> {
    return redacted(() => this.inner.commit())
  }

  importState(data: StateData): Promise<void> {
    return redacted(async () => {
      const messages = new Map<string, MessageRecord>()
      for (const record of data.messages.values()) messages.set(record.messageKey, guardRecord(record, 'importState'))
      const sends: Record<string, SendSnapshot> = {}
      for (const send of Object.values(data.sends)) sends[send.name] = guardSend(send, 'importState')
      const meta = guardMeta({target: data.target, keyFingerprint: data.keyFingerprint}, 'importState')
      await this.inner.importState({formatVersion: data.formatVersion, lineage: data.lineage, serial: data.serial, sends, messages, ...meta})
    })
  }

  close(): Promise<void> {
    return redacted(() => this.inner.close())
  }
}

/** Wraps a store so that it receives only well-formed, hash-only records and throws only redacted errors. */
export function guardStore(store: StateStore): StateStore {
  return store instanceof GuardedStore ? store : new GuardedStore(store)
}
