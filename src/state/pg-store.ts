import {createHash, randomUUID} from 'node:crypto'

import pg from 'pg'

import {InvalidInputError, StateError, StateLockedError} from '../errors.js'
import {messageKeyPrefix} from '../keys/message-key.js'
import {plural} from '../text/format.js'
import {describeOwner} from './lock.js'
import {checkPgUrl, describePgTarget, isConnectionLoss, pgStateError, redactPgUrl} from './pg-errors.js'
import {PG_LOCK_NAMESPACE_WORKSPACE, inTransaction, migratePgSchema} from './pg-migrations.js'
import {canonicalMeta, canonicalTarget} from './serialize.js'
import type {DeliveryRecord, LockOwner, MessageRecord, MessageStatus, SendSnapshot, StateData, StateLock, StateMeta, StateStore, StateTarget} from './types.js'

export interface PgStateStoreOptions {
  /** postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?options] */
  url: string
  /** Independent states in one database; default `default`. */
  workspace: string
}

/** One workspace of a PostgreSQL state, as `state workspaces` lists it. */
export interface PgWorkspaceInfo {
  workspace: string
  lineage: string
  serial: number
  messages: number
  sends: number
  /** UTC ISO time of its last change. */
  updatedAt: string
}

/** How long to wait for a connection before giving up. */
const CONNECT_TIMEOUT_MS = 10_000
/** How long a query on the lock's own connection (taking the lock, the fencing check) may take. */
const LOCK_QUERY_TIMEOUT_MS = 30_000
/** Rows per statement when writing many records at once: keeps each array parameter a few MB at most. */
const WRITE_CHUNK = 10_000
/** Rows per FETCH when loading: large enough that a million records take ~20 round trips. */
const LOAD_CHUNK = 50_000
const MAX_WORKSPACE_LENGTH = 200

const MESSAGE_COLUMNS =
  'message_key, send, revision, status, at, request_id, error_code, error_message, to_hash, attributes_hash, contact_hash, delivery'

const UPSERT_SET = `send = EXCLUDED.send, revision = EXCLUDED.revision, status = EXCLUDED.status, at = EXCLUDED.at,
    request_id = EXCLUDED.request_id, error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message,
    to_hash = EXCLUDED.to_hash, attributes_hash = EXCLUDED.attributes_hash, contact_hash = EXCLUDED.contact_hash,
    delivery = EXCLUDED.delivery`

/**
 * Upserts into workspace $1 the records given (a stored record strictly newer than the given one is kept, and an
 * accepted one is never set back to pending: a run that lost the lock may still record what it learned, and must
 * not overwrite what the new holder recorded since) as twelve array parameters from `$first` on (one per column, see
 * encodeColumns), in one statement. Keys must be unique within the arrays (one INSERT cannot update a row twice).
 */
function upsertRows(first: number): string {
  const p = (i: number, type: string) => `$${first + i}::${type}[]`
  return `
  INSERT INTO mcsend_messages AS m (workspace, ${MESSAGE_COLUMNS})
  SELECT $1, * FROM unnest(${p(0, 'text')}, ${p(1, 'text')}, ${p(2, 'int4')}, ${p(3, 'text')}, ${p(4, 'timestamptz')}, ${p(5, 'text')},
                           ${p(6, 'int4')}, ${p(7, 'text')}, ${p(8, 'text')}, ${p(9, 'text')}, ${p(10, 'text')}, ${p(11, 'jsonb')})
  ON CONFLICT (workspace, message_key) DO UPDATE SET ${UPSERT_SET}
  WHERE m.at <= EXCLUDED.at AND NOT (m.status = 'accepted' AND EXCLUDED.status = 'pending')`
}

/** Upserts records ($2 to $13) without touching the workspace row (state import). */
const IMPORT_ROWS = upsertRows(2)

/**
 * An append in one statement (so one round trip, and in autocommit one transaction): marks the workspace
 * changed (creating it with the fresh lineage $2 on its first write; a workspace already marked is not written
 * again) and upserts the records ($3 to $14).
 */
const APPEND = `
  WITH touched AS (
    INSERT INTO mcsend_workspaces (workspace, lineage, serial, dirty) VALUES ($1, $2, 0, true)
    ON CONFLICT (workspace) DO UPDATE SET dirty = true WHERE NOT mcsend_workspaces.dirty
  )
  ${upsertRows(3).trim()}`

/** Name of APPEND as a prepared statement: parsed and planned once per connection. */
const APPEND_STATEMENT = 'mcsend_append'

/**
 * APPEND for records without a delivery status (all that apply writes), with what a batch's records share sent
 * once: rows carry a group id, the key after its group's prefix and the three hashes ($3 to $7); groups carry
 * their id, the key prefix, send, revision, status, time, request id and error ($8 to $16). A batch of 500 sends
 * one group instead of 500 copies of eight columns: about half the bytes, and less for the server to parse. Same
 * upsert rule as APPEND.
 */
