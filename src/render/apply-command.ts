/** The command that applies a saved plan, for the hints of plan --out, show and the Markdown. */
export function applyCommand(file: string, sandbox: boolean | undefined): string {
  return `mcsend apply ${file}${sandbox ? ' --sandbox' : ''}`
}
