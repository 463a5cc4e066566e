import type {DeliveryRecord, MessageRecord, MessageStatus, SendSnapshot, StateData, StateMeta, StateTarget} from './types.js'
import {messageKeyPrefix} from '../keys/message-key.js'

/** The snapshot format this build writes (schemas/state.schema.json); it reads format 1 as well. */
export const STATE_FORMAT_VERSION = 2

const STATUSES: ReadonlySet<string> = new Set<MessageStatus>(['pending', 'accepted', 'failed'])
const EVENTS: ReadonlySet<string> = new Set(['queued', 'sent', 'notSent', 'other'])
/** Hashes are short base64/hex digests; anything else (an address, a space, an `@`) is refused. */
const HASH_PATTERN = /^[A-Za-z0-9_\-+/=:.]{1,128}$/
/** Whitespace runs, kept by split() so that redacted text keeps its spacing. */
const WHITESPACE_RUNS = /(\s+)/

export function emptyState(): StateData {
  return {formatVersion: STATE_FORMAT_VERSION, lineage: '', serial: 0, sends: {}, messages: new Map()}
}

/**
 * Removes anything that could be an email address from free text before it is stored: every whitespace-separated
 * token holding an `@`. Split, not a global `\S*@\S*` pattern, which rescans a long token from each of its
 * characters (quadratic on hostile text).
 */
export function redactFreeText(text: string): string {
  if (!text.includes('@')) return text
  return text
    .split(WHITESPACE_RUNS)
    .map((part) => (part.includes('@') ? '[redacted]' : part))
    .join('')
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value)
}

const HASH_FIELDS = ['toHash', 'attributesHash', 'contactHash'] as const

/**
 * Describes what is wrong with a message record, or returns undefined if it is well formed. `strictHashes` checks
 * the hash fields' characters (for records from callers); loading a large state only checks their type.
 */
export function recordProblem(value: unknown, strictHashes = true): string | undefined {
  if (!isObject(value)) return 'is not an object'
  if (typeof value.send !== 'string' || value.send === '') return '`send` must be a non-empty string'
  if (!isInteger(value.revision) || value.revision < 1) return '`revision` must be a positive integer'
  if (typeof value.status !== 'string' || !STATUSES.has(value.status)) return '`status` must be pending, accepted or failed'
  if (typeof value.at !== 'string') return '`at` must be an ISO time string'
  if (value.requestId !== undefined && typeof value.requestId !== 'string') return '`requestId` must be a string'
  if (value.errorCode !== undefined && !isInteger(value.errorCode)) return '`errorCode` must be an integer'
  if (value.errorMessage !== undefined && typeof value.errorMessage !== 'string') return '`errorMessage` must be a string'
  for (const field of HASH_FIELDS) {
    const hash = value[field]
    if (typeof hash !== 'string' || (strictHashes && !HASH_PATTERN.test(hash))) return `\`${field}\` must be a hash (letters, digits, _-+/=:.)`
  }
  if (value.delivery !== undefined) {
    const d = value.delivery
    if (!isObject(d)) return '`delivery` must be an object'
    if (typeof d.event !== 'string' || !EVENTS.has(d.event)) return '`delivery.event` must be queued, sent, notSent or other'
    if (typeof d.checkedAt !== 'string') return '`delivery.checkedAt` must be an ISO time string'
    if (d.statusCode !== undefined && !isInteger(d.statusCode)) return '`delivery.statusCode` must be an integer'
    if (d.statusMessage !== undefined && typeof d.statusMessage !== 'string') return '`delivery.statusMessage` must be a string'
    if (d.at !== undefined && typeof d.at !== 'string') return '`delivery.at` must be an ISO time string'
  }
  return undefined
}

export function sendProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'is not an object'
  if (typeof value.name !== 'string') return '`name` must be a string'
  if (typeof value.definitionKey !== 'string') return '`definitionKey` must be a string'
  if (!isInteger(value.revision)) return '`revision` must be an integer'
  if (!isObject(value.attributes)) return '`attributes` must be an object'
  for (const v of Object.values(value.attributes)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return '`attributes` values must be strings, numbers or booleans'
  }
  if (!isInteger(value.batchSize)) return '`batchSize` must be an integer'
  if (!Array.isArray(value.sources) || !value.sources.every((s) => isObject(s) && typeof s.file === 'string' && typeof s.sha256 === 'string')) {
    return '`sources` must be a list of {file, sha256}'
  }
  if (typeof value.appliedAt !== 'string') return '`appliedAt` must be an ISO time string'
  if (value.nameTemplate !== undefined && typeof value.nameTemplate !== 'string') return '`nameTemplate` must be a string'
  if (value.variables !== undefined) {
    if (!isObject(value.variables)) return '`variables` must be an object'
    for (const v of Object.values(value.variables)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return '`variables` values must be strings, numbers or booleans'
    }
  }
  return undefined
}

/** A key fingerprint: the same characters as a hash (e.g. `sha256:…`), never a key or an address. */
const FINGERPRINT_PATTERN = HASH_PATTERN
/** An auth host or account id: printable, no spaces, and no `@` (so no address and no user:password@host). */
const TARGET_TEXT = /^[^\s@]{1,253}$/

