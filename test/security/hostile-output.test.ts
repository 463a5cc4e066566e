import {readFile, stat} from 'node:fs/promises'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {startSandboxProcess, type SandboxProcess} from '../helpers/sandbox-process.js'
import {projectDir, manifest, RAW_CONTROL, runCli} from './helpers.js'

const project = projectDir

/** The four shapes the review found unmasked, as contactKeys and as shared attributes. */
const SHAPES = ['Ck Name <ck.angle@example.com>', 'ck.two@example.com;ck.three@example.com', 'ck.trailing@example.com x', '\\"ck quoted\\"@example.com']
const CLEAR = ['ck.angle@', 'ck.two@', 'ck.three@', 'ck.trailing@', 'ck quoted"@']

function maskingManifest(): string {
  return manifest({
    attributes: [`SharedMail: "shared.person@corp.example"`, ...SHAPES.map((s, i) => `Shape${i}: "${s}"`)],
    recipients: ['- inline:', ...SHAPES.map((s, i) => `    - {contactKey: "${s}", to: r${i}@example.com}`)],
  })
}

function expectNoClearAddress(text: string): void {
  for (const clear of CLEAR) expect(text).not.toContain(clear)
  expect(text).not.toContain('shared.person@')
  expect(text).not.toMatch(/\br\d@example\.com/)
}

describe('addresses inside values are masked in every output', () => {
  it('plan text, JSON, Markdown and the saved plan (0600)', async () => {
    const dir = await project({'send.yaml': maskingManifest()})
    const text = await runCli(['plan', 'send.yaml'], {cwd: dir})
    expect(text.code).toBe(0)
    expectNoClearAddress(text.stdout)
    expect(text.stdout).toContain('Shape0="Ck Name <c***@example.com>"')
    expect(text.stdout).toContain('SharedMail="s***@corp.example"')

    const json = await runCli(['plan', 'send.yaml', '--json'], {cwd: dir})
    expect(json.code).toBe(0)
    expectNoClearAddress(json.stdout)
    const doc = JSON.parse(json.stdout) as {sends: {attributes: Record<string, string>; batches: {messages: {contactKey: string}[]}[]}[]}
    expect(doc.sends[0]!.batches[0]!.messages.map((m) => m.contactKey)).toEqual([
      'Ck Name <c***@example.com>',
      'c***@example.com;c***@example.com',
      'c***@example.com x',
      'c***@example.com',
    ])

    const md = await runCli(['plan', 'send.yaml', '--format', 'markdown', '--out', 'plan.json'], {cwd: dir})
    expect(md.code).toBe(0)
    expectNoClearAddress(md.stdout)
    expect(md.stdout).toContain('Ck Name &lt;c***@&#8203;example.com&gt;')

    const saved = await readFile(path.join(dir, 'plan.json'), 'utf8')
    expectNoClearAddress(saved)
    expect((await stat(path.join(dir, 'plan.json'))).mode & 0o777).toBe(0o600)
    const shown = await runCli(['show', 'plan.json'], {cwd: dir})
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout).toContain('Plan: ')
    expectNoClearAddress(shown.stdout)
  })

  it('apply output in credentials mode (the sandbox as its own process), and the outbox is 0600 in a 0700 directory', async () => {
    const dir = await project({'send.yaml': maskingManifest()})
    let sandbox: SandboxProcess | undefined
    try {
      sandbox = await startSandboxProcess({dataDir: path.join(dir, 'outbox-dir')})
      const run = await runCli(['apply', 'send.yaml', '--auto-approve'], {cwd: dir, env: sandbox.env})
      expect(run.stderr).not.toContain('error')
      expect(run.code).toBe(0)
      expect(run.stdout).toContain('4 accepted')
      expectNoClearAddress(run.stdout)
      expect((await stat(path.join(sandbox.dataDir, 'outbox.ndjson'))).mode & 0o777).toBe(0o600)
      expect((await stat(sandbox.dataDir)).mode & 0o777).toBe(0o700)
    } finally {
      await sandbox?.stop()
    }
  })

  it('apply --sandbox output', async () => {
    const dir = await project({'send.yaml': maskingManifest()})
    const run = await runCli(['apply', 'send.yaml', '--sandbox', '--auto-approve'], {cwd: dir})
    expect(run.code).toBe(0)
    expectNoClearAddress(run.stdout + run.stderr)
    expect((await stat(path.join(dir, '.mcsend/sandbox/outbox.ndjson'))).mode & 0o777).toBe(0o600)
    expect((await stat(path.join(dir, '.mcsend/sandbox'))).mode & 0o777).toBe(0o700)
  })
})

