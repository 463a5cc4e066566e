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
 * naming both places; one Map from contactKey to index keeps the check O(1) per recipient.
 */
export class RecipientCollector {
  readonly recipients: Recipient[] = []
  private readonly firstIndex = new Map<string, number>()
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
    const first = this.firstIndex.get(recipient.contactKey)
    if (first !== undefined) {
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
    this.firstIndex.set(recipient.contactKey, this.recipients.length)
    this.recipients.push(recipient)
  }
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
