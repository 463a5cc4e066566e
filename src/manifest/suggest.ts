/**
 * Edit distance counting insertions, deletions, substitutions and swaps of two neighbours (`cvs` -> `csv` is one
 * edit). Only used on short field names.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0
  if (a.length === 0) return b.length
  if (b.length === 0) return a.length
  let beforePrevious = new Array<number>(b.length + 1).fill(0)
  let previous = new Array<number>(b.length + 1)
  let current = new Array<number>(b.length + 1)
  for (let j = 0; j <= b.length; j++) previous[j] = j
  for (let i = 1; i <= a.length; i++) {
    current[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1
      let best = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost)
      if (i > 1 && j > 1 && a.charCodeAt(i - 1) === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === b.charCodeAt(j - 1)) {
        best = Math.min(best, beforePrevious[j - 2]! + 1)
      }
      current[j] = best
    }
    ;[beforePrevious, previous, current] = [previous, current, beforePrevious]
  }
  return previous[b.length]!
}

/**
 * The closest allowed name, if it is close enough to be a likely typo: case-insensitive, at most a third of
 * the word's length in edits (and at least one edit allowed, so `tp` finds `to`).
 */
export function didYouMean(input: string, allowed: readonly string[]): string | undefined {
  const needle = input.toLowerCase()
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of allowed) {
    const distance = editDistance(needle, candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  if (best === undefined) return undefined
  const limit = Math.max(1, Math.floor(Math.max(input.length, best.length) / 3))
  return bestDistance <= limit ? best : undefined
}
