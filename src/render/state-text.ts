import type {Paint} from './paint.js'
import {escapeTerminal, maskAddresses} from '../privacy/index.js'
import {subscriberStatusName} from '../sfmc/codes.js'
import type {MessageRecord} from '../state/types.js'
import {formatCount, plural} from '../text/format.js'
import {renderTable} from './state-table.js'

/** Times without milliseconds: `2026-11-26T10:00:00Z`. */
function shortTime(iso: string | undefined): string {
  return iso === undefined ? '-' : iso.replace(/\.\d+Z$/, 'Z')
}

/** `sent`, `notSent 24 ListDetectiveExclusion`, `queued`, or `-`. */
export function describeDelivery(record: MessageRecord): string {
  const d = record.delivery
  if (!d) return '-'
  if (d.event === 'other') return `other ${d.statusMessage ?? ''}`.trimEnd()
  if (d.event !== 'notSent') return d.event
  return d.statusCode === undefined ? `notSent ${safeText(d.statusMessage ?? '')}`.trimEnd() : `notSent ${subscriberStatusName(d.statusCode)}`
}

/** Text from the state for a terminal: addresses masked, control characters escaped (it came from manifests or the API). */
export function safeText(text: string): string {
  return escapeTerminal(maskAddresses(text))
}

/** A messageKey as printed in listings: explicit keys come from manifests and may hold an address, so any address in one is masked. */
export function displayKey(key: string): string {
  return safeText(key)
}

export interface ListPage {
  records: MessageRecord[]
  total: number
  offset: number
  location: string
}

export function renderRecordList(page: ListPage, options: {paint: Paint}): string {
  if (page.total === 0) return `No records in ${escapeTerminal(page.location)} match.\n`
  const rows = page.records.map((r) => [
    displayKey(r.messageKey),
    safeText(r.send),
    String(r.revision),
    r.status,
    shortTime(r.at),
    r.errorCode === undefined ? '-' : String(r.errorCode),
    describeDelivery(r),
  ])
  const lines = renderTable(['MESSAGEKEY', 'SEND', 'REV', 'STATUS', 'TIME (UTC)', 'ERROR', 'DELIVERY'], rows)
  const first = page.offset + 1
  const last = page.offset + page.records.length
  if (page.records.length < page.total) {
    const more = last < page.total ? `; next page: --offset ${last}` : ''
    lines.push(options.paint.dim(`Showing ${formatCount(first)}-${formatCount(last)} of ${formatCount(page.total)} records${more} (--limit 0 shows all).`))
  } else {
    lines.push(options.paint.dim(`${plural(page.total, 'record')} in ${escapeTerminal(page.location)}.`))
  }
  return `${lines.join('\n')}\n`
}

export function renderRecord(record: MessageRecord): string {
  const rows: [string, string | undefined][] = [
    ['messageKey', displayKey(record.messageKey)],
    ['send', safeText(record.send)],
    ['revision', String(record.revision)],
    ['status', record.status],
    ['at', safeText(record.at)],
    ['requestId', record.requestId === undefined ? undefined : safeText(record.requestId)],
    ['errorCode', record.errorCode === undefined ? undefined : String(record.errorCode)],
    ['errorMessage', record.errorMessage === undefined ? undefined : safeText(record.errorMessage)],
    ['delivery', record.delivery ? describeDelivery(record) : undefined],
    ['delivery at', record.delivery?.at === undefined ? undefined : safeText(record.delivery.at)],
    ['checked at', record.delivery?.checkedAt === undefined ? undefined : safeText(record.delivery.checkedAt)],
    ['toHash', safeText(record.toHash)],
    ['attributesHash', safeText(record.attributesHash)],
    ['contactHash', safeText(record.contactHash)],
  ]
  const present = rows.filter((r): r is [string, string] => r[1] !== undefined)
  const width = Math.max(...present.map(([k]) => k.length))
  return `${present.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`
}

/** The records about to be removed (or removed): a table capped at `cap` rows. */
export function renderRecordSummary(records: readonly MessageRecord[], cap = 20): string[] {
  const rows = records.slice(0, cap).map((r) => [displayKey(r.messageKey), safeText(r.send), String(r.revision), r.status])
  const lines = renderTable(['MESSAGEKEY', 'SEND', 'REV', 'STATUS'], rows, '  ')
  if (records.length > cap) lines.push(`  … and ${formatCount(records.length - cap)} more`)
  return lines
}