/** What is wrong with a state target, or undefined. It is data to the store: only its shape and `@`-freedom are checked. */
export function targetProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'must be an object'
  if (value.kind === 'sandbox') {
    if (Object.keys(value).some((k) => k !== 'kind')) return 'of kind sandbox takes no other field'
    return undefined
  }
  if (value.kind !== 'marketing-cloud') return '`kind` must be sandbox or marketing-cloud'
  if (Object.keys(value).some((k) => k !== 'kind' && k !== 'authHost' && k !== 'accountId')) return 'may hold only kind, authHost and accountId'
  if (typeof value.authHost !== 'string' || !TARGET_TEXT.test(value.authHost)) return '`authHost` must be a host name without spaces or `@`'
  if (value.accountId !== undefined && (typeof value.accountId !== 'string' || !TARGET_TEXT.test(value.accountId))) {
    return '`accountId` must be a string without spaces or `@`'
  }
  return undefined
}

/** What is wrong with state metadata given to setMeta, or undefined. */
export function metaProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'is not an object'
  for (const key of Object.keys(value)) if (key !== 'target' && key !== 'keyFingerprint') return `has an unknown field \`${key}\``
  if (value.target !== undefined) {
    const problem = targetProblem(value.target)
    if (problem) return `\`target\` ${problem}`
  }
  if (value.keyFingerprint !== undefined && (typeof value.keyFingerprint !== 'string' || !FINGERPRINT_PATTERN.test(value.keyFingerprint))) {
    return '`keyFingerprint` must be a fingerprint (letters, digits, _-+/=:.)'
  }
  return undefined
}

export function canonicalTarget(t: StateTarget): StateTarget {
  if (t.kind === 'sandbox') return {kind: 'sandbox'}
  return t.accountId === undefined ? {kind: t.kind, authHost: t.authHost} : {kind: t.kind, authHost: t.authHost, accountId: t.accountId}
}

export function targetsEqual(a: StateTarget | undefined, b: StateTarget | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return JSON.stringify(canonicalTarget(a)) === JSON.stringify(canonicalTarget(b))
}

/** The metadata fields given, canonical; undefined fields are left out (they mean "keep"). */
export function canonicalMeta(meta: StateMeta): StateMeta {
  const out: StateMeta = {}
  if (meta.target !== undefined) out.target = canonicalTarget(meta.target)
  if (meta.keyFingerprint !== undefined) out.keyFingerprint = meta.keyFingerprint
  return out
}

/** Whether setting `meta` would change anything in `data`. */
export function metaDiffers(data: StateMeta, meta: StateMeta): boolean {
  return (meta.target !== undefined && !targetsEqual(data.target, meta.target)) || (meta.keyFingerprint !== undefined && data.keyFingerprint !== meta.keyFingerprint)
}

/** Applies metadata to a state; true if it changed anything. */
export function applyMeta(data: StateData, meta: StateMeta): boolean {
  let changed = false
  if (meta.target !== undefined && !targetsEqual(data.target, meta.target)) {
    data.target = canonicalTarget(meta.target)
    changed = true
  }
  if (meta.keyFingerprint !== undefined && data.keyFingerprint !== meta.keyFingerprint) {
    data.keyFingerprint = meta.keyFingerprint
    changed = true
  }
  return changed
}

/** A fresh record in canonical field order; unknown fields are dropped. (Redaction is the guard's, see guard.ts.) */
export function canonicalRecord(r: MessageRecord): MessageRecord {
  // The two shapes of nearly every record, each made whole by one literal: adding a field to a finished object
  // moves it to a separate property array, one more object per record (a million at the end of a large apply).
  if (r.errorCode === undefined && r.errorMessage === undefined && r.delivery === undefined) {
    if (r.requestId === undefined) {
      return {messageKey: r.messageKey, send: r.send, revision: r.revision, status: r.status, at: r.at, toHash: r.toHash, attributesHash: r.attributesHash, contactHash: r.contactHash}
    }
    return {
      messageKey: r.messageKey,
      send: r.send,
      revision: r.revision,
      status: r.status,
      at: r.at,
      toHash: r.toHash,
      attributesHash: r.attributesHash,
      contactHash: r.contactHash,
      requestId: r.requestId,
    }
  }
  const out: MessageRecord = {
    messageKey: r.messageKey,
    send: r.send,
    revision: r.revision,
    status: r.status,
    at: r.at,
    toHash: r.toHash,
    attributesHash: r.attributesHash,
    contactHash: r.contactHash,
  }
  if (r.requestId !== undefined) out.requestId = r.requestId
  if (r.errorCode !== undefined) out.errorCode = r.errorCode
  if (r.errorMessage !== undefined) out.errorMessage = r.errorMessage
  if (r.delivery !== undefined) {
    const d: DeliveryRecord = {event: r.delivery.event, checkedAt: r.delivery.checkedAt}
    if (r.delivery.statusCode !== undefined) d.statusCode = r.delivery.statusCode
    if (r.delivery.statusMessage !== undefined) d.statusMessage = r.delivery.statusMessage
    if (r.delivery.at !== undefined) d.at = r.delivery.at
    out.delivery = d
  }
  return out
}

