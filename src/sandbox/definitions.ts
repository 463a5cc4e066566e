import {createHash} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import path from 'node:path'

export type DefinitionState = 'Active' | 'Inactive' | 'Deleted'

interface DefinitionMeta {
  state: DefinitionState | 'missing'
  createdMs: number
  modifiedMs: number
}

export interface ListQuery {
  filter?: {op: 'eq' | 'neq'; status: DefinitionState}
  page: number
  pageSize: number
  orderBy: {field: 'definitionKey' | 'name' | 'createdDate' | 'modifiedDate' | 'status'; desc: boolean}
}

/** The definitions the examples and `mcsend init` use: every sandbox knows them as Active. */
export const KNOWN_DEFINITIONS: Readonly<Record<string, DefinitionState>> = Object.freeze({
  'release-notes': 'Active',
  'beta-invitation': 'Active',
  'trial-ending-reminder': 'Active',
  'maintenance-notice': 'Active',
  'welcome-email': 'Active',
})

/** The file in the sandbox's data directory that declares more definitions: {"KEY": "Active" | "Inactive" | "Deleted"}. */
export const DEFINITIONS_FILE = 'definitions.json'

const STATES: readonly string[] = ['Active', 'Inactive', 'Deleted']

/** Reads definitions.json from the data directory; an absent file is no definitions, a malformed one an error. */
export async function loadDefinitionsFile(dataDir: string): Promise<Record<string, DefinitionState>> {
  const file = path.join(dataDir, DEFINITIONS_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw error
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new SyntaxError(`${file} is not valid JSON: write {"definitionKey": "Active"}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SyntaxError(`${file} must hold one JSON object: {"definitionKey": "Active"}`)
  const out: Record<string, DefinitionState> = {}
  for (const [key, state] of Object.entries(value)) {
    const normal = typeof state === 'string' ? STATES.find((s) => s.toLowerCase() === state.toLowerCase()) : undefined
    if (key === '' || normal === undefined) throw new SyntaxError(`${file}: "${key}" must map to Active, Inactive or Deleted`)
    out[key] = normal as DefinitionState
  }
  return out
}

/** Default and largest page sizes of the definitions list (sfmc-devtools #672 saw pages of 50). */
export const DEFAULT_DEFINITION_PAGE_SIZE = 50
export const MAX_DEFINITION_PAGE_SIZE = 500

/**
 * The transactional send definitions the fake knows. A key not configured is missing (404 on the definition route,
 * 109111 on send, as in Marketing Cloud) or, with `unknownDefinitions: 'active'`, an Active definition made up on
 * first use.
 */
export class DefinitionRegistry {
  private readonly known = new Map<string, DefinitionMeta>()

  constructor(
    initial: Record<string, DefinitionState>,
    private readonly unknown: 'active' | 'missing',
    private readonly startedMs: number,
  ) {
    for (const [key, state] of Object.entries(initial)) this.known.set(key, {state, createdMs: startedMs, modifiedMs: startedMs})
  }

  /** The state of a key; with unknownDefinitions 'active' an unknown key becomes an Active definition. */
  state(definitionKey: string): DefinitionState | 'missing' {
    const meta = this.known.get(definitionKey)
    if (meta) return meta.state
    if (this.unknown === 'missing') return 'missing'
    this.known.set(definitionKey, {state: 'Active', createdMs: this.startedMs, modifiedMs: this.startedMs})
    return 'Active'
  }

  /** The state without creating anything (for the status model, which must not invent definitions). */
  peek(definitionKey: string): DefinitionState | 'missing' {
    return this.known.get(definitionKey)?.state ?? (this.unknown === 'active' ? 'Active' : 'missing')
  }

  set(definitionKey: string, state: DefinitionState | 'missing', now: number): void {
    const meta = this.known.get(definitionKey)
    if (meta) {
      meta.state = state
      meta.modifiedMs = now
    } else {
      this.known.set(definitionKey, {state, createdMs: now, modifiedMs: now})
    }
  }

  /** The GET one body (docs/marketing-cloud-api.md), or undefined for a missing key. */
  describe(definitionKey: string, requestId: string): Record<string, unknown> | undefined {
    const state = this.state(definitionKey)
    const meta = this.known.get(definitionKey)
    if (state === 'missing' || !meta) return undefined
    return {
      requestId,
      name: definitionKey,
      definitionKey,
      definitionId: definitionId(definitionKey),
      description: 'Created by the mcsend sandbox',
      classification: 'Default Transactional',
      status: state,
      createdDate: new Date(meta.createdMs).toISOString(),
      modifiedDate: new Date(meta.modifiedMs).toISOString(),
      content: {customerKey: `${definitionKey}-content`},
      subscriptions: {list: 'All Subscribers', dataExtension: '', autoAddSubscriber: true, updateSubscriber: true},
      options: {trackLinks: true, cc: [], bcc: [], createJourney: false},
    }
  }

  /** The GET list body; `count` is the page's item count (the live service's quirk) unless countMode is 'total'. */
  list(query: ListQuery, requestId: string, countMode: 'page' | 'total'): Record<string, unknown> {
    const rows: {name: string; definitionKey: string; status: DefinitionState; createdDate: string; modifiedDate: string}[] = []
    for (const [key, meta] of this.known) {
      if (meta.state === 'missing') continue
      if (query.filter) {
        const match = meta.state === query.filter.status
        if (query.filter.op === 'eq' ? !match : match) continue
      }
      rows.push({name: key, definitionKey: key, status: meta.state, createdDate: new Date(meta.createdMs).toISOString(), modifiedDate: new Date(meta.modifiedMs).toISOString()})
    }
    const {field, desc} = query.orderBy
    rows.sort((a, b) => (a[field] < b[field] ? -1 : a[field] > b[field] ? 1 : 0) * (desc ? -1 : 1))
    const start = (query.page - 1) * query.pageSize
    const definitions = rows.slice(start, start + query.pageSize)
    return {requestId, definitions, count: countMode === 'page' ? definitions.length : rows.length, page: query.page, pageSize: query.pageSize}
  }
}

/** A stable GUID-shaped id per key, so repeated GETs agree. */
function definitionId(definitionKey: string): string {
  const h = createHash('sha256').update(definitionKey).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

const FILTER = /^\s*status\s+(eq|neq)\s+'?(active|inactive|deleted)'?\s*$/i
const ORDER_BY = /^\s*(definitionKey|name|createdDate|modifiedDate|status)(?:\s+(asc|desc))?\s*$/i

/** Parses `$filter`, `$page`, `$pageSize`, `$orderBy`; returns a message for a bad value. */
export function parseListQuery(params: URLSearchParams): ListQuery | string {
  let filter: ListQuery['filter']
  const rawFilter = params.get('$filter')
  if (rawFilter !== null) {
    const m = FILTER.exec(rawFilter)
    if (!m) return `$filter must look like "status eq active" (eq|neq, active|inactive|deleted), got "${rawFilter}"`
    const status = (m[2] as string).toLowerCase()
    filter = {op: (m[1] as string).toLowerCase() as 'eq' | 'neq', status: (status.charAt(0).toUpperCase() + status.slice(1)) as DefinitionState}
  }
  const page = positiveInt(params.get('$page'), 1)
  const pageSize = positiveInt(params.get('$pageSize'), DEFAULT_DEFINITION_PAGE_SIZE)
  if (page === undefined) return '$page must be a positive integer'
  if (pageSize === undefined || pageSize > MAX_DEFINITION_PAGE_SIZE) return `$pageSize must be an integer from 1 to ${MAX_DEFINITION_PAGE_SIZE}`
  let orderBy: ListQuery['orderBy'] = {field: 'definitionKey', desc: false}
  const rawOrder = params.get('$orderBy')
  if (rawOrder !== null) {
    const m = ORDER_BY.exec(rawOrder)
    if (!m) return `$orderBy must be one of definitionKey, name, createdDate, modifiedDate, status, optionally followed by asc or desc`
    const field = (m[1] as string).toLowerCase()
    const fields = ['definitionKey', 'name', 'createdDate', 'modifiedDate', 'status'] as const
    orderBy = {field: fields.find((f) => f.toLowerCase() === field) ?? 'definitionKey', desc: (m[2] ?? '').toLowerCase() === 'desc'}
  }
  return {filter, page, pageSize, orderBy}
}

export function positiveInt(raw: string | null, fallback: number): number | undefined {
  if (raw === null || raw === '') return fallback
  if (!/^\d+$/.test(raw)) return undefined
  const n = Number(raw)
  return n >= 1 && Number.isSafeInteger(n) ? n : undefined
}
