import {isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node} from 'yaml'

export interface TextPosition {
  line: number
  column: number
}

function start(node: Node | null | undefined, counter: LineCounter): TextPosition | undefined {
  const offset = node?.range?.[0]
  if (offset === undefined) return undefined
  const {line, col} = counter.linePos(offset)
  return {line, column: col}
}

/**
 * The position of the node at `path` (or of its key when `key` is set). Follows aliases; when the path leaves
 * the document (a missing field), the deepest node that exists is used, which is where the fix goes.
 */
export function locateYaml(
  doc: Document,
  counter: LineCounter,
  path: readonly (string | number)[],
  key = false,
): TextPosition {
  let node: Node | null | undefined = doc.contents as Node | null
  let at = start(node, counter) ?? {line: 1, column: 1}
  for (let i = 0; i < path.length; i++) {
    if (isAlias(node)) node = node.resolve(doc) as Node | undefined
    const segment = path[i]!
    const last = i === path.length - 1
    let next: Node | null | undefined
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(segment))
      if (pair === undefined) return at
      if (last && key) return start(pair.key as Node, counter) ?? at
      next = pair.value as Node | null
      // `field:` with nothing after it has no value node; point at the key instead.
      if (next === null || next === undefined || next.range === undefined) return start(pair.key as Node, counter) ?? at
    } else if (isSeq(node)) {
      next = node.items[Number(segment)] as Node | undefined
      if (next === undefined) return at
    } else return at
    node = next
    at = start(node, counter) ?? at
  }
  return at
}
