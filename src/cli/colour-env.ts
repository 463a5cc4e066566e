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
