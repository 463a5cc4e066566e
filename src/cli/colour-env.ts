/**
 * oclif and its colour library do not read NO_COLOR. Decide once, before oclif loads, and tell them through
 * FORCE_COLOR: colour only on a TTY, never with NO_COLOR, --no-color, --json or TERM=dumb.
 */
export function configureColour(argv: string[], env: NodeJS.ProcessEnv): void {
  const off =
    (env.NO_COLOR !== undefined && env.NO_COLOR !== '') ||
    env.TERM === 'dumb' ||
    argv.includes('--no-color') ||
    argv.includes('--json') ||
    argv.some((a) => a === '--format=json' || a === '--format=markdown')
  if (off) env.FORCE_COLOR = '0'
}

/** True when stderr/stdout output may carry ANSI colour. */
export function colourEnabled(stream: {isTTY?: boolean}, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.FORCE_COLOR === '0') return false
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  if (env.TERM === 'dumb') return false
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '') return true
  return stream.isTTY === true
}

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