export function canonicalSend(s: SendSnapshot): SendSnapshot {
  const sorted = (values: SendSnapshot['attributes']): SendSnapshot['attributes'] => {
    const out: SendSnapshot['attributes'] = {}
    for (const key of Object.keys(values).sort()) out[key] = values[key] as string | number | boolean
    return out
  }
  const snapshot: SendSnapshot = {
    name: s.name,
    definitionKey: s.definitionKey,
    revision: s.revision,
    attributes: sorted(s.attributes),
    batchSize: s.batchSize,
    sources: s.sources.map((x) => ({file: x.file, sha256: x.sha256})),
    appliedAt: s.appliedAt,
  }
  if (s.nameTemplate !== undefined) snapshot.nameTemplate = s.nameTemplate
  if (s.variables !== undefined) snapshot.variables = sorted(s.variables)
  return snapshot
}

function deliveryEqual(a: DeliveryRecord | undefined, b: DeliveryRecord | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return a.event === b.event && a.statusCode === b.statusCode && a.statusMessage === b.statusMessage && a.at === b.at && a.checkedAt === b.checkedAt
}

export function recordsEqual(a: MessageRecord, b: MessageRecord): boolean {
  return (
    a.status === b.status &&
    a.at === b.at &&
    a.send === b.send &&
    a.revision === b.revision &&
    a.requestId === b.requestId &&
    a.errorCode === b.errorCode &&
    a.errorMessage === b.errorMessage &&
    a.toHash === b.toHash &&
    a.attributesHash === b.attributesHash &&
    a.contactHash === b.contactHash &&
    deliveryEqual(a.delivery, b.delivery)
  )
}

export function sendsEqual(a: SendSnapshot, b: SendSnapshot): boolean {
  return JSON.stringify(canonicalSend(a)) === JSON.stringify(canonicalSend(b))
}

