import {describe, expect, it} from 'vitest'

import {MARKDOWN_MARKER} from '../../src/render/plan-markdown.js'
import {readExampleWorkflow, readExampleWorkflowText, runs} from '../helpers/workflow.js'

const text = readExampleWorkflowText('mcsend.yml')
const workflow = readExampleWorkflow('mcsend.yml')

describe('examples/github-actions/mcsend.yml', () => {
  it('is triggered by pull requests and by pushes to main', () => {
    expect(Object.keys(workflow.on).sort()).toEqual(['pull_request', 'push'])
    expect(workflow.on.push?.branches).toEqual(['main'])
  })

  it('plans on pull requests: validate, then plan --out with Markdown and --detailed-exitcode, exit 2 counted as success', () => {
    const plan = workflow.jobs.plan!
    expect(plan.if).toContain("github.event_name == 'pull_request'")
    const script = runs(plan)
    expect(script).toMatch(/npx mcsend validate/)
    expect(script).toMatch(/npx mcsend plan .*--out plan\.json --format markdown --detailed-exitcode/)
    // 0 and 2 pass; any other code fails the step.
    expect(script).toMatch(/if \[ "\$code" -ne 0 \] && \[ "\$code" -ne 2 \]; then exit "\$code"; fi/)
    expect(plan.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'))?.with?.path).toBe('plan.json')
    expect(plan.permissions?.['pull-requests']).toBe('write')
  })

  it('updates one comment found by the marker instead of adding one per push', () => {
    const step = workflow.jobs.plan!.steps.find((s) => s.uses?.startsWith('actions/github-script'))!
    expect(step.env?.MARKER).toBe(MARKDOWN_MARKER)
    const script = step.with?.script ?? ''
    expect(script).toContain('body?.includes(marker)')
    expect(script).toContain('updateComment')
    expect(script.indexOf('updateComment')).toBeLessThan(script.indexOf('createComment'))
  })

  it('applies on main only, one run at a time, with credentials from repository secrets', () => {
    const apply = workflow.jobs.apply!
    expect(apply.if).toContain("github.ref == 'refs/heads/main'")
    expect(apply.concurrency).toEqual({group: 'mcsend-apply', 'cancel-in-progress': false})
    for (const name of ['MCSEND_CLIENT_ID', 'MCSEND_CLIENT_SECRET', 'MCSEND_SUBDOMAIN']) {
      expect(apply.env?.[name]).toBe(`\${{ secrets.${name} }}`)
    }
    // No credential is written inline anywhere in the file.
    for (const [key, value] of Object.entries(apply.env ?? {})) if (key.startsWith('MCSEND_')) expect(value).toMatch(/^\$\{\{ secrets\.[A-Z_]+ \}\}$/)
    expect(runs(apply)).toMatch(/npx mcsend apply plan\.json/)
    expect(runs(workflow.jobs.plan!)).not.toMatch(/mcsend apply/)
  })

  it('commits the state file back even when apply fails part-way, unless a shared state is configured', () => {
    const step = workflow.jobs.apply!.steps.find((s) => s.run?.includes('git push'))!
    expect(step.if).toContain('always()')
    expect(step.if).toContain("env.MCSEND_STATE == ''")
    expect(step.run).toContain('git add .mcsend/state.json')
    expect(step.run).toContain('[skip ci]')
    expect(workflow.jobs.apply!.permissions?.contents).toBe('write')
  })

  it('plans pull requests against the state apply uses, without Marketing Cloud credentials', () => {
    const plan = workflow.jobs.plan!
    expect(plan.env?.MCSEND_STATE).toBe(workflow.jobs.apply!.env?.MCSEND_STATE)
    expect(plan.env?.MCSEND_STATE).toBe('${{ secrets.MCSEND_STATE_URL }}')
    expect(text.match(/secrets\.MCSEND_CLIENT_SECRET/g)).toHaveLength(1)
    expect(Object.keys(plan.env ?? {})).toEqual(['MCSEND_STATE'])
  })
})
