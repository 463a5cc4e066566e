import {execFile} from 'node:child_process'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ROOT, runCli} from '../helpers/project.js'
import {compileSchema} from '../helpers/schemas.js'

/** Help, version and shell completion: what a user of gh or terraform expects to find. */
describe('help, version and completion', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mcsend-help-'))
  })
  afterAll(async () => {
    await rm(dir, {recursive: true, force: true})
  })
  const help = (args: string[], columns = 100) => runCli(args, {cwd: dir, env: {OCLIF_COLUMNS: String(columns)}})

  /** The lines of one help section, without its header. */
  function section(text: string, header: string): string[] {
    const lines = text.split('\n')
    const start = lines.indexOf(header)
    expect(start, `no ${header} section in:\n${text}`).toBeGreaterThan(-1)
    const end = lines.findIndex((l, i) => i > start && /^[A-Z][A-Z ]+$/.test(l))
    return lines.slice(start + 1, end === -1 ? undefined : end).filter((l) => l.trim() !== '')
  }
  const codesIn = (text: string) => section(text, 'EXIT CODES').flatMap((l) => /^ {2}(\d+) /.exec(l)?.[1] ?? []).map(Number)

  it('-h and --help print help and exit 0, for the CLI and for a command', async () => {
    const root = await help(['-h'])
    expect(root.code, root.stderr).toBe(0)
    expect(root.stdout).toContain('COMMANDS')
    expect(root.stdout).toMatch(/^ {2}doctor /m)
    const apply = await help(['apply', '-h'])
    expect(apply.code, apply.stderr).toBe(0)
    expect(apply.stdout).toContain('$ mcsend apply [PATHS...]')
    expect((await help(['apply', '--help'])).stdout).toBe(apply.stdout)
  })

  it('-v, --version and `version --json` name the version of package.json', async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {version: string}
    for (const flag of ['-v', '--version']) {
      const out = await help([flag])
      expect(out.code, out.stderr).toBe(0)
      expect(out.stdout).toMatch(new RegExp(`^mcsend/${pkg.version.replaceAll('.', '\\.')} \\S+ node-v\\d+`))
      // bin/run.js answers these without loading oclif: the text must be the one oclif's version command prints.
      expect(out.stdout).toBe((await help(['version'])).stdout)
    }
    const json = await help(['version', '--json'])
    expect(json.code, json.stderr).toBe(0)
    const doc = JSON.parse(json.stdout) as Record<string, unknown>
    const validate = compileSchema('version')
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true)
    expect(doc.cliVersion).toBe(`mcsend/${pkg.version}`)
  })

  it('each command lists only the exit codes it can return', async () => {
    expect(codesIn((await help(['init', '-h'])).stdout)).toEqual([0, 1, 3, 64])
    expect(codesIn((await help(['apply', '-h'])).stdout)).toEqual([0, 1, 3, 4, 5, 64, 130])
    expect(codesIn((await help(['plan', '-h'])).stdout)).toEqual([0, 1, 2, 3, 5, 64])
    expect(codesIn((await help(['state', 'unlock', '-h'])).stdout)).toEqual([0, 1, 5, 64])
    // A command may give a code its own meaning.
    const sandbox = (await help(['sandbox', '-h'])).stdout
    expect(codesIn(sandbox)).toEqual([0, 1, 3, 64])
    expect(section(sandbox, 'EXIT CODES')[0]).toMatch(/^ {2}0 +stopped with Ctrl-C or SIGTERM/)
  })

  it('wrapped lines keep their indentation (the exit codes under their text)', async () => {
    const text = (await help(['apply', '-h'], 60)).stdout
    const codes = section(text, 'EXIT CODES')
    expect(codes.length).toBeGreaterThan(7)
    for (const line of codes) expect(line, text).toMatch(/^(?: {2}\d+ +\S| {7,}\S)/)
    for (const line of [...section(text, 'DESCRIPTION'), ...codes]) expect(line.length, line).toBeLessThanOrEqual(60)
  })

  it('flags are grouped: the command\'s own first, then OUTPUT and STATE, GLOBAL last; not alphabetical', async () => {
    const text = (await help(['plan', '-h'])).stdout
    const headers = text.split('\n').filter((l) => /FLAGS$/.test(l))
    expect(headers).toEqual(['FLAGS', 'OUTPUT FLAGS', 'STATE FLAGS', 'GLOBAL FLAGS'])
    expect(section(text, 'OUTPUT FLAGS').join('\n')).toContain('--json')
    expect(section(text, 'STATE FLAGS').join('\n')).toContain('--state')
    const own = section(text, 'FLAGS').map((l) => /^ {2}(--[\w-]+)/.exec(l)?.[1]).filter(Boolean)
    expect(own[0]).toBe('--out')
  })

  it('bash completion completes commands and flags', async () => {
    const cache = path.join(dir, 'cache')
    const env = {XDG_CACHE_HOME: cache, HOME: dir}
    const setup = await runCli(['autocomplete', 'bash'], {cwd: dir, env})
    expect(setup.code, setup.stderr).toBe(0)
    const script = path.join(cache, 'mcsend', 'autocomplete', 'functions', 'bash', 'mcsend.bash')
    const complete = async (words: string[]) => {
      const line = `source ${JSON.stringify(script)}; COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${words.length - 1}; _mcsend_autocomplete; echo "\${COMPREPLY[@]}"`
      const {stdout} = await promisify(execFile)('bash', ['-c', line])
      return stdout.trim().split(/\s+/)
    }
    expect(await complete(['mcsend', 'apply', '--auto'])).toEqual(['--auto-approve'])
    expect(await complete(['mcsend', 'val'])).toEqual(['validate'])
  })
})
