/**
 * Marketing Cloud's status timestamps are Central Standard Time without daylight saving (UTC-6) and carry no offset,
 * with a varying number of fractional digits, e.g. `2018-08-03T13:41:18.55` (docs/marketing-cloud-api.md).
 */
const CST_OFFSET_MS = 6 * 60 * 60 * 1000
const NAIVE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$/
const WITH_ZONE = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i

/**
 * The UTC ISO form of a status timestamp: an offset-less value is read as UTC-6; a value with `Z` or an explicit
 * offset is taken as it is. undefined when the text is not a timestamp.
 */
export function cstToUtcIso(timestamp: string | undefined | null): string | undefined {
  if (typeof timestamp !== 'string') return undefined
  const text = timestamp.trim()
  const match = NAIVE.exec(text)
  if (match) {
    const [, y, mo, d, h, mi, s, fraction] = match
    const ms = fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'))
    const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), ms)
    if (Number.isNaN(local) || !sameFields(local, Number(y), Number(mo), Number(d))) return undefined
    return new Date(local + CST_OFFSET_MS).toISOString()
  }
  if (WITH_ZONE.test(text) && /^\d{4}-\d{2}-\d{2}T/.test(text)) {
    const parsed = Date.parse(text)
    return Number.isNaN(parsed) ? undefined : new Date(parsed).toISOString()
  }
  return undefined
}

/** Date.UTC rolls 2024-02-31 over into March; reject such dates instead. */
function sameFields(utcMs: number, year: number, month: number, day: number): boolean {
  const date = new Date(utcMs)
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}
