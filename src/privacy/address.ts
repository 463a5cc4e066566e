/**
 * Finds email addresses anywhere inside a value, in one left-to-right pass: display names (`Ann <ann@example.com>`),
 * lists (`a@b.c;d@e.f`), surrounding spaces, quoted local parts (`"ann lee"@example.com`) and internationalised
 * (Unicode) local parts and domains.
 *
 * Not a regular expression on purpose: a pattern with nested repetition over hostile input (a 200 KB
 * `x@a.a.a.…a `) backtracks quadratically. Here every character is looked at a bounded number of times: once by
 * the main pass and at most once by the domain scan of the `@` before it (a domain never contains an `@`, so
 * the domain scans cover disjoint ranges). `work` counts those visits so a test can hold it to c·n.
 *
 * Deliberately loose: anything shaped like `local@label.label` counts, deliverable or not. A false positive
 * costs a masked word; a false negative leaks an address into a CI log.
 */

/** A found address: `value.slice(start, end)`; the local part is `value.slice(localStart, at)` (quotes included). */
export interface AddressSpan {
  start: number
  end: number
  /** Index of the `@`. */
  at: number
}

export interface ScanCounter {
  /** Characters visited; stays at most a small constant times the value's length. */
  work: number
}

const AT = 0x40
const QUOTE = 0x22

/** Whitespace and control characters: never part of an address. */
function isSpaceOrControl(c: number): boolean {
  return (
    c <= 0x20 ||
    (c >= 0x7f && c <= 0xa0) ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200b) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  )
}

/** Characters that end an unquoted local part when read leftwards: separators of lists, display names, URLs. */
function endsLocal(c: number): boolean {
  if (isSpaceOrControl(c)) return true
  switch (c) {
    case AT:
    case QUOTE:
    case 0x3c: // <
    case 0x3e: // >
    case 0x28: // (
    case 0x29: // )
    case 0x5b: // [
    case 0x5d: // ]
    case 0x2c: // ,
    case 0x3b: // ;
    case 0x3a: // :
    case 0x5c: // \
      return true
    default:
      return false
  }
}

/** Dots of a domain, including the ideographic and full-width ones IDNA maps to `.`. */
function isDot(c: number): boolean {
  return c === 0x2e || c === 0x3002 || c === 0xff0e || c === 0xff61
}

/** Letters, digits, hyphens and any non-ASCII letter (IDN) are domain characters. */
function isDomainChar(c: number): boolean {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f) return true
  return c >= 0x80 && !isSpaceOrControl(c) && !isDot(c) && c !== 0xff20 && !(c >= 0xfe50 && c <= 0xfe6b)
}

/**
 * The end (exclusive) of the domain starting at `from`, or -1 when what follows the `@` is not a dotted domain
 * (`ann@`, `ann@localhost`, `ann@.com`). Trailing dots and hyphens (end of a sentence) are not part of it.
 */
function scanDomain(value: string, from: number, counter: ScanCounter): number {
  let i = from
  let labels = 0
  let labelLength = 0
  let lastGoodEnd = -1
  const n = value.length
  while (i < n) {
    const c = value.charCodeAt(i)
    counter.work++
    if (isDot(c)) {
      if (labelLength === 0) break
      labels++
      labelLength = 0
      i++
      continue
    }
    if (!isDomainChar(c)) break
    labelLength++
    i++
    // A label may not end with a hyphen; remember the last end that makes a whole domain.
    if (labels >= 1 && c !== 0x2d) lastGoodEnd = i
  }
  return lastGoodEnd
}

/**
 * Every address in `value`, in order, without overlaps. Linear: see the module comment. Pass a counter to measure
 * the work done.
 */
export function findAddresses(value: string, counter: ScanCounter = {work: 0}): AddressSpan[] {
  const found: AddressSpan[] = []
  const n = value.length
  // Start of the current run of local-part characters.
  let runStart = 0
  // The last closed quoted string `"…"`: a quoted local part ends right before an `@`.
  let quoteOpen = -1
  let lastQuoteStart = -1
  let lastQuoteEnd = -1
  // Addresses may not overlap: nothing before this index can start one.
  let floor = 0
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i)
    counter.work++
    if (c === QUOTE) {
      if (quoteOpen === -1) quoteOpen = i
      else {
        lastQuoteStart = quoteOpen
        lastQuoteEnd = i
        quoteOpen = -1
      }
      runStart = i + 1
      continue
    }
    if (c !== AT) {
      if (endsLocal(c)) runStart = i + 1
      continue
    }
    // An `@`: is there a local part before it and a domain after it?
    let start = -1
    if (lastQuoteEnd === i - 1 && lastQuoteStart >= floor && i - 1 - lastQuoteStart > 1) start = lastQuoteStart
    else if (runStart < i && runStart >= floor) start = runStart
    if (start !== -1) {
      const end = scanDomain(value, i + 1, counter)
      if (end !== -1) {
        found.push({start, end, at: i})
        floor = end
        // Resume after the domain: its characters cannot start a local part of the next address.
        i = end - 1
        runStart = end
        quoteOpen = -1
        continue
      }
    }
    runStart = i + 1
  }
  return found
}

/** Whether `value` contains an address anywhere. */
export function containsAddress(value: string): boolean {
  return value.includes('@') && findAddresses(value).length > 0
}

/** Whether the whole value, surrounding spaces aside, is one address. */
export function isWholeAddress(value: string): boolean {
  const trimmed = value.trim()
  const spans = findAddresses(trimmed)
  return spans.length === 1 && spans[0]!.start === 0 && spans[0]!.end === trimmed.length
}
