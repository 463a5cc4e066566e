/** Yes/no prompts (apply, state rm, state forget): on a terminal only, written to stderr so stdout stays clean. */

/** True when a prompt is needed but impossible: no --yes/--auto-approve and stdin or stderr is not a terminal. */
export function needsConfirmation(yes: boolean, streams: {stdin: {isTTY?: boolean}; stderr: {isTTY?: boolean}} = process): boolean {
  return !yes && !(streams.stdin.isTTY === true && streams.stderr.isTTY === true)
}

/** Asks on stderr; the answer defaults to no. */
export async function confirm(message: string): Promise<boolean> {
  const {default: prompt} = await import('@inquirer/confirm')
  return prompt({message, default: false}, {output: process.stderr})
}

/**
 * Asks on stderr for a typed word, as terraform asks for "yes": true only when the answer is exactly `expected`
 * (apply passes `yes`; a protected environment can pass its own name). Anything else, an empty line, end of input
 * or Ctrl-C is a no. A single stray `y` never approves a send.
 */
export async function confirmTyped(question: string, expected: string, streams: {input: NodeJS.ReadableStream; output: NodeJS.WritableStream} = {input: process.stdin, output: process.stderr}): Promise<boolean> {
  const {createInterface} = await import('node:readline')
  const rl = createInterface({input: streams.input, output: streams.output, terminal: (streams.input as {isTTY?: boolean}).isTTY === true})
  try {
    streams.output.write(`${question}\n  Only "${expected}" is accepted to approve; anything else cancels.\n`)
    const answer = await new Promise<string | undefined>((resolve) => {
      rl.once('close', () => resolve(undefined))
      rl.once('SIGINT', () => resolve(undefined))
      rl.question('  Enter a value: ', resolve)
    })
    return answer !== undefined && answer.trim() === expected
  } finally {
    rl.close()
  }
}
