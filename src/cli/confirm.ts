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