/** Characters that JSON.stringify would escape (control characters, quote, backslash, any surrogate). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/** JSON string literal; skips JSON.stringify for the common plain strings (hashes, times, names), 1M times a commit. */
function q(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`
}

/** One record as compact JSON in canonical field order; `withKey` puts the messageKey first (journal lines). */
export function recordJson(r: MessageRecord, withKey: boolean): string {
  let s = withKey ? `{"messageKey":${q(r.messageKey)},"send":` : '{"send":'
  s += `${q(r.send)},"revision":${r.revision},"status":${q(r.status)},"at":${q(r.at)}`
  if (r.requestId !== undefined) s += `,"requestId":${q(r.requestId)}`
  if (r.errorCode !== undefined) s += `,"errorCode":${r.errorCode}`
  if (r.errorMessage !== undefined) s += `,"errorMessage":${q(r.errorMessage)}`
  s += `,"toHash":${q(r.toHash)},"attributesHash":${q(r.attributesHash)},"contactHash":${q(r.contactHash)}`
  if (r.delivery !== undefined) {
    const d = r.delivery
    s += `,"delivery":{"event":${q(d.event)}`
    if (d.statusCode !== undefined) s += `,"statusCode":${d.statusCode}`
    if (d.statusMessage !== undefined) s += `,"statusMessage":${q(d.statusMessage)}`
    if (d.at !== undefined) s += `,"at":${q(d.at)}`
    s += `,"checkedAt":${q(d.checkedAt)}}`
  }
  return `${s}}`
}

export interface SnapshotMeta {
  lineage: string
  serial: number
  toolVersion?: string
  updatedAt: string
  target?: StateTarget
  keyFingerprint?: string
}

/** The length of a hash in a compact entry: 66 bits of base64url, what keys/hash.ts computes (see storedHash). */
export const COMPACT_HASH_LENGTH = 11
const COMPACT_HASHES = 3 * COMPACT_HASH_LENGTH
const BASE64URL_CHAR = /^[A-Za-z0-9_-]+$/

/**
 * A hash as format 2 stores it. mcsend computes 11-character (66-bit) hashes; states written before hold 22-character
 * ones, whose first 11 characters are the same bits: they are cut to them, and compare equal (see keys/hash.ts
 * sameHash). Anything else (a hash of another length) is kept as it is.
 */
export function storedHash(hash: string): string {
  return hash.length === 2 * COMPACT_HASH_LENGTH && BASE64URL_CHAR.test(hash) ? hash.slice(0, COMPACT_HASH_LENGTH) : hash
}

function compactHash(hash: string): string | undefined {
  const h = storedHash(hash)
  return h.length === COMPACT_HASH_LENGTH && BASE64URL_CHAR.test(h) ? h : undefined
}


/** What a batch's records share: one group of a format 2 snapshot. */
type GroupHead = Pick<MessageRecord, 'send' | 'revision' | 'status' | 'at' | 'requestId' | 'errorCode' | 'errorMessage'>

function groupKey(r: MessageRecord): string {
  const texts = [r.send, r.at, r.status, r.requestId ?? '', r.errorMessage ?? '']
  // Fields holding a separator (never seen in practice) get a JSON key, so two different heads never share one.
  if (texts.some((t) => t.includes('\u0000') || t.includes('\u0001'))) {
    return `\u0002${JSON.stringify([r.send, r.revision, r.at, r.status, r.requestId ?? null, r.errorCode ?? null, r.errorMessage ?? null])}`
  }
  const parts = [r.send, String(r.revision), r.at, r.status, r.requestId ?? '\u0001', r.errorCode === undefined ? '\u0001' : String(r.errorCode), r.errorMessage ?? '\u0001']
  return parts.join('\u0000')
}

function sameHead(a: GroupHead, b: GroupHead): boolean {
  return (
    a.at === b.at &&
    a.send === b.send &&
    a.revision === b.revision &&
    a.status === b.status &&
    a.requestId === b.requestId &&
    a.errorCode === b.errorCode &&
    a.errorMessage === b.errorMessage
  )
}

/** Groups with the same time compared one by one before they are keyed by text (see groupRecords). */
const GROUPS_PER_TIME_SCANNED = 16

/**
 * The records grouped by what they share (their GroupHead). Looked up by time first: a batch's records share one
 * `at` string, so most records cost one Map lookup of a string whose hash is already known and one comparison,
 * where a text key per record made a new string for each (a million of them, at the end of a run, when the heap is
 * at its largest). A time shared by many different heads (rejections with different messages) falls back to keys.
 */
function groupRecords(messages: Iterable<MessageRecord>): MessageRecord[][] {
  const byTime = new Map<string, {groups: MessageRecord[][]; byKey?: Map<string, MessageRecord[]>}>()
  const all: MessageRecord[][] = []
  for (const r of messages) {
    const bucket = byTime.get(r.at)
    if (bucket === undefined) {
      const group = [r]
      all.push(group)
      byTime.set(r.at, {groups: [group]})
      continue
    }
    if (bucket.byKey === undefined) {
      let found = false
      for (const group of bucket.groups) {
        if (sameHead(group[0] as MessageRecord, r)) {
          group.push(r)
          found = true
          break
        }
      }
      if (found) continue
      if (bucket.groups.length < GROUPS_PER_TIME_SCANNED) {
        const fresh = [r]
        all.push(fresh)
        bucket.groups.push(fresh)
        continue
      }
      bucket.byKey = new Map(bucket.groups.map((g) => [groupKey(g[0] as MessageRecord), g]))
    }
    const key = groupKey(r)
    const group = bucket.byKey.get(key)
    if (group !== undefined) group.push(r)
    else {
      const fresh = [r]
      all.push(fresh)
      bucket.byKey.set(key, fresh)
    }
  }
  return all
}

function compareText(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0
  if (a === undefined) return -1
  if (b === undefined) return 1
  return a < b ? -1 : 1
}

/** Groups in file order: by send and revision, then by time (so an apply's groups come last), then the rest. */
function compareHeads(a: GroupHead, b: GroupHead): number {
  return (
    compareText(a.send, b.send) ||
    a.revision - b.revision ||
    compareText(a.at, b.at) ||
    compareText(a.status, b.status) ||
    compareText(a.requestId, b.requestId) ||
    (a.errorCode ?? -Infinity) - (b.errorCode ?? -Infinity) ||
    compareText(a.errorMessage, b.errorMessage)
  )
}

function headJson(h: GroupHead): string {
  let s = `{"send":${q(h.send)},"revision":${h.revision},"status":${q(h.status)},"at":${q(h.at)}`
  if (h.requestId !== undefined) s += `,"requestId":${q(h.requestId)}`
  if (h.errorCode !== undefined) s += `,"errorCode":${h.errorCode}`
  if (h.errorMessage !== undefined) s += `,"errorMessage":${q(h.errorMessage)}`
  return s
}

function deliveryJson(d: DeliveryRecord): string {
  let s = `{"event":${q(d.event)}`
  if (d.statusCode !== undefined) s += `,"statusCode":${d.statusCode}`
  if (d.statusMessage !== undefined) s += `,"statusMessage":${q(d.statusMessage)}`
  if (d.at !== undefined) s += `,"at":${q(d.at)}`
  return `${s},"checkedAt":${q(d.checkedAt)}}`
}

/**
 * One record of a group: compact, a string of its three hashes (11 characters each: to, attributes, contact) and
 * the rest of its key after the group's prefix; with a delivery status, `{"m": compact, "delivery": …}`; a record
 * that does not fit (a key of its own, a hash of another length) in full: `{"messageKey", "toHash", …}`.
 */
function entryJson(r: MessageRecord, prefix: string): string {
  const to = compactHash(r.toHash)
  const attributes = compactHash(r.attributesHash)
  const contact = compactHash(r.contactHash)
  if (to !== undefined && attributes !== undefined && contact !== undefined && r.messageKey.length > prefix.length && r.messageKey.startsWith(prefix)) {
    const compact = q(to + attributes + contact + r.messageKey.slice(prefix.length))
    return r.delivery === undefined ? compact : `{"m":${compact},"delivery":${deliveryJson(r.delivery)}}`
  }
  let s = `{"messageKey":${q(r.messageKey)},"toHash":${q(storedHash(r.toHash))},"attributesHash":${q(storedHash(r.attributesHash))},"contactHash":${q(storedHash(r.contactHash))}`
  if (r.delivery !== undefined) s += `,"delivery":${deliveryJson(r.delivery)}`
  return `${s}}`
}

/**
 * The snapshot text (format 2), in pieces: a pretty-printed header and sends, then the records grouped per batch.
 * A group line holds what its records share (send, revision, status, time, request id, error) and each of its
 * records is one line of about 90 bytes below it, sorted by key. Groups are ordered by send, revision and time, so
 * an apply adds its groups at the end of its send, and a committed state diffs as a small insertion.
 * `SnapshotLineReader` reads this layout line by line without holding the whole text.
 */
export function* snapshotPieces(meta: SnapshotMeta, sends: Record<string, SendSnapshot>, messages: Map<string, MessageRecord>): Generator<string> {
  yield `{\n  "formatVersion": ${STATE_FORMAT_VERSION},\n  "lineage": ${q(meta.lineage)},\n  "serial": ${meta.serial},\n`
  if (meta.toolVersion !== undefined) yield `  "toolVersion": ${q(meta.toolVersion)},\n`
  yield `  "updatedAt": ${q(meta.updatedAt)},\n`
  if (meta.target !== undefined) yield `  "target": ${JSON.stringify(canonicalTarget(meta.target))},\n`
  if (meta.keyFingerprint !== undefined) yield `  "keyFingerprint": ${q(meta.keyFingerprint)},\n`
  const sortedSends: Record<string, SendSnapshot> = {}
  for (const name of Object.keys(sends).sort()) sortedSends[name] = canonicalSend(sends[name] as SendSnapshot)
  yield `  "sends": ${JSON.stringify(sortedSends, null, 2).replace(/\n/g, '\n  ')},\n`
  if (messages.size === 0) {
    yield '  "batches": []\n}\n'
    return
  }
  const ordered = groupRecords(messages.values()).sort((a, b) => compareHeads(a[0] as GroupHead, b[0] as GroupHead))
  yield '  "batches": [\n'
  let out: string[] = []
  for (let g = 0; g < ordered.length; g++) {
    const records = (ordered[g] as MessageRecord[]).sort((a, b) => (a.messageKey < b.messageKey ? -1 : a.messageKey > b.messageKey ? 1 : 0))
    const head = records[0] as MessageRecord
    const prefix = messageKeyPrefix(head.send, head.revision)
    out.push(`    ${headJson(head)},"keys":[\n`)
    const last = records.length - 1
    for (let i = 0; i <= last; i++) {
      out.push(`      ${entryJson(records[i] as MessageRecord, prefix)}${i === last ? '\n' : ',\n'}`)
      // Joined in pieces of a thousand lines: one generator step per record would cost more than the records.
      if (out.length >= 1000) {
        yield out.join('')
        out = []
      }
    }
    out.push(g === ordered.length - 1 ? '    ]}\n' : '    ]},\n')
  }
  yield `${out.join('')}  ]\n}\n`
}

/** A problem in a stored state file; the caller wraps it with the path and a hint. */
export class SnapshotFormatError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly newerFormat?: {formatVersion: number; toolVersion?: string},
  ) {
    super(message)
    this.name = 'SnapshotFormatError'
  }
}

/** Keys shown in messages: a messageKey chosen by a user might hold an address, so mask around any `@`. */
function displayKey(key: string): string {
  return key.length > 60 ? `${redactFreeText(key.slice(0, 57))}...` : redactFreeText(key)
}

type SnapshotHeader = {formatVersion: 1 | 2; lineage: string; serial: number; sends: Record<string, SendSnapshot>} & StateMeta

function checkHeader(doc: unknown): SnapshotHeader {
  if (!isObject(doc)) throw new SnapshotFormatError('the document is not a JSON object')
  const version = doc.formatVersion
  if (!isInteger(version)) throw new SnapshotFormatError('`formatVersion` is missing; this is not an mcsend state file')
  if (version > STATE_FORMAT_VERSION) {
    const toolVersion = typeof doc.toolVersion === 'string' ? doc.toolVersion : undefined
    throw new SnapshotFormatError(`it has format version ${version}`, undefined, {formatVersion: version, toolVersion})
  }
  if (version !== 1 && version !== 2) throw new SnapshotFormatError(`unknown format version ${version}`)
  if (typeof doc.lineage !== 'string') throw new SnapshotFormatError('`lineage` must be a string')
  if (!isInteger(doc.serial) || doc.serial < 0) throw new SnapshotFormatError('`serial` must be a non-negative integer')
  if (!isObject(doc.sends)) throw new SnapshotFormatError('`sends` must be an object')
  const sends: Record<string, SendSnapshot> = {}
  for (const [name, send] of Object.entries(doc.sends)) {
    const problem = sendProblem(send)
    if (problem) throw new SnapshotFormatError(`send "${name}": ${problem}`)
    sends[name] = send as SendSnapshot
  }
  const header: SnapshotHeader = {formatVersion: version, lineage: doc.lineage, serial: doc.serial, sends}
  // Absent in files written before they were recorded: unknown.
  if (doc.target !== undefined) {
    const problem = targetProblem(doc.target)
    if (problem) throw new SnapshotFormatError(`\`target\` ${problem}`)
    header.target = canonicalTarget(doc.target as StateTarget)
  }
  if (doc.keyFingerprint !== undefined) {
    if (typeof doc.keyFingerprint !== 'string' || !FINGERPRINT_PATTERN.test(doc.keyFingerprint)) {
      throw new SnapshotFormatError('`keyFingerprint` must be a fingerprint (letters, digits, _-+/=:.)')
    }
    header.keyFingerprint = doc.keyFingerprint
  }
  return header
}

