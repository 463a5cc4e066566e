import type {Hook} from '@oclif/core/hooks'

import {ExitCode} from '../errors.js'

/** An unknown command is a usage error (exit 64, design.md), with the closest command as a hint. */
const hook: Hook.CommandNotFound = async function (options) {
  const ids = options.config.commandIDs
  // With a space as topic separator oclif joins the arguments into the id: keep the topic and the command word.
  const words = options.id.split(':')
  const isTopic = ids.some((id) => id.startsWith(`${words[0]}:`))
  const typed = words.slice(0, isTopic ? 2 : 1).join(':')
  const wanted = typed.replaceAll(':', ' ')
  const best = ids
    .map((id) => ({id, d: distance(typed, id)}))
    .sort((a, b) => a.d - b.d)[0]
  const lines = [`error: unknown command "${wanted}"`]
  if (best && best.d <= Math.max(2, Math.floor(typed.length / 3))) lines.push(`hint: did you mean \`mcsend ${best.id.replaceAll(':', ' ')}\`?`)
  else lines.push('hint: run `mcsend --help` for the list of commands')
  process.stderr.write(`${lines.join('\n')}\n`)
  this.exit(ExitCode.usage)
}

function distance(a: string, b: string): number {
  const row = Array.from({length: b.length + 1}, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return row[b.length]!
}

export default hook
