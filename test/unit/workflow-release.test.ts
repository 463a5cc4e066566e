import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {parseProject} from '../../src/manifest/project.js'
import {MARKDOWN_MARKER} from '../../src/render/plan-markdown.js'
import {readExampleWorkflow, readExampleWorkflowText, runs, type Job} from '../helpers/workflow.js'

const read = readExampleWorkflowText
const workflow = readExampleWorkflow('mcsend-release.yml')
const step = (job: Job, name: string) => job.steps.find((s) => s.name === name)!

describe('examples/github-actions/mcsend-release.yml', () => {
  it('runs on pull requests, on pushes to main and when a GitHub release is published', () => {
    expect(Object.keys(workflow.on).sort()).toEqual(['pull_request', 'push', 'release'])
    expect(workflow.on.push?.branches).toEqual(['main'])
    expect(workflow.on.release?.types).toEqual(['published'])
    expect(workflow.on.pull_request?.paths).toContain('mcsend.yaml')
  })

  it('plans every environment of mcsend.yaml on pull requests, without Marketing Cloud credentials', () => {
    const plan = workflow.jobs.plan!
    expect(plan.if).toContain("github.event_name == 'pull_request'")
    const project = parseProject(read('mcsend.yaml'), 'mcsend.yaml').project!
    expect(plan.strategy?.matrix.environment).toEqual(Object.keys(project.environments))
    expect(plan.env?.MCSEND_ENV).toBe('${{ matrix.environment }}')
    expect(runs(plan)).toMatch(/npx mcsend plan "\$SENDS" --env "\$MCSEND_ENV" --out "plan-\$MCSEND_ENV\.json" --format markdown --detailed-exitcode/)
    expect(runs(plan)).toMatch(/if \[ "\$code" -ne 0 \] && \[ "\$code" -ne 2 \]; then exit "\$code"; fi/)
    expect(runs(plan)).not.toMatch(/mcsend apply/)
    expect(JSON.stringify(plan)).not.toMatch(/CLIENT_(ID|SECRET)/)
    // One comment per environment: the plan marker and an environment marker.
    const comment = plan.steps.find((s) => s.uses?.startsWith('actions/github-script'))!
    expect(comment.env?.MARKER).toBe(MARKDOWN_MARKER)
    expect(comment.with?.script).toContain('mcsend-env: ${process.env.MCSEND_ENV}')
    expect(plan.concurrency?.group).toContain('${{ matrix.environment }}')
  })

  it('applies to the protected prod environment on merge and on a published release, one run at a time', () => {
    const apply = workflow.jobs.apply!
    expect(apply.if).toContain("github.ref == 'refs/heads/main'")
    expect(apply.if).toContain("github.event_name == 'release'")
    expect(apply.environment).toBe('production')
    expect(apply.concurrency).toEqual({group: 'mcsend-apply-prod', 'cancel-in-progress': false})
    const project = parseProject(read('mcsend.yaml'), 'mcsend.yaml').project!
    const prod = project.environments.prod!
    expect(prod.protected).toBe(true)
    // The credential variables the project file names come from secrets, never inline.
    expect(apply.env?.[prod.clientIdEnv!]).toBe(`\${{ secrets.${prod.clientIdEnv} }}`)
    expect(apply.env?.[prod.clientSecretEnv!]).toBe(`\${{ secrets.${prod.clientSecretEnv} }}`)
    expect(apply.env?.MCSEND_ENV).toBe('prod')
    expect(runs(apply)).toMatch(/npx mcsend plan "\$SENDS" --env prod --out plan\.json --detailed-exitcode/)
    expect(runs(apply)).toMatch(/npx mcsend apply plan\.json --env prod --auto-approve/)
  })

  it('passes the published release tag as the version variables', () => {
    const s = step(workflow.jobs.apply!, 'Release variables')
    expect(s.env?.RELEASE_TAG).toBe('${{ github.event.release.tag_name }}')
    // The step's script, run with a tag, writes the variables mcsend reads (MCSEND_VAR_<name>).
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mcsend-gha-'))
    try {
      const file = path.join(dir, 'env')
      execFileSync('bash', ['-c', s.run!], {cwd: dir, env: {PATH: process.env.PATH, RELEASE_TAG: 'v4.3.0-RC.1', GITHUB_ENV: file}})
      expect(readFileSync(file, 'utf8').trim().split('\n')).toEqual(['MCSEND_VAR_version=4.3.0-RC.1', 'MCSEND_VAR_version_slug=4-3-0-rc-1'])
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('ships a project file that passes its schema and keeps secrets out of it', () => {
    const text = read('mcsend.yaml')
    const {project, problems} = parseProject(text, 'mcsend.yaml')
    expect(problems).toEqual([])
    expect(project?.defaultEnvironment).toBe('dev')
    expect(text).toContain('${env.MCSEND_PG_PASSWORD}')
    expect(text).not.toMatch(/password:|secret:\s*\S/i)
  })
})
