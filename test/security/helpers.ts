import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {onTestFinished} from 'vitest'

import {runCli, type RunResult} from '../helpers/project.js'

export {runCli, type RunResult}

/** A throw-away project directory holding the given files (paths relative to it). */
export async function hostileProject(files: Record<string, string | Buffer>): Promise<{dir: string; cleanup: () => Promise<void>}> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-security-'))
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name)
    await mkdir(path.dirname(file), {recursive: true})
    await writeFile(file, content)
  }
  return {dir, cleanup: () => rm(dir, {recursive: true, force: true})}
}

/** A hostileProject removed when the current test finishes; returns its directory. */
export async function projectDir(files: Record<string, string | Buffer>): Promise<string> {
  const p = await hostileProject(files)
  onTestFinished(() => p.cleanup())
  return p.dir
}

/** A manifest with the given extra lines (YAML) after the header fields. */
export function manifest(options: {name?: string; definitionKey?: string; attributes?: string[]; recipients: string[]}): string {
  const lines = ['apiVersion: mcsend/v1', 'kind: Send', `name: ${options.name ?? 'hostile'}`, `definitionKey: ${options.definitionKey ?? 'welcome-email'}`]
  if (options.attributes && options.attributes.length > 0) lines.push('attributes:', ...options.attributes.map((a) => `  ${a}`))
  lines.push('recipients:', ...options.recipients.map((r) => `  ${r}`))
  return `${lines.join('\n')}\n`
}

/** Everything a person or a log would see: no raw control character may be in it. */
// eslint-disable-next-line no-control-regex
export const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/
