import {appendFile, readFile, rm, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {describe, expect, it, type TestContext} from 'vitest'

import {MARKDOWN_MARKER} from '../../src/render/plan-markdown.js'
import {makeProject, runCli, type Project} from '../helpers/project.js'
import {compileSchema} from '../helpers/schemas.js'

// End to end: the built CLI (bin/run.js, built by `pretest`) against the in-process sandbox (--sandbox).

// Each test spawns the CLI several times; they run concurrently (separate processes, separate directories).
// Cleanup goes through the test's own context: the global hook would pick whichever concurrent test is current.
async function project(t: TestContext, recipients = 1200): Promise<Project> {
  const p = await makeProject({recipients, batchSize: 500})
  t.onTestFinished(() => p.cleanup())
  return p
}

async function outboxKeys(p: Project): Promise<string[]> {
  try {
    const text = await readFile(path.join(p.dir, '.mcsend/sandbox/outbox.ndjson'), 'utf8')
    return text.split('\n').filter((l) => l.trim() !== '').map((l) => (JSON.parse(l) as {messageKey: string}).messageKey)
  } catch {
    return []
  }
}

async function savedKeys(p: Project, file = 'plan.json'): Promise<string[]> {
  const saved = JSON.parse(await readFile(path.join(p.dir, file), 'utf8')) as {sends: {batches: {messages: {messageKey: string}[]}[]}[]}
  return saved.sends.flatMap((s) => s.batches.flatMap((b) => b.messages.map((m) => m.messageKey)))
}

describe.concurrent('saved plans: plan --out, apply FILE, show FILE', () => {
  it('applies exactly the saved plan once, then refuses it as stale because the state moved', async (t) => {
    const p = await project(t)
    const summary = path.join(p.dir, 'summary.md')
    await writeFile(summary, '# earlier step\n')
    const plan = await runCli(['plan', 'send.yaml', '--sandbox', '--out', 'plan.json', '--format', 'markdown', '--detailed-exitcode'], {
      cwd: p.dir,
      env: {GITHUB_STEP_SUMMARY: summary},
    })
    expect(plan.code, plan.stderr).toBe(2)
    expect(plan.stdout.split('\n')[0]).toBe(MARKDOWN_MARKER)
    expect(plan.stdout.split('\n')[1]).toBe('### Merging sends 1,200 emails to the sandbox')
    expect(plan.stdout).toContain('**1,200 messages** in 3 requests across 1 send.')
    expect(plan.stdout).toContain('| `ReleaseVersion` | `1.0.0` |')
    expect(plan.stdout).toContain('| `people.csv` | 1,200 | 1,200 | 0 |')
    expect(plan.stdout).toContain('**Requests:** 3 requests: 2 of 500 messages and 1 of 200.')
    // Outside CI there is no commit or run to name.
    expect(plan.stdout).not.toMatch(/Commit|CI run/)
    expect(plan.stdout).not.toContain('c1@example.com')
    expect(plan.stderr).toContain('apply plan.json --sandbox')
    // The step summary got the same Markdown, appended after what was there.
    const stepSummary = await readFile(summary, 'utf8')
    expect(stepSummary.startsWith('# earlier step\n')).toBe(true)
    expect(stepSummary).toContain(MARKDOWN_MARKER)

    const savedText = await readFile(path.join(p.dir, 'plan.json'), 'utf8')
    const validate = compileSchema('saved-plan')
    expect(validate(JSON.parse(savedText)), JSON.stringify(validate.errors)).toBe(true)
    expect(savedText).not.toMatch(/c\d+@example\.com/)
    const keys = await savedKeys(p)
    expect(keys).toHaveLength(1200)

    const apply = await runCli(['apply', 'plan.json', '--sandbox', '--json'], {cwd: p.dir})
    expect(apply.code, apply.stderr).toBe(0)
    const validateEvent = compileSchema('apply-events')
    const events = apply.stdout.trim().split('\n').map((l) => JSON.parse(l) as {type: string})
    for (const e of events) expect(validateEvent(e), `${JSON.stringify(e)}: ${JSON.stringify(validateEvent.errors)}`).toBe(true)
    expect(events.map((e) => e.type).filter((t) => t !== 'batch_started')).toEqual(['plan', 'batch_finished', 'batch_finished', 'batch_finished', 'summary'])
    expect(events[0]).toMatchObject({type: 'plan', savedPlan: 'plan.json'})
    expect(events.at(-1)).toMatchObject({type: 'summary', accepted: 1200, exitCode: 0})
    expect((await outboxKeys(p)).sort()).toEqual([...keys].sort())

    const again = await runCli(['apply', 'plan.json', '--sandbox'], {cwd: p.dir})
    expect(again.code, again.stderr).toBe(5)
    expect(again.stderr).toContain('error: the saved plan plan.json is stale; nothing was sent')
    expect(again.stderr).toMatch(/state: \.mcsend\/sandbox\/state\.json changed since the plan \(serial 0 → 1\)/)
    expect(again.stderr).toContain('hint: run `mcsend plan --out FILE` again')
    expect(await outboxKeys(p)).toHaveLength(1200)

    // Nothing left to send: --detailed-exitcode says 0.
    const after = await runCli(['plan', 'send.yaml', '--sandbox', '--detailed-exitcode', '--no-step-summary'], {cwd: p.dir, env: {GITHUB_STEP_SUMMARY: summary}})
    expect(after.code, after.stderr).toBe(0)
    expect(after.stdout).toContain('Plan: nothing to send across 1 send (1,200 already sent).')
    expect(await readFile(summary, 'utf8')).toBe(stepSummary)
  })

  it('refuses the plan when a CSV changed after plan --out, naming the file, and sends nothing', async (t) => {
    const p = await project(t, 10)
    expect((await runCli(['plan', '--sandbox', '--out', 'plan.json'], {cwd: p.dir})).code).toBe(0)
    await appendFile(path.join(p.dir, 'people.csv'), 'late,late@example.com\n')
    const apply = await runCli(['apply', 'plan.json', '--sandbox'], {cwd: p.dir})
    expect(apply.code).toBe(5)
    expect(apply.stderr).toMatch(/file: people\.csv changed since the plan \(sha256 [0-9a-f]{12} → [0-9a-f]{12}\)/)
    expect(apply.stderr).not.toContain('late@example.com')
    expect(await outboxKeys(p)).toEqual([])
  })

  it('refuses a plan written in another format version, and a deleted manifest, sending nothing', async (t) => {
    const p = await project(t, 10)
    expect((await runCli(['plan', 'send.yaml', '--sandbox', '--out', 'plan.json'], {cwd: p.dir})).code).toBe(0)
    const file = path.join(p.dir, 'plan.json')
    const text = await readFile(file, 'utf8')
    await writeFile(path.join(p.dir, 'old.json'), text.replace('"formatVersion":1,', '"formatVersion":0,'))
    const old = await runCli(['apply', 'old.json', '--sandbox'], {cwd: p.dir})
    expect(old.code).toBe(5)
    expect(old.stderr).toMatch(/format: the plan was written in format version 0 by mcsend \S+; this mcsend reads version 1/)

    await rm(path.join(p.dir, 'send.yaml'))
    const changed = await runCli(['apply', 'plan.json', '--sandbox', '--json'], {cwd: p.dir})
    expect(changed.code).toBe(5)
    const line = JSON.parse(changed.stdout.trim()) as {error: {code: string; details: string[]}}
    expect(compileSchema('apply-events')(line)).toBe(true)
    expect(line.error.code).toBe('stale_plan')
    expect(line.error.details.join('\n')).toMatch(/file: send\.yaml is missing/)
    expect(await outboxKeys(p)).toEqual([])
  })

  it('shows a saved plan as text, JSON and Markdown', async (t) => {
    const p = await project(t, 30)
    expect((await runCli(['plan', '--sandbox', '--out', 'plan.json'], {cwd: p.dir})).code).toBe(0)
    const text = await runCli(['show', 'plan.json'], {cwd: p.dir})
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^Saved plan plan\.json: made \S+ by mcsend \S+ against \.mcsend\/sandbox\/state\.json \(new state\), for the sandbox\./)
    expect(text.stdout).toContain('Plan: 30 messages to send in 1 request across 1 send.')
    const json = await runCli(['show', 'plan.json', '--json'], {cwd: p.dir})
    expect(json.code).toBe(0)
    const doc = JSON.parse(json.stdout) as {summary: {toSend: number}}
    expect(compileSchema('plan')(doc)).toBe(true)
    expect(doc.summary.toSend).toBe(30)
    const md = await runCli(['show', 'plan.json', '--format', 'markdown'], {cwd: p.dir})
    expect(md.code).toBe(0)
    expect(md.stdout.split('\n')[0]).toBe(MARKDOWN_MARKER)
    expect(md.stdout).toContain('Apply exactly this plan with `mcsend apply plan.json --sandbox`.')
    for (const out of [text.stdout, json.stdout, md.stdout]) expect(out).not.toMatch(/c\d+@example\.com/)
  })
})

describe('plan --detailed-exitcode', () => {
  it('exits 3, not 2, when any manifest is invalid, even if another has something to send', async (t) => {
    const p = await project(t, 5)
    await writeFile(path.join(p.dir, 'broken.yaml'), 'apiVersion: mcsend/v1\nkind: Send\nname: broken\n')
    const result = await runCli(['plan', 'send.yaml', 'broken.yaml', '--detailed-exitcode', '--format', 'markdown'], {cwd: p.dir})
    expect(result.code).toBe(3)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('broken.yaml')
    const json = await runCli(['plan', '--detailed-exitcode', '--json'], {cwd: p.dir})
    expect(json.code).toBe(3)
  })
})
