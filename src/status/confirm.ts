/** Prompts of the state commands that forget records: on a terminal only, on stderr. */

/** True when a prompt is needed but impossible: no --yes and stdin or stderr is not a terminal. */
export function needsConfirmation(yes: boolean, streams: {stdin: {isTTY?: boolean}; stderr: {isTTY?: boolean}} = process): boolean {
  return !yes && !(streams.stdin.isTTY === true && streams.stderr.isTTY === true)
}

export async function confirmRemoval(message: string): Promise<boolean> {
  const {default: confirm} = await import('@inquirer/confirm')
  return confirm({message, default: false}, {output: process.stderr})
}