describe('HTML and Markdown injection into the pull-request comment', () => {
  it('a definitionKey with line breaks is refused, located, with the break shown escaped', async () => {
    const dir = await project({
      'send.yaml': manifest({definitionKey: '"x\\n\\n</details>\\n\\n<img src=https://evil.example/t.png>\\n\\n# PWNED @-mention"', recipients: ['- inline: [{contactKey: ann, to: ann@example.com}]']}),
    })
    const run = await runCli(['plan', 'send.yaml', '--format', 'markdown'], {cwd: dir})
    expect(run.code).toBe(3)
    expect(run.stdout).toBe('')
    expect(run.stderr).toContain('send.yaml:4:16  definitionKey  must not contain control characters (found \\n at character 2)')
  })

  it('a definitionKey, a contactKey and a file name cannot break out of the table or <details>, render an image or link, or mention', async () => {
    const dir = await project({
      'send.yaml': manifest({
        definitionKey: '"x </details> <img src=https://evil.example/t.png> # PWNED @mention"',
        recipients: ['- inline: [{contactKey: "![t](https://evil.example/p.png) @someone [c](https://evil.example)", to: ann@example.com}]'],
      }),
      'x\n\n# PWNED heading.yaml': manifest({name: 'second', recipients: ['- inline: [{contactKey: bob, to: bob@example.com}]']}),
    })
    const run = await runCli(['plan', '.', '--format', 'markdown'], {cwd: dir})
    expect(run.code).toBe(0)
    const md = run.stdout
    expect(md).not.toMatch(/<img|!\[|\]\(|https:\/\/|@someone|@mention/)
    expect(md).not.toMatch(/^#+ PWNED/m)
    // One collapsed block per send (the sample's messageKeys), each closed by the renderer, none by a value.
    expect((md.match(/<details>/g) ?? []).length).toBe(2)
    expect((md.match(/<\/details>/g) ?? []).length).toBe(2)
    expect(md).toContain('&lt;/details&gt; &lt;img src=https:&#8203;//evil.example/t.png&gt; &#35; PWNED @&#8203;mention')
    expect(md).toContain('&#33;&#91;t&#93;&#40;https:&#8203;//evil.example/p.png&#41; @&#8203;someone &#91;c&#93;&#40;https:&#8203;//evil.example&#41;')
    expect(md).toContain('<code>x&#92;n&#92;n&#35; PWNED heading.yaml</code> line 1')
    // Every table row keeps its column count.
    const lines = md.split('\n')
    for (const [i, line] of lines.entries()) {
      if (!/^\|[-:|]+\|$/.test(line)) continue
      const cols = lines[i - 1]!.split('|').length
      for (let j = i + 1; j < lines.length && lines[j]!.startsWith('|'); j++) expect(lines[j]!.split('|').length).toBe(cols)
    }
  })
})

describe('terminal injection', () => {
  it('escape sequences in a definitionKey or contactKey are refused, and the refusal shows them escaped', async () => {
    const dir = await project({
      'send.yaml': manifest({definitionKey: '"welcome\\e[2J"', recipients: ['- inline: [{contactKey: "ann\\e[1A\\e[2K", to: ann@example.com}]']}),
    })
    const run = await runCli(['plan', 'send.yaml'], {cwd: dir})
    expect(run.code).toBe(3)
    expect(run.stderr).not.toMatch(RAW_CONTROL)
    expect(run.stderr).toContain('definitionKey  must not contain control characters (found \\x1b at character 8)')
    expect(run.stderr).toContain('recipients[0].inline[0].contactKey  must not contain control characters (found \\x1b at character 4)')
  })

  it('a file name with escape sequences is printed escaped in plan, and in the plan apply shows before sending', async () => {
    const evil = 'a\u001b[2J\u001b[1A\u001b[2K.yaml'
    const dir = await project({[evil]: manifest({recipients: ['- inline: [{contactKey: ann, to: ann@example.com}]']})})
    const plan = await runCli(['plan', '.'], {cwd: dir})
    expect(plan.code).toBe(0)
    expect(plan.stdout).not.toMatch(RAW_CONTROL)
    expect(plan.stdout).toContain('(a\\x1b[2J\\x1b[1A\\x1b[2K.yaml:1)')
    const apply = await runCli(['apply', '.', '--sandbox', '--auto-approve'], {cwd: dir})
    expect(apply.code).toBe(0)
    expect(apply.stdout + apply.stderr).not.toMatch(RAW_CONTROL)
    expect(apply.stdout).toContain('(a\\x1b[2J\\x1b[1A\\x1b[2K.yaml:1)')
  })
})

describe('every JSON document goes through one writer that escapes what a terminal acts on', () => {
  // A C1 CSI (0x9b) and a right-to-left override in a state file name: JSON.stringify leaves both raw.
  const evil = 'st\u009b2J\u202egpj.json'

  it('apply --json lines, state list --json, state rm --json and an error document', async () => {
    const dir = await project({'send.yaml': manifest({recipients: ['- inline: [{contactKey: ann, to: ann@example.com}]']})})
    const apply = await runCli(['apply', 'send.yaml', '--sandbox', '--auto-approve', '--json', '--state', evil], {cwd: dir})
    const list = await runCli(['state', 'list', '--json', '--state', evil], {cwd: dir})
    const rm = await runCli(['state', 'rm', '--send', 'nope', '--yes', '--json', '--state', evil], {cwd: dir})
    expect([apply.code, list.code, rm.code], apply.stderr + list.stderr + rm.stderr).toEqual([0, 0, 3])
    for (const run of [apply, list, rm]) {
      expect(run.stdout).not.toMatch(RAW_CONTROL)
      expect(run.stdout).toContain('\\u009b2J\\u202egpj.json')
      // Each line is one document, and they parse back to the real file name.
      const docs = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown)
      expect(JSON.stringify(docs)).toContain(evil)
    }
    expect(apply.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(3)
    expect(JSON.parse(rm.stdout)).toMatchObject({error: {code: 'invalid_input'}, valid: false})
  })

  it('init --json names the files it wrote, escaped', async () => {
    const dir = await project({})
    const init = await runCli(['init', evil.replace('.json', ''), '--json'], {cwd: dir})
    expect(init.code, init.stderr).toBe(0)
    expect(init.stdout).not.toMatch(RAW_CONTROL)
    expect(init.stdout).toContain('\\u009b2J\\u202egpj')
  })
})

describe('CI denial of service', () => {
  it('a 200 KB contactKey shaped like the quadratic case is refused at once, with a short message', async () => {
    const key = `x@${'a.'.repeat(100_000)}a `
    const dir = await project({'send.yaml': manifest({recipients: [`- inline: [{contactKey: "${key}", to: ann@example.com}]`]})})
    for (const args of [['plan', 'send.yaml'], ['plan', 'send.yaml', '--format', 'markdown']]) {
      const run = await runCli(args, {cwd: dir})
      expect(run.code).toBe(3)
      expect(run.stderr).toContain("contactKey  must be at most 254 characters, Marketing Cloud's limit (it has 200004)")
      expect(run.stderr.length).toBeLessThan(1000)
    }
  })

  it('a 200 KB shared attribute of that shape is planned and rendered, masked', async () => {
    const value = `x@${'a.'.repeat(100_000)}a `
    const dir = await project({'send.yaml': manifest({attributes: [`Long: "${value}"`], recipients: ['- inline: [{contactKey: ann, to: ann@example.com}]']})})
    const text = await runCli(['plan', 'send.yaml'], {cwd: dir})
    expect(text.code).toBe(0)
    expect(text.stdout).toContain('Long="x***@a.a.a.')
    const md = await runCli(['plan', 'send.yaml', '--format', 'markdown'], {cwd: dir})
    expect(md.code).toBe(0)
    expect(md.stdout).toContain('### Merging sends 1 email to ')
    // The shared attribute is shown masked and cut, so it cannot crowd out the rest of the comment.
    expect(md.stdout).toMatch(/\| `Long` \| <code>x\*\*\*@&#8203;a\.a\.a\.[a.]*…<\/code> \(200,004 characters\) \|/)
    expect(md.stdout.length).toBeLessThan(10_000)
  })
})