/**
 * Shares repeated small strings (send name, status, a batch's time and request id) between records: a million
 * records otherwise hold a million copies of each. Bounded, so distinct values cannot make it grow without limit.
 */
class Interner {
  private readonly seen = new Map<string, string>()
  get(value: string): string {
    const known = this.seen.get(value)
    if (known !== undefined) return known
    if (this.seen.size >= 4096) this.seen.clear()
    this.seen.set(value, value)
    return value
  }
}

/** A record read from a state file, checked and rebuilt in canonical shape with shared strings. */
function loadedRecord(key: string, value: unknown, intern: Interner, line?: number): MessageRecord {
  const problem = recordProblem(value, false)
  if (problem) throw new SnapshotFormatError(`message "${displayKey(key)}": ${problem}`, line)
  const v = value as MessageRecord
  const out: MessageRecord = {
    messageKey: key,
    send: intern.get(v.send),
    revision: v.revision,
    status: intern.get(v.status) as MessageRecord['status'],
    at: intern.get(v.at),
    toHash: v.toHash,
    attributesHash: v.attributesHash,
    contactHash: v.contactHash,
  }
  if (v.requestId !== undefined) out.requestId = intern.get(v.requestId)
  if (v.errorCode !== undefined) out.errorCode = v.errorCode
  if (v.errorMessage !== undefined) out.errorMessage = intern.get(v.errorMessage)
  if (v.delivery !== undefined) {
    const d = v.delivery
    const delivery: DeliveryRecord = {event: intern.get(d.event) as DeliveryRecord['event'], checkedAt: intern.get(d.checkedAt)}
    if (d.statusCode !== undefined) delivery.statusCode = d.statusCode
    if (d.statusMessage !== undefined) delivery.statusMessage = intern.get(d.statusMessage)
    if (d.at !== undefined) delivery.at = intern.get(d.at)
    out.delivery = delivery
  }
  return out
}

