import {execFile, spawnSync} from 'node:child_process'
import {cp, mkdir, mkdtemp, readFile, rm, symlink} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ROOT} from '../helpers/project.js'

/**
 * The README's `sh test` blocks, run top to bottom in a temporary copy of the repository (its tracked files as they
 * are now, the built dist/, node_modules linked), so the README cannot drift from what mcsend does. The format:
 *
 *   - In a block without `$ ` lines every line is a command; in a block with them only those are, and the lines
 *     after each one (up to the next `$ `) are output lines it must print (stdout or stderr), `…` standing for any text.
 *   - A command's exit code must be 0, or N when its trailing comment starts with `exit N`.
 *   - `npm install` / `npm ci` is already done: node_modules is linked and dist/ built. `npx mcsend` runs the copy's
 *     bin/run.js, which is what npx resolves it to in this repository, without npm's own start-up time.
 *   - Comment lines (`# …`) in a block without `$ ` lines, right after a command, are output lines it must print.
 */

export interface ReadmeCommand {
  /** 1-based line in README.md. */
  line: number
  command: string
  exitCode: number
  expected: string[]
}

export function readmeCommands(markdown: string): ReadmeCommand[] {
  const lines = markdown.split('\n')
  const commands: ReadmeCommand[] = []
  for (let i = 0; i < lines.length; i++) {
    if (!/^```sh test\s*$/.test(lines[i]!)) continue
    const start = i + 1
    let end = start
    while (end < lines.length && !lines[end]!.startsWith('```')) end++
    const block = lines.slice(start, end)
    const dollar = block.some((l) => l.startsWith('$ '))
    let current: ReadmeCommand | undefined
    block.forEach((text, k) => {
      const isCommand = dollar ? text.startsWith('$ ') : text.trim() !== '' && !text.startsWith('#')
      if (isCommand) {
        const raw = dollar ? text.slice(2) : text
        const comment = / #\s*(.*)$/.exec(raw)?.[1] ?? ''
        current = {line: start + k + 1, command: raw, exitCode: Number(/^exit (\d+)/.exec(comment)?.[1] ?? 0), expected: []}
        commands.push(current)
      } else if (current && text.trim() !== '') {
        if (dollar && !text.startsWith('#')) current.expected.push(text)
        if (!dollar && text.startsWith('# ')) current.expected.push(text.slice(2))
      }
    })
    i = end
  }
  return commands
}

/** An expected line as a pattern: literal text, `…` for anything, surrounding blanks ignored. */
function linePattern(expected: string): RegExp {
  const parts = expected.trim().split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  return new RegExp(parts.join('.*?'))
}

/** Done before the test (install), or the test itself (npm test would run this file again). */
const SKIPPED = /^npm (install|ci|test)\b\s*(#.*)?$/
/** `npm install && CMD`: the install is done already; CMD runs. */
const INSTALL_PREFIX = /^npm (install|ci)\s*&&\s*/

describe('README.md', () => {
  let dir: string
  let commands: ReadmeCommand[]

  beforeAll(async () => {
    commands = readmeCommands(await readFile(path.join(ROOT, 'README.md'), 'utf8'))
    dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-readme-'))
    const {stdout} = await promisify(execFile)('git', ['ls-files', '-z'], {cwd: ROOT, maxBuffer: 16 * 1024 * 1024})
    for (const file of stdout.split('\0').filter((f) => f !== '')) {
      await mkdir(path.dirname(path.join(dir, file)), {recursive: true})
      await cp(path.join(ROOT, file), path.join(dir, file)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error
      })
    }
    await cp(path.join(ROOT, 'dist'), path.join(dir, 'dist'), {recursive: true})
    await cp(path.join(ROOT, 'oclif.manifest.json'), path.join(dir, 'oclif.manifest.json'))
    await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
    // The copy is a git repository of its own, so the last test can tell what the commands left behind.
    for (const args of [['init', '-q'], ['add', '-A'], ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'copy']]) {
      await promisify(execFile)('git', args, {cwd: dir})
    }
  })
  afterAll(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('has sh test blocks that cover the walkthrough', () => {
    expect(commands.length).toBeGreaterThan(12)
    expect(commands.map((c) => c.command).join('\n')).toContain('npx mcsend apply plan.json --sandbox')
  })

  it('runs every marked shell block in order, with the documented exit codes and output', {timeout: 180_000}, () => {
    const env: NodeJS.ProcessEnv = {PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', npm_config_offline: 'true', npm_config_update_notifier: 'false'}
    for (const c of commands) {
      if (SKIPPED.test(c.command)) continue
      const command = c.command.replace(INSTALL_PREFIX, '')
      const script = `npx() { if [ "$1" = mcsend ]; then shift; node ${JSON.stringify(path.join(dir, 'bin', 'run.js'))} "$@"; else command npx "$@"; fi; }\n${command}`
      const run = spawnSync('bash', ['-c', script], {cwd: dir, env, encoding: 'utf8', timeout: 60_000})
      const output = `${run.stdout}${run.stderr}`
      const where = `README.md:${c.line}: ${c.command}\n${output}`
      expect(run.status, where).toBe(c.exitCode)
      for (const line of c.expected) expect(output, where).toMatch(linePattern(line))
    }
  })

  it('leaves no tracked file modified', async () => {
    const {stdout} = await promisify(execFile)('git', ['status', '--porcelain', '--untracked-files=no'], {cwd: dir})
    expect(stdout, (await promisify(execFile)('git', ['diff', '--stat'], {cwd: dir})).stdout).toBe('')
  })
})
