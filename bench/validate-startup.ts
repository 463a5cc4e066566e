/**
 * bench/validate-startup: what one `mcsend validate` of a small manifest costs as a whole process, beside
 * `node -e 0` (the floor); with --baseline DIR also the same command of another built checkout (e.g. the commit
 * before the manifest validators were built as code), alternating, medians of --runs (default 11).
 *
 *   npx tsx bench/validate-startup.ts [--runs N] [--baseline DIR]
 */
import path from 'node:path'

import {fmt, measureNode, ROOT} from './lib.js'

const arg = (name: string) => {
  const i = process.argv.indexOf(name)
  return i > 0 ? process.argv[i + 1] : undefined
}
const RUNS = Number(arg('--runs') ?? 11)
const BASELINE = arg('--baseline')
const MANIFEST = path.join(ROOT, 'examples', 'release-notes.yaml')

const cases: {label: string; args: string[]}[] = [
  {label: 'node -e 0', args: ['-e', '0']},
  {label: 'mcsend validate', args: [path.join(ROOT, 'bin', 'run.js'), 'validate', MANIFEST]},
  ...(BASELINE === undefined ? [] : [{label: 'baseline validate', args: [path.join(path.resolve(BASELINE), 'bin', 'run.js'), 'validate', MANIFEST]}]),
]
const wall = cases.map(() => [] as number[])
for (let run = 0; run < RUNS; run++) {
  // Rotate the order every run so no case always goes first.
  for (let k = 0; k < cases.length; k++) {
    const i = (k + run) % cases.length
    const c = cases[i]!
    const m = await measureNode(c.args)
    if (m.code !== 0) throw new Error(`${c.label} exited ${m.code}: ${m.stderr}`)
    wall[i]!.push(m.wallMs)
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
console.log(`bench/validate-startup: ${path.relative(ROOT, MANIFEST)}, median of ${RUNS} runs each`)
for (const [i, c] of cases.entries()) console.log(`  ${c.label.padEnd(18)} ${fmt(median(wall[i]!), 0)} ms wall`)
