import {randomInt} from 'node:crypto'

import {resolveAttributeTemplates} from './document-vars.js'
import type {Attributes, Recipient} from './types.js'
import type {ResolvedVariable} from './vars.js'
import type {ScopedProblems} from './problems.js'
import {excerpt} from '../privacy/index.js'

/** A contactKey in a message: a short excerpt, any address in it masked, control characters escaped. */
export function showContactKey(contactKey: string): string {
  return excerpt(contactKey, 64)
}

/** `file:line` or `file:line:column`, for messages that name where a recipient was read. */
export function recipientPlace(r: Recipient): string {
  return r.column === undefined ? `${r.file}:${r.line}` : `${r.file}:${r.line}:${r.column}`
}

/**
 * The recipients of one send, from all its sources in manifest order. A contactKey seen twice is a problem
 * naming both places; a FirstSeenIndex keeps the check O(1) per recipient.
 */
export class RecipientCollector {
  readonly recipients: Recipient[] = []
  private readonly firstIndex = new FirstSeenIndex((index) => this.recipients[index]!.contactKey)
  private readonly problems: ScopedProblems
  private readonly variables: {values: ReadonlyMap<string, ResolvedVariable>; declared: readonly string[]} | undefined

  /** With `variables`, `${{ vars.NAME }}` in attribute values is resolved (every source: inline, CSV, JSON, NDJSON). */
  constructor(problems: ScopedProblems, variables?: {values: ReadonlyMap<string, ResolvedVariable>; declared: readonly string[]}) {
    this.problems = problems
    this.variables = variables
  }

  add(recipient: Recipient, path?: string): void {
    if (this.variables !== undefined && recipient.attributes !== undefined) {
      for (const p of resolveAttributeTemplates(recipient.attributes, this.variables.values, this.variables.declared)) {
        this.problems.add({
          file: recipient.file,
          line: recipient.line,
          column: recipient.column,
          path: path === undefined ? `attributes.${p.attribute}` : `${path}.attributes.${p.attribute}`,
          message: `attribute ${excerpt(p.attribute, 60)}: ${p.message}`,
        })
      }
    }
    const first = this.firstIndex.firstOrAdd(recipient.contactKey, this.recipients.length)
    if (first !== -1) {
      const earlier = this.recipients[first]!
      this.problems.add({
        file: recipient.file,
        line: recipient.line,
        column: recipient.column,
        path,
        message: `duplicate contactKey ${showContactKey(recipient.contactKey)}: also at ${recipientPlace(earlier)}`,
        hint: 'each recipient of a send needs its own contactKey',
      })
      return
    }
    this.recipients.push(recipient)
  }
}

/** Beyond this many steps of one probe, the keys collide too much to be chance: the index moves to a Map. */
const MAX_PROBE = 128

/**
 * String keys to the index of the item that first had each, for the duplicate-contactKey check. A Map of a million
 * contactKeys was about a fifth of a plan's CPU time (its growth, and the garbage collector walking it again and
 * again); this open-addressing table keeps only numbers, in two typed arrays the collector never walks, and reads
 * the keys back through `keyOf`. Its string hash is seeded at random for each table, and keys crafted to collide
 * anyway (a hostile source in a pull request) make one probe run long: past MAX_PROBE steps the table hands its
 * entries to a Map and keeps using that, so the check stays linear in the number of keys.
 */
export class FirstSeenIndex {
  /** Item index + 1 per slot; 0 is an empty slot. */
  private slots = new Int32Array(1 << 10)
  private hashes = new Int32Array(1 << 10)
  private size = 0
  private map: Map<string, number> | undefined
  private readonly seed: number

  /** `hash` replaces the seeded string hash (tests use it to force collisions). */
  constructor(
    private readonly keyOf: (index: number) => string,
    private readonly hash: (key: string, seed: number) => number = stringHash,
  ) {
    this.seed = randomInt(0x7fffffff)
  }

  /** The index of the item that first had `key`; or, when none did, -1, after recording `index` as the first. */
  firstOrAdd(key: string, index: number): number {
    if (this.map !== undefined) return this.mapFirstOrAdd(key, index)
    const h = this.hash(key, this.seed)
    const mask = this.slots.length - 1
    let p = h & mask
    for (let steps = 0; ; steps++) {
      const slot = this.slots[p]!
      if (slot === 0) break
      if (this.hashes[p] === h && this.keyOf(slot - 1) === key) return slot - 1
      if (steps === MAX_PROBE) {
        this.toMap()
        return this.mapFirstOrAdd(key, index)
      }
      p = (p + 1) & mask
    }
    this.slots[p] = index + 1
    this.hashes[p] = h
    // At most half full: probes stay short.
    if (++this.size * 2 > this.slots.length) this.grow()
    return -1
  }

  private mapFirstOrAdd(key: string, index: number): number {
    const first = this.map!.get(key)
    if (first !== undefined) return first
    this.map!.set(key, index)
    return -1
  }

  private grow(): void {
    const slots = this.slots
    const hashes = this.hashes
    this.slots = new Int32Array(slots.length * 2)
    this.hashes = new Int32Array(slots.length * 2)
    const mask = this.slots.length - 1
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!
      if (slot === 0) continue
      let p = hashes[i]! & mask
      while (this.slots[p] !== 0) p = (p + 1) & mask
      this.slots[p] = slot
      this.hashes[p] = hashes[i]!
    }
  }

  private toMap(): void {
    const map = new Map<string, number>()
    for (const slot of this.slots) if (slot !== 0) map.set(this.keyOf(slot - 1), slot - 1)
    this.map = map
    this.slots = new Int32Array(0)
    this.hashes = new Int32Array(0)
  }
}

/** A seeded 32-bit hash of the UTF-16 units of a string (a multiply-xorshift per unit, MurmurHash3's finaliser at the end). */
function stringHash(key: string, seed: number): number {
  let h = seed ^ key.length
  for (let i = 0; i < key.length; i++) {
    h = Math.imul(h ^ key.charCodeAt(i), 0x5bd1e995)
    h ^= h >>> 15
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

/** A recipient from a value the schema has already accepted (inline, JSON or NDJSON). */
export function recipientFromValue(value: Record<string, unknown>, file: string, line: number, column?: number): Recipient {
  const recipient: Recipient = {contactKey: value.contactKey as string, to: value.to as string, file, line}
  if (column !== undefined) recipient.column = column
  const attributes = value.attributes as Attributes | undefined
  if (attributes !== undefined && Object.keys(attributes).length > 0) recipient.attributes = attributes
  if (typeof value.messageKey === 'string') recipient.messageKey = value.messageKey
  return recipient
}
