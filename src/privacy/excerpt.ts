import {escapeTerminal} from './escape.js'
import {maskAddresses} from './mask.js'

/** Code points of untrusted data an error message may quote: enough to recognise a value, too little to replay a file. */
export const EXCERPT_LENGTH = 24

/**
 * A short, quoted, safe excerpt of untrusted data for an error message: addresses masked (before cutting, so no
 * half address survives), cut to `max` code points with `…`, control characters escaped. Never replays more than
 * `max` code points of the input, whatever it holds.
 */
export function excerpt(value: string, max = EXCERPT_LENGTH): string {
  // Masking a huge value is linear but pointless beyond what is shown: look at a bounded prefix (long enough to
  // hold a whole address that starts inside the excerpt).
  const window = value.length > max * 2 + 320 ? value.slice(0, max * 2 + 320) : value
  const masked = maskAddresses(window)
  const points = Array.from(masked)
  const cut = points.length > max || window.length < value.length
  const shown = cut ? `${points.slice(0, max).join('')}…` : masked
  return `"${escapeTerminal(shown).replaceAll('"', '\\"')}"`
}

/** A list of names (CSV header cells) as excerpts, at most `maxItems` of them, with a count of the rest. */
export function excerptList(values: readonly string[], maxItems = 10, max = EXCERPT_LENGTH): string {
  const shown = values.slice(0, maxItems).map((v) => excerpt(v, max))
  if (values.length > maxItems) shown.push(`… and ${values.length - maxItems} more`)
  return shown.join(', ')
}