const APPEND_GROUPED = `
  WITH touched AS (
    INSERT INTO mcsend_workspaces (workspace, lineage, serial, dirty) VALUES ($1, $2, 0, true)
    ON CONFLICT (workspace) DO UPDATE SET dirty = true WHERE NOT mcsend_workspaces.dirty
  )
  INSERT INTO mcsend_messages AS m (workspace, ${MESSAGE_COLUMNS})
  SELECT $1, g.prefix || r.k, g.send, g.revision, g.status, g.at, g.request_id, g.error_code, g.error_message, r.t, r.a, r.c, NULL::jsonb
  FROM unnest($3::int8[], $4::text[], $5::text[], $6::text[], $7::text[]) AS r(g, k, t, a, c)
  JOIN unnest($8::int8[], $9::text[], $10::text[], $11::int4[], $12::text[], $13::timestamptz[], $14::text[], $15::int4[], $16::text[])
       AS g(id, prefix, send, revision, status, at, request_id, error_code, error_message) ON g.id = r.g
  ON CONFLICT (workspace, message_key) DO UPDATE SET ${UPSERT_SET}
  WHERE m.at <= EXCLUDED.at AND NOT (m.status = 'accepted' AND EXCLUDED.status = 'pending')`

const APPEND_GROUPED_STATEMENT = 'mcsend_append_grouped'