/** A group's head as read: checked like a record's shared fields, strings shared. */
function loadedHead(value: unknown, intern: Interner, line?: number): GroupHead {
  if (!isObject(value)) throw new SnapshotFormatError('a batch is not an object', line)
  // The shared fields are checked as a record's, with placeholder hashes (each record's own are checked below).
  const problem = recordProblem({...value, toHash: 'h', attributesHash: 'h', contactHash: 'h', delivery: undefined}, false)
  const name = typeof value.send === 'string' ? ` of send "${displayKey(value.send)}"` : ''
  if (problem) throw new SnapshotFormatError(`a batch${name}: ${problem}`, line)
  if (!Array.isArray(value.keys)) throw new SnapshotFormatError(`a batch${name}: \`keys\` must be a list`, line)
  const v = value as unknown as GroupHead
  const head: GroupHead = {send: intern.get(v.send), revision: v.revision, status: intern.get(v.status) as MessageStatus, at: intern.get(v.at)}
  if (v.requestId !== undefined) head.requestId = intern.get(v.requestId)
  if (v.errorCode !== undefined) head.errorCode = v.errorCode
  if (v.errorMessage !== undefined) head.errorMessage = intern.get(v.errorMessage)
  return head
}

/** Three 11-character hashes at the start of a compact entry. */
const COMPACT_START = /^[A-Za-z0-9_-]{33}/

/** A record of a group's head and an entry's key and hashes, in canonical field order (see canonicalRecord). */
function headRecord(head: GroupHead, messageKey: string, toHash: string, attributesHash: string, contactHash: string): MessageRecord {
  const {send, revision, status, at, requestId} = head
  if (head.errorCode === undefined && head.errorMessage === undefined) {
    if (requestId === undefined) return {messageKey, send, revision, status, at, toHash, attributesHash, contactHash}
    return {messageKey, send, revision, status, at, toHash, attributesHash, contactHash, requestId}
  }
  const r: MessageRecord = {messageKey, send, revision, status, at, toHash, attributesHash, contactHash}
  if (requestId !== undefined) r.requestId = requestId
  if (head.errorCode !== undefined) r.errorCode = head.errorCode
  if (head.errorMessage !== undefined) r.errorMessage = head.errorMessage
  return r
}

/** One entry of a group (see entryJson) as a record. */
function entryRecord(head: GroupHead, prefix: string, entry: unknown, intern: Interner, line?: number): MessageRecord {
  let compact: string | undefined
  let delivery: unknown
  if (typeof entry === 'string') compact = entry
  else if (isObject(entry) && typeof entry.m === 'string') {
    compact = entry.m
    delivery = entry.delivery
  }
  if (compact !== undefined) {
    if (compact.length <= COMPACT_HASHES || !COMPACT_START.test(compact)) {
      throw new SnapshotFormatError(`a record of send "${displayKey(head.send)}" is neither three 11-character hashes and the rest of its key nor an object`, line)
    }
    // join(): one flat key, not a pair holding on to the line it was cut from.
    const key = [prefix, compact.slice(COMPACT_HASHES)].join('')
    // The usual entry: the head was checked (and its strings shared) once for the group, the hashes just now; the
    // record is built whole, without the spread, the intermediate object and a second check per record.
    if (delivery === undefined) return headRecord(head, key, compact.slice(0, 11), compact.slice(11, 22), compact.slice(22, COMPACT_HASHES))
    const value = {...head, toHash: compact.slice(0, 11), attributesHash: compact.slice(11, 22), contactHash: compact.slice(22, COMPACT_HASHES), delivery}
    return loadedRecord(key, value, intern, line)
  }
  if (!isObject(entry) || typeof entry.messageKey !== 'string' || entry.messageKey === '') {
    throw new SnapshotFormatError(`a record of send "${displayKey(head.send)}" has no messageKey`, line)
  }
  const value = {...head, toHash: entry.toHash, attributesHash: entry.attributesHash, contactHash: entry.contactHash, delivery: entry.delivery}
  return loadedRecord(entry.messageKey, value, intern, line)
}

