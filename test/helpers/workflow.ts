import {readFileSync} from 'node:fs'

import {parse} from 'yaml'

/** The parts of a GitHub Actions workflow the example workflow tests read. */
export interface Step {
  name?: string
  id?: string
  uses?: string
  run?: string
  if?: string
  env?: Record<string, string>
  with?: Record<string, string>
}
export interface Job {
  if?: string
  environment?: string
  permissions?: Record<string, string>
  concurrency?: {group: string; 'cancel-in-progress': boolean}
  strategy?: {matrix: {environment: string[]}}
  env?: Record<string, string>
  steps: Step[]
}
export interface Workflow {
  on: Record<string, {branches?: string[]; paths?: string[]; types?: string[]}>
  jobs: Record<string, Job>
}

/** The text of a file of examples/github-actions/. */
export function readExampleWorkflowText(file: string): string {
  return readFileSync(new URL(`../../examples/github-actions/${file}`, import.meta.url), 'utf8')
}

/** An example workflow, parsed strictly (a duplicate key fails). */
export function readExampleWorkflow(file: string): Workflow {
  return parse(readExampleWorkflowText(file), {uniqueKeys: true}) as Workflow
}

/** Every `run:` of a job, one after the other. */
export function runs(job: Job): string {
  return job.steps.map((s) => s.run ?? '').join('\n')
}