const NEEDS_ESCAPE = /["\\]/
const ESCAPED = /["\\]/g

/** One array element as it appears in a PostgreSQL array literal: always quoted (NULL for null). */
function arrayElement(value: string | number | undefined): string {
  if (value === undefined) return 'NULL'
  const text = String(value)
  return NEEDS_ESCAPE.test(text) ? `"${text.replace(ESCAPED, '\\$&')}"` : `"${text}"`
}

/** A column of values as a PostgreSQL array literal. */
function arrayLiteral<T>(records: readonly T[], get: (record: T) => string | number | undefined): string {
  let out = '{'
  for (let i = 0; i < records.length; i++) {
    if (i > 0) out += ','
    out += arrayElement(get(records[i] as T))
  }
  return `${out}}`
}

/**
 * Records, in column order of MESSAGE_COLUMNS, as twelve PostgreSQL array literals, built here rather than by
 * the driver (whose generic array encoding costs several times more) and sent as text parameters.
 */
function encodeColumns(records: readonly MessageRecord[]): string[] {
  return [
    arrayLiteral(records, (r) => r.messageKey),
    arrayLiteral(records, (r) => r.send),
    arrayLiteral(records, (r) => r.revision),
    arrayLiteral(records, (r) => r.status),
    arrayLiteral(records, (r) => r.at),
    arrayLiteral(records, (r) => r.requestId),
    arrayLiteral(records, (r) => r.errorCode),
    arrayLiteral(records, (r) => r.errorMessage),
    arrayLiteral(records, (r) => r.toHash),
    arrayLiteral(records, (r) => r.attributesHash),
    arrayLiteral(records, (r) => r.contactHash),
    arrayLiteral(records, (r) => (r.delivery === undefined ? undefined : JSON.stringify(r.delivery))),
  ]
}

/** Whether two records share what APPEND_GROUPED sends once per group (the key prefix aside). */
function sameGroup(x: MessageRecord, y: MessageRecord): boolean {
  return x.send === y.send && x.revision === y.revision && x.status === y.status && x.at === y.at && x.requestId === y.requestId && x.errorCode === y.errorCode && x.errorMessage === y.errorMessage
}

/** One call's records as APPEND_GROUPED takes them: the rows' arrays without their braces, and the groups. */
interface GroupedRows {
  /** Rows: group id, key after its group's prefix, the three hashes (array elements joined by commas). */
  columns: [string, string, string, string, string]
  /** Group ids, one per group, and a record of each (its send, revision, status, time, request id and error). */
  ids: number[]
  groups: MessageRecord[]
  prefixes: string[]
}

/**
 * Records as APPEND_GROUPED's rows, or undefined when one has a delivery status (then APPEND takes them). Records
 * sharing send, revision, status, time, request id and error form one group; a key that starts with
 * `SEND.rREVISION.` is sent without it. Groups take their ids from `nextId`, so that the rows of several calls
 * written in one statement are joined as they are. Done when append() is called, overlapping the write in progress.
 */
function encodeGroupedRows(records: readonly MessageRecord[], nextId: () => number): GroupedRows | undefined {
  const groupOf = new Map<string, number>()
  const ids: number[] = []
  const groups: MessageRecord[] = []
  const prefixes: string[] = []
  let last = -1
  let prefixOf: MessageRecord | undefined
  let prefix = ''
  let g = ''
  let k = ''
  let t = ''
  let a = ''
  let c = ''
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as MessageRecord
    if (r.delivery !== undefined) return undefined
    if (prefixOf === undefined || r.send !== prefixOf.send || r.revision !== prefixOf.revision) {
      prefix = messageKeyPrefix(r.send, r.revision)
      prefixOf = r
    }
    const own = r.messageKey.startsWith(prefix) ? prefix : ''
    if (last < 0 || own !== prefixes[last] || !sameGroup(r, groups[last] as MessageRecord)) {
      // JSON.stringify keeps the fields apart whatever they hold.
      const id = JSON.stringify([own, r.send, r.revision, r.status, r.at, r.requestId ?? null, r.errorCode ?? null, r.errorMessage ?? null])
      let n = groupOf.get(id)
      if (n === undefined) {
        n = groups.length
        ids.push(nextId())
        groups.push(r)
        prefixes.push(own)
        groupOf.set(id, n)
      }
      last = n
    }
    const sep = i > 0 ? ',' : ''
    g += sep + ids[last]
    k += sep + arrayElement(own === '' ? r.messageKey : r.messageKey.slice(own.length))
    t += sep + arrayElement(r.toHash)
    a += sep + arrayElement(r.attributesHash)
    c += sep + arrayElement(r.contactHash)
  }
  return {columns: [g, k, t, a, c], ids, groups, prefixes}
}

/** The parameters of APPEND_GROUPED ($3 on) for the rows of one or more calls, written as one statement. */
function groupedParameters(parts: readonly GroupedRows[]): string[] {
  const one = parts.length === 1 ? parts[0] : undefined
  const column = (i: number) => `{${one ? one.columns[i] : parts.map((p) => p.columns[i]).join(',')}}`
  const groups = one ? one.groups : parts.flatMap((p) => p.groups)
  return [
    column(0),
    column(1),
    column(2),
    column(3),
    column(4),
    arrayLiteral(one ? one.ids : parts.flatMap((p) => p.ids), (id) => id),
    arrayLiteral(one ? one.prefixes : parts.flatMap((p) => p.prefixes), (p) => p),
    arrayLiteral(groups, (r) => r.send),
    arrayLiteral(groups, (r) => r.revision),
    arrayLiteral(groups, (r) => r.status),
    arrayLiteral(groups, (r) => r.at),
    arrayLiteral(groups, (r) => r.requestId),
    arrayLiteral(groups, (r) => r.errorCode),
    arrayLiteral(groups, (r) => r.errorMessage),
  ]
}

/** Records (unique keys) of one statement at most, and (for append) their rows as APPEND_GROUPED takes them. */
interface Chunk {
  records: MessageRecord[]
  grouped?: GroupedRows
}

/** Records (unique keys) as chunks of at most WRITE_CHUNK rows each; with `nextId`, their rows encoded for append. */
function toChunks(records: MessageRecord[], nextId?: () => number): Chunk[] {
  const chunks: Chunk[] = []
  for (let start = 0; start < records.length; start += WRITE_CHUNK) {
    const slice = records.length <= WRITE_CHUNK ? records : records.slice(start, start + WRITE_CHUNK)
    chunks.push(nextId ? {records: slice, grouped: encodeGroupedRows(slice, nextId)} : {records: slice})
  }
  return chunks
}

/** One append() call waiting to be written: its records in chunks, and how to settle its promise. */
interface PendingAppend {
  chunks: Chunk[]
  count: number
  resolve: () => void
  reject: (error: unknown) => void
}

/** The lock's advisory key: a stable 32-bit hash of the workspace (a collision only makes two workspaces share a lock). */
export function workspaceLockKey(workspace: string): number {
  return createHash('sha256').update(workspace, 'utf8').digest().readInt32BE(0)
}

function checkWorkspace(workspace: string): void {
  // eslint-disable-next-line no-control-regex
  if (workspace.length === 0 || workspace.length > MAX_WORKSPACE_LENGTH || /[\u0000-\u001f\u007f]/.test(workspace)) {
    throw new InvalidInputError(
      `invalid workspace name ${JSON.stringify(workspace.slice(0, 40))}`,
      [],
      `use --workspace with 1 to ${MAX_WORKSPACE_LENGTH} printable characters, e.g. --workspace production`,
    )
  }
}

interface HeldLock {
  client: pg.Client
  backendPid: number
  /** Random id of this holding, in the holder row: fencing compares it. */
  token: string
  lost?: unknown
  released: boolean
}

type Row = unknown[]

/** Most distinct texts SharedText keeps before it starts over (a bound on what it holds besides the records). */
const SHARED_TEXT_LIMIT = 4096

/**
 * One copy of each text that many loaded records share: the driver makes a new string for every field of every
 * row, but a batch's records have the same time, request id and error, and all of a send's the same name, so a
 * million records would otherwise hold a million copies of each. Texts that repeat sit close together (a batch is
 * written at once), so a bounded map finds nearly all of them.
 */
class SharedText {
  private readonly seen = new Map<string, string>()

  of(text: string): string {
    const kept = this.seen.get(text)
    if (kept !== undefined) return kept
    if (this.seen.size >= SHARED_TEXT_LIMIT) this.seen.clear()
    this.seen.set(text, text)
    return text
  }
}

function toRecord(row: Row, shared: SharedText): MessageRecord {
  const messageKey = row[0] as string
  const send = shared.of(row[1] as string)
  const revision = row[2] as number
  const status = shared.of(row[3] as string) as MessageStatus
  const at = shared.of(row[4] as string)
  const toHash = row[8] as string
  const attributesHash = row[9] as string
  const contactHash = row[10] as string
  // Built whole, with the request id most records have among its first fields: an object literal keeps them all
  // inside the object, where a field added later needs a separate property store (the fields keep their order).
  const record: MessageRecord =
    row[5] === null
      ? {messageKey, send, revision, status, at, toHash, attributesHash, contactHash}
      : {messageKey, send, revision, status, at, toHash, attributesHash, contactHash, requestId: shared.of(row[5] as string)}
  if (row[6] !== null) record.errorCode = row[6] as number
  if (row[7] !== null) record.errorMessage = shared.of(row[7] as string)
  if (row[11] !== null) record.delivery = row[11] as DeliveryRecord
  return record
}

/**
 * The PostgreSQL state backend, for teams and CI sharing one state. One connection for reads and writes
 * (calls are serialised in call order, as with the file store), plus one dedicated connection per held lock:
 * the lock is a session advisory lock, so it disappears with its connection when a runner dies.
 *
 * Every write (append, remove, putSend) is one committed transaction: a crash or a lost server never loses
 * what was recorded before it.
 */
export class PgStateStore implements StateStore {
  readonly location: string
  readonly workspace: string
  private readonly url: string
  private readonly where: string
  private readonly client: pg.Client
  private readonly lockKey: number
  private queue: Promise<unknown> = Promise.resolve()
  /** Appends queued behind the call in progress: they are written together, in one transaction (group commit). */
  private appendGroup?: PendingAppend[]
  private changed = false
  /** Ids of the groups of APPEND_GROUPED: unique within a statement, which may hold the rows of several calls. */
  private groupIds = 0
  private readonly nextGroupId = (): number => ++this.groupIds
  private held?: HeldLock
  private closed = false

  private constructor(options: PgStateStoreOptions) {
    this.url = options.url
    this.workspace = options.workspace
    this.where = describePgTarget(options.url)
    this.location = `${redactPgUrl(options.url)} (workspace ${options.workspace})`
    this.lockKey = workspaceLockKey(options.workspace)
    this.client = this.newClient()
    // A connection dropped while idle is reported by the next query; without a listener it would crash the process.
    this.client.on('error', () => undefined)
  }

  /** Connects, brings the schema up to date, and returns a ready store. */
  static async connect(options: PgStateStoreOptions): Promise<PgStateStore> {
    checkPgUrl(options.url)
    checkWorkspace(options.workspace)
    const store = new PgStateStore(options)
    try {
      await store.client.connect()
    } catch (error) {
      await store.client.end().catch(() => undefined)
      throw pgStateError(error, options.url, 'connecting')
    }
    try {
      await migratePgSchema(store.client, store.where)
    } catch (error) {
      await store.client.end().catch(() => undefined)
      throw pgStateError(error, options.url, 'preparing the mcsend tables')
    }
    return store
  }

  /** The server process id of the store's read/write session (for diagnostics and tests). */
  get sessionPid(): number | undefined {
    return (this.client as pg.Client & {processID?: number | null}).processID ?? undefined
  }

  private newClient(queryTimeoutMs?: number): pg.Client {
    return new pg.Client({
      connectionString: this.url,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      ...(queryTimeoutMs === undefined ? {} : {query_timeout: queryTimeoutMs}),
      keepAlive: true,
      // Names the workspace, so an operator (or a test) can tell which run a session belongs to.
      application_name: `mcsend/${this.workspace}`.slice(0, 63),
    })
  }

  /**
   * Runs fn after every earlier call has finished; maps driver failures to StateError. Appends called after
   * this call no longer join an earlier group of appends: they run after fn, in call order.
   */
  private exclusive<T>(action: string | (() => string), fn: () => Promise<T>): Promise<T> {
    this.appendGroup = undefined
    const run = this.queue.then(async () => {
      if (this.closed) throw new StateError(`the state ${this.location} is already closed`, 'this is a bug in mcsend; please report it')
      try {
        return await fn()
      } catch (error) {
        throw pgStateError(error, this.url, typeof action === 'string' ? action : action())
      }
    })
    this.queue = run.catch(() => undefined)
    return run
  }

  /** A write must not go on after the lock's connection died: another run may already hold the lock. */
  private assertLockIntact(): void {
    if (this.held && !this.held.released && this.held.lost !== undefined) {
      throw new StateError(
        `lost the lock on the PostgreSQL state at ${this.where} (workspace ${this.workspace}): its connection was closed`,
        'another run may have taken the lock, so mcsend stopped writing; everything recorded so far is kept: re-run to continue',
        this.held.lost,
      )
    }
  }

  /** Creates the workspace (with a fresh lineage) on its first write and marks it changed since the last commit. */
  private async touchWorkspace(): Promise<void> {
    await this.client.query(
      `INSERT INTO mcsend_workspaces (workspace, lineage, serial, dirty) VALUES ($1, $2, 0, true)
       ON CONFLICT (workspace) DO UPDATE SET dirty = true`,
      [this.workspace, randomUUID()],
    )
    this.changed = true
  }

  private livePidsQuery(): {text: string; values: unknown[]} {
    return {
      text: `SELECT pid FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND objsubid = 2
               AND classid::bigint = $1 AND objid::bigint = $2
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      values: [PG_LOCK_NAMESPACE_WORKSPACE >>> 0, this.lockKey >>> 0],
    }
  }

  private async livePids(): Promise<number[]> {
    const result = await this.client.query<{pid: number}>(this.livePidsQuery())
    return result.rows.map((r) => r.pid)
  }

  async load(): Promise<StateData> {
    return this.exclusive('loading the state', async () => {
      // A run that crashed after writing left the workspace dirty: count its writes as one change (the file
      // store does the same when it folds a leftover journal), unless a live run still holds the lock.
      if (!this.changed) {
        const lockedByUs = this.held !== undefined && !this.held.released && this.held.lost === undefined
        const live = this.livePidsQuery()
        await this.client.query(
          `UPDATE mcsend_workspaces SET serial = serial + 1, dirty = false, updated_at = now()
           WHERE workspace = $3 AND dirty AND ($4 OR NOT EXISTS (${live.text}))`,
          [...live.values, this.workspace, lockedByUs],
        )
      }
      return inTransaction(this.client, async () => {
        const ws = await this.client.query<{lineage: string; serial: string; target: StateTarget | null; key_fingerprint: string | null}>(
          'SELECT lineage, serial::text AS serial, target, key_fingerprint FROM mcsend_workspaces WHERE workspace = $1',
          [this.workspace],
        )
        const sends: Record<string, SendSnapshot> = {}
        const sendRows = await this.client.query<{name: string; snapshot: SendSnapshot}>(
          'SELECT name, snapshot FROM mcsend_sends WHERE workspace = $1 ORDER BY name',
          [this.workspace],
        )
        for (const row of sendRows.rows) sends[row.name] = row.snapshot
        const messages = new Map<string, MessageRecord>()
        const shared = new SharedText()
        await this.client.query(
          `DECLARE mcsend_load NO SCROLL CURSOR FOR
           SELECT message_key, send, revision, status, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                  request_id, error_code, error_message, to_hash, attributes_hash, contact_hash, delivery
           FROM mcsend_messages WHERE workspace = ${this.client.escapeLiteral(this.workspace)}`,
        )
        for (;;) {
          const chunk = await this.client.query<Row>({text: `FETCH ${LOAD_CHUNK} FROM mcsend_load`, rowMode: 'array'})
          for (const row of chunk.rows) messages.set(row[0] as string, toRecord(row, shared))
          if (chunk.rows.length < LOAD_CHUNK) break
        }
        await this.client.query('CLOSE mcsend_load')
        const head = ws.rows[0]
        const data: StateData = {formatVersion: 1, lineage: head?.lineage ?? '', serial: head ? Number(head.serial) : 0, sends, messages}
        if (head?.target) data.target = canonicalTarget(head.target)
        if (head?.key_fingerprint) data.keyFingerprint = head.key_fingerprint
        return data
      }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    })
  }

  /**
   * Appends that queue up while the connection is busy (apply records up to four batches at once) are written
   * together in one transaction, in call order: one commit instead of several. Each call resolves only once the
   * transaction holding its records has committed; if that transaction fails for a reason other than a lost
   * connection, each call of the group is retried on its own, so one call's bad records cannot fail another's.
   */
  async append(records: MessageRecord[]): Promise<void> {
    if (records.length === 0) return
    // Last one wins within a call, as in a journal replay; one INSERT cannot update the same row twice.
    const unique = new Map<string, MessageRecord>()
    for (const record of records) unique.set(record.messageKey, record)
    const chunks = toChunks([...unique.values()], this.nextGroupId)
    return new Promise<void>((resolve, reject) => {
      const pending: PendingAppend = {chunks, count: unique.size, resolve, reject}
      if (this.appendGroup) {
        this.appendGroup.push(pending)
        return
      }
      const group: PendingAppend[] = [pending]
      const count = () => group.reduce((n, p) => n + p.count, 0)
      this.exclusive(
        () => `recording ${plural(count(), 'record')}`,
        async () => {
          // From here on, later appends form the next group.
          if (this.appendGroup === group) this.appendGroup = undefined
          await this.writeAppends(group)
        },
      ).then(
        () => {
          for (const p of group) p.resolve()
        },
        (error: unknown) => {
          for (const p of group) p.reject(error)
        },
      )
      this.appendGroup = group
    })
  }

  /** Writes a group of appends in one transaction, falling back to one transaction per call on a statement error. */
  private async writeAppends(group: PendingAppend[]): Promise<void> {
    // No lock check here: records are facts about Marketing Cloud, kept even from a run that lost the lock (its
    // sending stops at checkLock); the upsert never overwrites a newer record.
    try {
      await this.writeChunks(group.flatMap((p) => p.chunks))
      this.changed = true
    } catch (error) {
      if (group.length === 1 || isConnectionLoss(error)) throw error
      for (const p of group.splice(0)) {
        try {
          await this.writeChunks(p.chunks)
          this.changed = true
          p.resolve()
        } catch (own) {
          p.reject(pgStateError(own, this.url, `recording ${plural(p.count, 'record')}`))
        }
      }
    }
  }

  /**
   * Writes encoded chunks in call order as one transaction: a single statement (autocommit) when they fit in
   * one, else BEGIN, one statement per WRITE_CHUNK rows, COMMIT. A statement never holds a key twice.
   */
  private async writeChunks(chunks: Chunk[]): Promise<void> {
    const statements: Chunk[][] = []
    let current: Chunk[] = []
    let rows = 0
    const keys = new Set<string>()
    for (const chunk of chunks) {
      const clash = rows + chunk.records.length > WRITE_CHUNK || (rows > 0 && chunk.records.some((r) => keys.has(r.messageKey)))
      if (clash && current.length > 0) {
        statements.push(current)
        current = []
        rows = 0
        keys.clear()
      }
      current.push(chunk)
      rows += chunk.records.length
      if (chunks.length > 1) for (const r of chunk.records) keys.add(r.messageKey)
    }
    if (current.length > 0) statements.push(current)
    const run = (statement: Chunk[]) => {
      const grouped = statement.every((chunk) => chunk.grouped !== undefined) ? statement.map((chunk) => chunk.grouped as GroupedRows) : undefined
      return grouped === undefined
        ? this.client.query({name: APPEND_STATEMENT, text: APPEND, values: [this.workspace, randomUUID(), ...encodeColumns(statement.flatMap((chunk) => chunk.records))]})
        : this.client.query({name: APPEND_GROUPED_STATEMENT, text: APPEND_GROUPED, values: [this.workspace, randomUUID(), ...groupedParameters(grouped)]})
    }
    if (statements.length === 1) {
      await run(statements[0] as Chunk[])
      return
    }
    await inTransaction(this.client, async () => {
      for (const statement of statements) await run(statement)
    })
  }

  async putSend(snapshot: SendSnapshot): Promise<void> {
    await this.exclusive(`recording send ${snapshot.name}`, async () => {
      this.assertLockIntact()
      await inTransaction(this.client, async () => {
        await this.touchWorkspace()
        await this.client.query(
          `INSERT INTO mcsend_sends (workspace, name, snapshot) VALUES ($1, $2, $3::jsonb)
           ON CONFLICT (workspace, name) DO UPDATE SET snapshot = EXCLUDED.snapshot`,
          [this.workspace, snapshot.name, JSON.stringify(snapshot)],
        )
      })
    })
  }

  async setMeta(meta: StateMeta): Promise<void> {
    const wanted = canonicalMeta(meta)
    if (wanted.target === undefined && wanted.keyFingerprint === undefined) return
    await this.exclusive('recording the state metadata', async () => {
      this.assertLockIntact()
      // Creates the workspace on its first write; otherwise changes (and marks changed) only what differs.
      const result = await this.client.query(
        `INSERT INTO mcsend_workspaces AS w (workspace, lineage, serial, dirty, target, key_fingerprint) VALUES ($1, $2, 0, true, $3::jsonb, $4)
         ON CONFLICT (workspace) DO UPDATE SET target = coalesce(EXCLUDED.target, w.target),
           key_fingerprint = coalesce(EXCLUDED.key_fingerprint, w.key_fingerprint), dirty = true
         WHERE (EXCLUDED.target IS NOT NULL AND w.target IS DISTINCT FROM EXCLUDED.target)
            OR (EXCLUDED.key_fingerprint IS NOT NULL AND w.key_fingerprint IS DISTINCT FROM EXCLUDED.key_fingerprint)`,
        [this.workspace, randomUUID(), wanted.target === undefined ? null : JSON.stringify(wanted.target), wanted.keyFingerprint ?? null],
      )
      if ((result.rowCount ?? 0) > 0) this.changed = true
    })
  }

  async remove(messageKeys: string[]): Promise<number> {
    const keys = [...new Set(messageKeys)]
    if (keys.length === 0) return 0
    return this.exclusive(`removing ${plural(keys.length, 'record')}`, async () => {
      this.assertLockIntact()
      return inTransaction(this.client, async () => {
        let removed = 0
        for (let start = 0; start < keys.length; start += WRITE_CHUNK) {
          const result = await this.client.query('DELETE FROM mcsend_messages WHERE workspace = $1 AND message_key = ANY($2::text[])', [
            this.workspace,
            keys.slice(start, start + WRITE_CHUNK),
          ])
          removed += result.rowCount ?? 0
        }
        if (removed > 0) await this.touchWorkspace()
        return removed
      })
    })
  }

  async commit(): Promise<void> {
    await this.exclusive('committing the state', async () => {
      this.assertLockIntact()
      await this.client.query(
        `UPDATE mcsend_workspaces SET serial = serial + 1, dirty = false, updated_at = now()
         WHERE workspace = $1 AND (dirty OR $2)`,
        [this.workspace, this.changed],
      )
      this.changed = false
    })
  }

  /**
   * Replaces the whole workspace with `data`, keeping its lineage and serial (state push / pull).
   * One transaction: readers see the old state or the new one, never a mix.
   */
  async importState(data: StateData): Promise<void> {
    const meta = canonicalMeta({target: data.target, keyFingerprint: data.keyFingerprint})
    await this.exclusive(`importing ${plural(data.messages.size, 'record')}`, async () => {
      this.assertLockIntact()
      await inTransaction(this.client, async () => {
        await this.client.query('DELETE FROM mcsend_messages WHERE workspace = $1', [this.workspace])
        await this.client.query('DELETE FROM mcsend_sends WHERE workspace = $1', [this.workspace])
        const empty = data.lineage === '' && data.messages.size === 0 && Object.keys(data.sends).length === 0
        if (empty) {
          await this.client.query('DELETE FROM mcsend_workspaces WHERE workspace = $1', [this.workspace])
          return
        }
        await this.client.query(
          `INSERT INTO mcsend_workspaces (workspace, lineage, serial, dirty, updated_at, target, key_fingerprint) VALUES ($1, $2, $3, false, now(), $4::jsonb, $5)
           ON CONFLICT (workspace) DO UPDATE SET lineage = EXCLUDED.lineage, serial = EXCLUDED.serial, dirty = false, updated_at = now(),
             target = EXCLUDED.target, key_fingerprint = EXCLUDED.key_fingerprint`,
          [this.workspace, data.lineage || randomUUID(), Math.max(data.serial, 1), meta.target === undefined ? null : JSON.stringify(meta.target), meta.keyFingerprint ?? null],
        )
        for (const chunk of toChunks([...data.messages.values()])) {
          await this.client.query(IMPORT_ROWS, [this.workspace, ...encodeColumns(chunk.records)])
        }
        const sends = Object.values(data.sends)
        if (sends.length > 0) {
          await this.client.query(
            `INSERT INTO mcsend_sends (workspace, name, snapshot) SELECT $1, * FROM unnest($2::text[], $3::jsonb[])`,
            [this.workspace, sends.map((s) => s.name), sends.map((s) => JSON.stringify(s))],
          )
        }
      })
      this.changed = false
    })
  }

  async lock(owner: LockOwner): Promise<StateLock> {
    // The lock's connection answers the fencing check before every batch: a server that stops answering must not
    // hang the run, so its queries time out (and the run stops as if the lock were lost).
    const client = this.newClient(LOCK_QUERY_TIMEOUT_MS)
    const held: HeldLock = {client, backendPid: 0, token: randomUUID(), released: false}
    client.on('error', (error: unknown) => {
      held.lost ??= error
    })
    client.on('end', () => {
      if (!held.released) held.lost ??= new Error('Connection terminated unexpectedly')
    })
    try {
      await client.connect()
    } catch (error) {
      await client.end().catch(() => undefined)
      throw pgStateError(error, this.url, 'connecting to take the lock')
    }
    let acquired = false
    try {
      const pid = await client.query<{pid: number}>('SELECT pg_backend_pid() AS pid')
      held.backendPid = pid.rows[0]?.pid ?? 0
      const got = await client.query<{ok: boolean}>('SELECT pg_try_advisory_lock($1::int4, $2::int4) AS ok', [PG_LOCK_NAMESPACE_WORKSPACE, this.lockKey])
      acquired = got.rows[0]?.ok === true
      if (acquired) {
        await client.query(
          `INSERT INTO mcsend_lock_holders (workspace, owner, backend_pid, locked_at) VALUES ($1, $2::jsonb, pg_backend_pid(), now())
           ON CONFLICT (workspace) DO UPDATE SET owner = EXCLUDED.owner, backend_pid = EXCLUDED.backend_pid, locked_at = now()`,
          [this.workspace, JSON.stringify({...owner, token: held.token})],
        )
      }
    } catch (error) {
      held.released = true
      await client.end().catch(() => undefined)
      throw pgStateError(error, this.url, 'taking the lock')
    }
    if (!acquired) {
      held.released = true
      await client.end().catch(() => undefined)
      // The holder writes its row right after taking the advisory lock: wait briefly so the refusal can name it.
      let info = await this.lockInfo()
      for (let waited = 0; info !== undefined && info.owner.operation === 'unknown' && waited < 1000; waited += 25) {
        await new Promise((resolve) => setTimeout(resolve, 25))
        info = (await this.lockInfo()) ?? info
      }
      throw this.lockedError(info?.owner, 'is locked by')
    }
    this.held = held
    return {release: () => this.releaseHeld(held)}
  }

  private lockedError(owner: LockOwner | undefined, verb: string, extraHint?: string): StateLockedError {
    const holder = owner ? describeOwner(owner) : 'another session that has not recorded its owner yet'
    return new StateLockedError(
      `the state ${this.location} ${verb} ${holder}`,
      extraHint ??
        'wait for that run to finish and try again; if it is hung, `mcsend state unlock --force` (with the same --state and --workspace) ends its database session',
    )
  }

  private async releaseHeld(held: HeldLock): Promise<void> {
    if (held.released) return
    held.released = true
    if (this.held === held) this.held = undefined
    if (held.lost === undefined) {
      try {
        await held.client.query('DELETE FROM mcsend_lock_holders WHERE workspace = $1 AND backend_pid = pg_backend_pid()', [this.workspace])
        await held.client.query('SELECT pg_advisory_unlock($1::int4, $2::int4)', [PG_LOCK_NAMESPACE_WORKSPACE, this.lockKey])
      } catch {
        // The lock goes with the connection anyway; a leftover holder row shows as stale.
      }
    }
    await held.client.end().catch(() => undefined)
  }

  async checkLock(): Promise<void> {
    const held = this.held
    if (!held || held.released) return
    if (held.lost === undefined) {
      try {
        // On the lock's own connection: it answers only while the session (and so the advisory lock) is alive.
        // A prepared statement: run before every batch, it is parsed and planned once per lock.
        const result = await held.client.query<{token: string | null; held: boolean}>({
          name: 'mcsend_check_lock',
          text: `SELECT (SELECT owner->>'token' FROM mcsend_lock_holders WHERE workspace = $1) AS token,
                  EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory' AND granted AND objsubid = 2
                          AND classid::bigint = $2 AND objid::bigint = $3) AS held`,
          values: [this.workspace, PG_LOCK_NAMESPACE_WORKSPACE >>> 0, this.lockKey >>> 0],
        })
        const row = result.rows[0]
        if (!row?.held) held.lost = new Error('the advisory lock is no longer held by this session')
        else if (row.token !== held.token) held.lost = new Error('the holder row names another run')
      } catch (error) {
        held.lost ??= error
      }
    }
    if (held.lost !== undefined) {
      throw new StateError(
        `stopped: this run no longer holds the lock on the PostgreSQL state at ${this.where} (workspace ${this.workspace}): ${(held.lost as Error).message ?? String(held.lost)}; nothing more is sent`,
        'its session was ended (e.g. `mcsend state unlock --force`) and another run may hold the lock now; everything this run recorded is kept: re-run to continue',
        held.lost,
      )
    }
  }

  async unfolded(): Promise<string | undefined> {
    // load() counts a finished-but-uncommitted run's writes itself (they are already in the tables).
    return undefined
  }

  /** Every workspace in this database, by name (read-only; for `mcsend state workspaces`). */
  async listWorkspaces(): Promise<PgWorkspaceInfo[]> {
    return this.exclusive('listing the workspaces', async () => {
      const result = await this.client.query<{workspace: string; lineage: string; serial: string; updated_at: Date; messages: string; sends: string}>(
        `SELECT w.workspace, w.lineage, w.serial, w.updated_at,
                (SELECT count(*) FROM mcsend_messages m WHERE m.workspace = w.workspace) AS messages,
                (SELECT count(*) FROM mcsend_sends s WHERE s.workspace = w.workspace) AS sends
         FROM mcsend_workspaces w ORDER BY w.workspace COLLATE "C"`,
      )
      return result.rows.map((r) => ({workspace: r.workspace, lineage: r.lineage, serial: Number(r.serial), messages: Number(r.messages), sends: Number(r.sends), updatedAt: r.updated_at.toISOString()}))
    })
  }

  async lockInfo(): Promise<{owner: LockOwner; stale: boolean} | undefined> {
    return this.exclusive('reading the lock', async () => {
      const pids = await this.livePids()
      const row = await this.client.query<{owner: LockOwner & {token?: string}; backend_pid: number}>(
        'SELECT owner, backend_pid FROM mcsend_lock_holders WHERE workspace = $1',
        [this.workspace],
      )
      const holder = row.rows[0]
      if (holder) {
        const {operation, who, pid, host, since} = holder.owner
        return {owner: {operation, who, pid, host, since}, stale: pids.length === 0}
      }
      const pid = pids[0]
      if (pid === undefined) return undefined
      // Held, but the holder has not written its row yet (or it was deleted): describe the session instead.
      const activity = await this.client.query<{who: string | null; host: string | null; since: string | null}>(
        `SELECT usename AS who, coalesce(client_hostname, host(client_addr), 'local socket') AS host,
                to_char(backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS since
         FROM pg_stat_activity WHERE pid = $1`,
        [pid],
      )
      const a = activity.rows[0]
      return {owner: {operation: 'unknown', who: a?.who ?? 'unknown', pid, host: a?.host ?? 'unknown', since: a?.since ?? 'unknown'}, stale: false}
    })
  }

  async unlock(force: boolean): Promise<LockOwner | undefined> {
    const info = await this.lockInfo()
    const ours = this.held && !this.held.released ? this.held : undefined
    return this.exclusive('removing the lock', async () => {
      const pids = await this.livePids()
      if (ours && pids.includes(ours.backendPid)) {
        await this.releaseHeld(ours)
        return info?.owner
      }
      if (pids.length > 0) {
        if (!force) {
          throw this.lockedError(
            info?.owner,
            'is locked by a live run:',
            'wait for that run to finish; if it is hung, add --force to end its database session (its completed batches stay recorded)',
          )
        }
        for (const pid of pids) await this.client.query('SELECT pg_terminate_backend($1)', [pid])
        const deadline = Date.now() + 5000
        while ((await this.livePids()).length > 0) {
          if (Date.now() > deadline) {
            throw new StateError(
              `could not end the session holding the lock on ${this.location}`,
              'the state user may lack the right to terminate other sessions (pg_signal_backend); ask a database administrator',
            )
          }
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }
      await this.client.query('DELETE FROM mcsend_lock_holders WHERE workspace = $1', [this.workspace])
      return info?.owner
    })
  }

  async close(): Promise<void> {
    if (this.held) await this.releaseHeld(this.held)
    await this.queue
    if (this.closed) return
    this.closed = true
    await this.client.end().catch(() => undefined)
  }
}