/**
 * Where the quote closing the key of an entry line is (the key starts at `from`), and whether the key holds a
 * backslash escape to undo; undefined if the line has no closing quote.
 */
function keyEndOf(buffer: Buffer, from: number, end: number): {at: number; escaped: boolean} | undefined {
  let escaped = false
  for (let i = from; i < end; i++) {
    const c = buffer[i]
    if (c === 0x22) return {at: i, escaped}
    if (c === 0x5c) {
      escaped = true
      i++ // the escaped character cannot close the key
    }
  }
  return undefined
}

/** Thrown inside the line reader when the text is valid-looking but not in the canonical layout. */
class NotCanonical extends Error {}

/**
 * The lines of the canonical layout the reader recognises. Format 1: the messages object's opening and closing
 * lines. Format 2: the list of groups, a group's opening line (its head, then its records), a record line's indent.
 */
const LAYOUT = {
  messagesOpen: '  "messages": {',
  messagesClose: '  }',
  batchesOpen: '  "batches": [',
  batchesClose: '  ]',
  groupStart: '    {',
  groupOpenEnd: '"keys":[',
  entryIndent: '      ',
} as const
/** `    "`: four spaces and the quote opening a message key. */
const ENTRY_PREFIX = Buffer.from('    "')
/** `": {` between a key and its record. */
const KEY_TO_RECORD = Buffer.from('": {')

/**
 * Reads a snapshot fed line by line. The canonical layout (see snapshotPieces) is parsed one record line at a time;
 * anything else (a hand-formatted file) makes `line` throw NotCanonical and the caller parses the whole text.
 */
export class SnapshotLineReader {
  private mode: 'head' | 'messages' | 'batches' | 'group' | 'end' = 'head'
  private head: string[] = []
  private header?: ReturnType<typeof checkHeader>
  private readonly messages = new Map<string, MessageRecord>()
  private readonly intern = new Interner()
  /** The group being read (format 2) and its key prefix. */
  private group?: {head: GroupHead; prefix: string}

  /** One line as text (tests and small files). */
  line(text: string, lineNo: number): void {
    const buffer = Buffer.from(text, 'utf8')
    this.rawLine(buffer, 0, buffer.length, lineNo)
  }

  /** One line as `buffer[start, end)`, as forEachRawLine passes it. */
  rawLine(buffer: Buffer, start: number, end: number, lineNo: number): void {
    if (this.mode === 'messages' && buffer.compare(ENTRY_PREFIX, 0, ENTRY_PREFIX.length, start, Math.min(end, start + ENTRY_PREFIX.length)) === 0) {
      this.entry(buffer, start, end, lineNo)
      return
    }
    const text = buffer.toString('utf8', start, end)
    if (this.mode === 'group' || this.mode === 'batches') {
      this.batchLine(text, lineNo)
    } else if (this.mode === 'messages') {
      if (text !== LAYOUT.messagesClose) throw new NotCanonical()
      this.mode = 'end'
    } else if (this.mode === 'end') {
      if (text !== '}' && text.trim() !== '') throw new NotCanonical()
    } else if (text === LAYOUT.messagesOpen || text === LAYOUT.batchesOpen) {
      const v2 = text === LAYOUT.batchesOpen
      let doc: unknown
      try {
        doc = JSON.parse(`${this.head.join('\n')}\n${v2 ? '"batches": []' : '"messages": {}'}}`)
      } catch {
        throw new NotCanonical()
      }
      this.header = checkHeader(doc)
      if (this.header.formatVersion !== (v2 ? 2 : 1)) throw new NotCanonical()
      this.head = []
      this.mode = v2 ? 'batches' : 'messages'
    } else {
      this.head.push(text)
    }
  }

  /**
   * `    "key": {…},` The key and the record are decoded and parsed apart, straight from the bytes: JSON.parse of an
   * object with a million distinct keys (or of a one-key wrapper per line) makes V8 build a hidden class per key,
   * and slicing the key out of a line string would keep the whole line alive in memory.
   */
  private entry(buffer: Buffer, start: number, end: number, lineNo: number): void {
    const keyStart = start + ENTRY_PREFIX.length
    const found = keyEndOf(buffer, keyStart, end)
    if (!found || buffer.compare(KEY_TO_RECORD, 0, KEY_TO_RECORD.length, found.at, Math.min(end, found.at + KEY_TO_RECORD.length)) !== 0) {
      throw new NotCanonical()
    }
    const keyEnd = found.at
    const bodyEnd = buffer[end - 1] === 0x2c ? end - 1 : end
    let key: string
    let value: unknown
    try {
      key = buffer.toString('utf8', keyStart, keyEnd)
      if (found.escaped) key = JSON.parse(`"${key}"`) as string
      value = JSON.parse(buffer.toString('utf8', keyEnd + 3, bodyEnd))
    } catch {
      throw new NotCanonical()
    }
    this.messages.set(key, loadedRecord(key, value, this.intern, lineNo))
  }

