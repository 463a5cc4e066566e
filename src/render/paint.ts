/** ANSI styling for renderers. Whether colour is on is a terminal decision, made in cli/colour-env.ts. */

export interface Paint {
  bold(s: string): string
  dim(s: string): string
  red(s: string): string
  green(s: string): string
  yellow(s: string): string
  cyan(s: string): string
}

const wrap = (open: number, close: number) => (s: string) => `\u001B[${open}m${s}\u001B[${close}m`

export function makePaint(enabled: boolean): Paint {
  if (!enabled) {
    const id = (s: string) => s
    return {bold: id, dim: id, red: id, green: id, yellow: id, cyan: id}
  }
  return {bold: wrap(1, 22), dim: wrap(2, 22), red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), cyan: wrap(36, 39)}
}
