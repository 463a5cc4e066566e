/**
 * bench/startup: the cost of starting mcsend, as whole processes side by side: `node -e 0` (the floor), then
 * `mcsend --version` and `mcsend --help`, alternating, medians of --runs (default 11); with --baseline DIR also the
 * same two commands of another built checkout, in the same rotation, so a change is measured beside what it replaces.
 * Goal (issue 15): `mcsend --version` <= 2x `node -e 0`.
 *
 *   npx tsx bench/startup.ts [--runs N] [--baseline DIR]
 */
import os from 'node:os'
import path from 'node:path'

import {arg, fmt, measureNode, ROOT} from './lib.js'

const RUNS = Number(arg('--runs') ?? 11)
const BIN = path.join(ROOT, 'bin', 'run.js')
const BASELINE = arg('--baseline')
const BASELINE_BIN = BASELINE === undefined ? undefined : path.resolve(BASELINE, 'bin', 'run.js')

const cases: {label: string; args: string[]}[] = [
  {label: 'node -e 0', args: ['-e', '0']},
  {label: 'mcsend --version', args: [BIN, '--version']},
  {label: 'mcsend --help', args: [BIN, '--help']},
  ...(BASELINE_BIN === undefined
    ? []
    : [
        {label: 'baseline --version', args: [BASELINE_BIN, '--version']},
        {label: 'baseline --help', args: [BASELINE_BIN, '--help']},
      ]),
]
const wall = cases.map(() => [] as number[])
const cpu = cases.map(() => [] as number[])
for (let run = 0; run < RUNS; run++) {
  // Rotate the order every run so no case always goes first.
  for (let k = 0; k < cases.length; k++) {
    const i = (k + run) % cases.length
    const m = await measureNode((cases[i] as (typeof cases)[number]).args)
    if (m.code !== 0) throw new Error(`${cases[i]?.label} exited ${m.code}: ${m.stderr}`)
    wall[i]?.push(m.wallMs)
    cpu[i]?.push(m.cpuMs)
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
const floor = median(wall[0] ?? [])
console.log(`bench/startup: medians of ${RUNS} alternating runs, load ${fmt(os.loadavg()[0] ?? 0, 2)}`)
for (const [i, c] of cases.entries()) {
  const ms = median(wall[i] ?? [])
  console.log(`  ${c.label.padEnd(18)} ${fmt(ms)} ms  (${fmt(ms / floor, 2)}x node -e 0), ${fmt(median(cpu[i] ?? []))} ms CPU`)
}
const version = median(wall[1] ?? []) / floor
console.log(`  goal                mcsend --version <= 2x node -e 0: ${version <= 2 ? 'met' : 'MISSED'}`)