  /** A line of format 2's `batches`: a group's opening or closing line, one of its records, or the end of the list. */
  private batchLine(text: string, lineNo: number): void {
    if (this.mode === 'group') {
      const group = this.group as {head: GroupHead; prefix: string}
      if (text.startsWith(LAYOUT.entryIndent)) {
        const body = text.endsWith(',') ? text.slice(LAYOUT.entryIndent.length, -1) : text.slice(LAYOUT.entryIndent.length)
        let entry: unknown
        if (body.length > 1 && body.startsWith('"') && body.endsWith('"') && !body.includes('\\')) {
          entry = body.slice(1, -1)
        } else {
          try {
            entry = JSON.parse(body)
          } catch {
            throw new NotCanonical()
          }
        }
        const record = entryRecord(group.head, group.prefix, entry, this.intern, lineNo)
        this.messages.set(record.messageKey, record)
      } else if (text === '    ]}' || text === '    ]},') {
        this.group = undefined
        this.mode = 'batches'
      } else {
        throw new NotCanonical()
      }
      return
    }
    if (text === LAYOUT.batchesClose) {
      this.mode = 'end'
    } else if (text.startsWith(LAYOUT.groupStart) && text.endsWith(LAYOUT.groupOpenEnd)) {
      let value: unknown
      try {
        value = JSON.parse(`${text}]}`)
      } catch {
        throw new NotCanonical()
      }
      const head = loadedHead(value, this.intern, lineNo)
      this.group = {head, prefix: messageKeyPrefix(head.send, head.revision)}
      this.mode = 'group'
    } else {
      throw new NotCanonical()
    }
  }

  /** The state read, or NotCanonical if the text did not follow the layout (including a small whole document). */
  finish(torn: boolean): StateData {
    if (this.mode === 'end' && this.header && !torn) {
      return {...this.header, messages: this.messages}
    }
    throw new NotCanonical()
  }
}

export function isNotCanonical(error: unknown): boolean {
  return error instanceof NotCanonical
}

/** Parses a whole snapshot document (the fallback for files not in the canonical layout). */
export function parseSnapshotText(text: string): StateData {
  let doc: unknown
  try {
    doc = JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text)
  } catch (error) {
    throw new SnapshotFormatError(`it is not valid JSON (${(error as Error).message})`)
  }
  const header = checkHeader(doc)
  const messages = new Map<string, MessageRecord>()
  const intern = new Interner()
  if (header.formatVersion === 1) {
    const raw = (doc as Record<string, unknown>).messages
    if (!isObject(raw)) throw new SnapshotFormatError('`messages` must be an object')
    for (const key of Object.keys(raw)) messages.set(key, loadedRecord(key, raw[key], intern))
  } else {
    const groups = (doc as Record<string, unknown>).batches
    if (!Array.isArray(groups)) throw new SnapshotFormatError('`batches` must be a list')
    for (const value of groups) {
      const head = loadedHead(value, intern)
      const prefix = messageKeyPrefix(head.send, head.revision)
      for (const entry of (value as {keys: unknown[]}).keys) {
        const record = entryRecord(head, prefix, entry, intern)
        messages.set(record.messageKey, record)
      }
    }
  }
  return {...header, messages}
}

/**
 * Records as one line of groups in the snapshot's layout (see snapshotPieces): `[{head…,"keys":[entry, …]}, …]`, a
 * new group wherever the head changes, so the records keep their order (a key given twice: the later one wins on
 * replay as it did when it was written). The write-ahead journal's `put` lines: about 90 bytes a record instead of
 * 240 for the record in full, which is written and fsynced twice per recipient.
 */
export function batchesJson(records: readonly MessageRecord[]): string {
  let line = '['
  let head: MessageRecord | undefined
  let prefix = ''
  for (const r of records) {
    if (head !== undefined && sameHead(head, r)) {
      line += `,${entryJson(r, prefix)}`
      continue
    }
    prefix = messageKeyPrefix(r.send, r.revision)
    line += `${head === undefined ? '' : ']},'}${headJson(r)},"keys":[${entryJson(r, prefix)}`
    head = r
  }
  return head === undefined ? '[]' : `${line}]}]`
}

/** The records of a batchesJson list, in order, as loading a snapshot reads them; SnapshotFormatError if one is bad. */
export function batchesRecords(groups: unknown): MessageRecord[] {
  if (!Array.isArray(groups)) throw new SnapshotFormatError('`batches` must be a list')
  const intern = new Interner()
  const records: MessageRecord[] = []
  for (const value of groups) {
    const head = loadedHead(value, intern)
    const prefix = messageKeyPrefix(head.send, head.revision)
    for (const entry of (value as {keys: unknown[]}).keys) records.push(entryRecord(head, prefix, entry, intern))
  }
  return records
}
