/** What init wrote (core/init.ts's ScaffoldResult). */
export interface InitSummary {
  created: string[]
  gitignore: {file: string; added: string[]; created: boolean}
  next: string[]
}

/** What `mcsend init` wrote and the commands to run next (from the same directory). */
export function renderInitText(result: InitSummary): string {
  const lines = [`Created ${result.created.join(', ')}.`]
  const {gitignore} = result
  if (gitignore.added.length > 0) lines.push(`${gitignore.created ? 'Created' : 'Updated'} ${gitignore.file}: ${gitignore.added.join(', ')}.`)
  lines.push('', 'Next, from this directory:', ...result.next.map((c) => `  ${c}`))
  return `${lines.join('\n')}\n`
}
