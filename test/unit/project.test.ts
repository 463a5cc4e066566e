import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {applyEnvironment, findProjectFile} from '../../src/core/environment.js'
import {chooseEnvironment, parseProject, projectVariablesLayer} from '../../src/manifest/project.js'
import {compileSchema} from '../helpers/schemas.js'
import {PROJECT_FILE_HEAD} from '../helpers/manifests.js'

const PROJECT = [
  ...PROJECT_FILE_HEAD,
  '  dev:',
  '    subdomain: mc-dev',
  '    accountId: "100001"',
  '    state: .mcsend/dev/state.json',
  '    clientIdEnv: DEV_ID',
  '    clientSecretEnv: DEV_SECRET',
  '    vars:',
  '      notes_url: https://staging.example.com',
  '  prod:',
  '    authUrl: https://mc-prod.auth.marketingcloudapis.com/',
  '    accountId: "200002"',
  '    state: postgres://mcsend:${env.PGPASSWORD}@db.internal:5432/sends',
  '    clientIdEnv: PROD_ID',
  '    clientSecretEnv: PROD_SECRET',
  '    protected: true',
  '',
].join('\n')

const located = (problems: {file: string; line?: number; column?: number; message: string}[]) => problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.message}`)

describe('the project file', () => {
  it('parses environments and locates their variable values', () => {
    const {project, problems} = parseProject(PROJECT, 'mcsend.yaml')
    expect(problems).toEqual([])
    expect(Object.keys(project!.environments)).toEqual(['dev', 'prod'])
    const layer = projectVariablesLayer(project!, 'dev')
    expect(layer.get('notes_url')).toMatchObject({value: 'https://staging.example.com', place: {file: 'mcsend.yaml', line: 13, column: 18}, source: 'environment dev'})
    expect(projectVariablesLayer(project!, 'prod').size).toBe(0)
  })

  it('locates every mistake', () => {
    const bad = PROJECT.replace('defaultEnvironment: dev', 'defaultEnvironment: dve')
      .replace('    accountId: "100001"', '    accountId: 100001\n    authUrl: http://mc.example.com/')
      .replace('clientIdEnv: PROD_ID', 'clientIdEnv: the id')
      .replace('protected: true', 'protect: true')
    const {project, problems} = parseProject(bad, 'mcsend.yaml')
    expect(project).toBeUndefined()
    expect(located(problems)).toEqual([
      'mcsend.yaml:8:16 must be a string, not a number (quote it: "100001")',
      'mcsend.yaml:19:18 must match ^[A-Za-z_][A-Za-z0-9_]*$',
      'mcsend.yaml:21:5 unknown field "protect" (did you mean "protected"?)',
    ])
    const second = parseProject(PROJECT.replace('defaultEnvironment: dev', 'defaultEnvironment: dve').replace('    accountId: "100001"', '    accountId: "100001"\n    authUrl: http://mc.example.com/'), 'mcsend.yaml')
    expect(located(second.problems)).toEqual([
      'mcsend.yaml:9:5 give either subdomain or authUrl, not both',
      'mcsend.yaml:9:14 must be an https:// URL (http:// only for 127.0.0.1 or localhost): the client secret is sent to it',
      'mcsend.yaml:4:21 no environment named "dve" (did you mean dev?)',
    ])
  })

  it('is described by schemas/project.schema.json, which compiles in strict mode', () => {
    const validate = compileSchema('project')
    expect(validate({apiVersion: 'mcsend/v1', kind: 'Project', environments: {dev: {state: 's.json'}}})).toBe(true)
    expect(validate({apiVersion: 'mcsend/v1', kind: 'Project', environments: {Dev: {state: 's.json'}}})).toBe(false)
  })

  it('chooses --env over MCSEND_ENV over the default, and names an unknown one with a suggestion', () => {
    const {project} = parseProject(PROJECT, 'mcsend.yaml')
    expect(chooseEnvironment(project!, undefined, undefined)).toEqual({name: 'dev'})
    expect(chooseEnvironment(project!, undefined, 'prod')).toEqual({name: 'prod'})
    expect(chooseEnvironment(project!, 'dev', 'prod')).toEqual({name: 'dev'})
    expect(chooseEnvironment(project!, 'prd', undefined).error).toBe('--env "prd": mcsend.yaml has no such environment (did you mean prod?)')
    expect(chooseEnvironment(project!, undefined, 'qa').error).toBe('MCSEND_ENV "qa": mcsend.yaml has no such environment')
  })
  it('may hold only suppression lists: no environment is then needed, and naming one says there are none', async () => {
    const only = ['apiVersion: mcsend/v1', 'kind: Project', 'suppress:', '  - csv: data/do-not-email.csv', '    match: to', ''].join('\n')
    const {project, problems} = parseProject(only, 'mcsend.yaml')
    expect(problems).toEqual([])
    expect(project!.suppress).toHaveLength(1)
    expect(chooseEnvironment(project!, 'prod', undefined)).toMatchObject({error: '--env "prod": mcsend.yaml declares no environments'})
    expect(located(parseProject(`${only}defaultEnvironment: prod\n`, 'mcsend.yaml').problems)).toEqual(['mcsend.yaml:6:21 no environment named "prod"; the file declares no environments'])
    const root = await mkdtemp(path.join(os.tmpdir(), 'mcsend-project-'))
    try {
      await writeFile(path.join(root, 'mcsend.yaml'), only)
      const env = {MCSEND_STATE: 'x.json'}
      expect(await applyEnvironment({cwd: root, env, needsCredentials: true})).toEqual({env, state: undefined, workspace: undefined})
      await expect(applyEnvironment({cwd: root, envName: 'prod', env})).rejects.toThrow('declares no environments')
    } finally {
      await rm(root, {recursive: true, force: true})
    }
  })
})

describe('applyEnvironment', () => {
  let root: string
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'mcsend-project-'))
    await mkdir(path.join(root, '.git'))
    await mkdir(path.join(root, 'sends', 'deeper'), {recursive: true})
    await writeFile(path.join(root, 'mcsend.yaml'), PROJECT)
  })
  afterEach(() => rm(root, {recursive: true, force: true}))

  it('finds mcsend.yaml in a parent directory up to the repository root, never beyond it, and outside a repository only here', async () => {
    expect(await findProjectFile(path.join(root, 'sends', 'deeper'))).toBe(path.join(root, 'mcsend.yaml'))
    // A repository nested in a directory that holds a project file: the outer file is not this repository's.
    const inner = path.join(root, 'sends', 'inner')
    await mkdir(path.join(inner, '.git'), {recursive: true})
    await mkdir(path.join(inner, 'a'))
    expect(await findProjectFile(path.join(inner, 'a'))).toBeUndefined()
    // No repository at all: only the working directory counts.
    await rm(path.join(root, '.git'), {recursive: true})
    expect(await findProjectFile(path.join(root, 'sends'))).toBeUndefined()
    expect(await findProjectFile(root)).toBe(path.join(root, 'mcsend.yaml'))
  })

  it('sets the tenant, business unit and credentials from the named variables, and the state relative to the project file', async () => {
    const env = {DEV_ID: 'dev-id', DEV_SECRET: 'dev-secret', MCSEND_CLIENT_ID: 'ambient-id', PATH: '/bin'}
    const t = await applyEnvironment({cwd: path.join(root, 'sends'), env, needsCredentials: true})
    expect(t.environment).toMatchObject({name: 'dev', tenant: 'mc-dev', accountId: '100001', protected: false, project: {file: '../mcsend.yaml'}})
    expect(t.env).toMatchObject({MCSEND_SUBDOMAIN: 'mc-dev', MCSEND_ACCOUNT_ID: '100001', MCSEND_CLIENT_ID: 'dev-id', MCSEND_CLIENT_SECRET: 'dev-secret', PATH: '/bin'})
    expect(t.state).toBe('../.mcsend/dev/state.json')
    expect(t.workspace).toBeUndefined()
    // The caller's environment is not changed.
    expect(env.MCSEND_CLIENT_ID).toBe('ambient-id')
  })

  it('fills ${env.NAME} in a PostgreSQL state, URL-encoded, with the environment name as the default workspace', async () => {
    const t = await applyEnvironment({cwd: root, env: {PGPASSWORD: 'p@ss/word', MCSEND_ENV: 'prod'}})
    expect(t.state).toBe('postgres://mcsend:p%40ss%2Fword@db.internal:5432/sends')
    expect(t.workspace).toBe('prod')
    expect(t.env.MCSEND_AUTH_URL).toBe('https://mc-prod.auth.marketingcloudapis.com/')
    expect(t.environment?.protected).toBe(true)
    const flags = await applyEnvironment({cwd: root, envName: 'prod', state: 'other.json', workspace: 'w', env: {}})
    expect([flags.state, flags.workspace]).toEqual(['other.json', 'w'])
  })

  it('refuses what would point a run somewhere unintended, naming variables but never their values', async () => {
    await expect(applyEnvironment({cwd: root, envName: 'prod', env: {}})).rejects.toThrow('environment prod: its state uses ${env.PGPASSWORD}, which is not set')
    await expect(applyEnvironment({cwd: root, envName: 'prod', env: {PGPASSWORD: 'x'}, needsCredentials: true})).rejects.toThrow('environment prod needs its credentials: PROD_ID and PROD_SECRET are not set')
    await expect(applyEnvironment({cwd: root, env: {MCSEND_SUBDOMAIN: 'mc-other', DEV_ID: 'a', DEV_SECRET: 'b'}})).rejects.toThrow('environment dev sets the target, but MCSEND_SUBDOMAIN in the shell names another')
    await writeFile(path.join(root, 'mcsend.yaml'), PROJECT.replace('${env.PGPASSWORD}', '${env.PROD_SECRET}'))
    await expect(applyEnvironment({cwd: root, envName: 'prod', env: {PROD_SECRET: 'top-secret'}})).rejects.toThrow('the state may not use ${env.PROD_SECRET}, a Marketing Cloud credential')
  })

  it("refuses pointing one environment at another's state: in the project file, with --state, or with --workspace", async () => {
    await expect(applyEnvironment({cwd: path.join(root, 'sends'), envName: 'prod', state: '../.mcsend/dev/state.json', env: {}})).rejects.toThrow(
      'environment prod would use the state of environment dev (../.mcsend/dev/state.json), with --state/--workspace: refused',
    )
    await writeFile(path.join(root, 'mcsend.yaml'), PROJECT.replace('postgres://mcsend:${env.PGPASSWORD}@db.internal:5432/sends', './.mcsend/dev/../dev/state.json'))
    await expect(applyEnvironment({cwd: root, envName: 'prod', env: {}})).rejects.toThrow('environment prod would use the state of environment dev (.mcsend/dev/state.json), in mcsend.yaml: refused')
    // PostgreSQL: the same server and database is fine in another workspace, refused in the other environment's.
    const pg = PROJECT.replace('    state: .mcsend/dev/state.json', '    state: postgres://mcsend@db.internal:5432/sends')
    await writeFile(path.join(root, 'mcsend.yaml'), pg)
    expect((await applyEnvironment({cwd: root, envName: 'prod', env: {PGPASSWORD: 'x'}})).workspace).toBe('prod')
    await expect(applyEnvironment({cwd: root, envName: 'prod', workspace: 'dev', env: {PGPASSWORD: 'x'}})).rejects.toThrow('environment prod would use the state of environment dev (workspace dev)')
  })

  it('--env without a project file is an error; without either, nothing changes', async () => {
    await rm(path.join(root, 'mcsend.yaml'))
    const env = {MCSEND_STATE: 'x.json'}
    expect(await applyEnvironment({cwd: root, env})).toEqual({env, state: undefined, workspace: undefined})
    await expect(applyEnvironment({cwd: root, envName: 'dev', env})).rejects.toThrow('--env "dev": there is no mcsend.yaml here or in a parent directory')
  })

  it('with --sandbox lends only the variable values; validate takes no environment unless one is named or default', async () => {
    const t = await applyEnvironment({cwd: root, env: {}, sandbox: true})
    expect(t.state).toBeUndefined()
    expect(t.env).toEqual({})
    expect(t.projectLayer?.get('notes_url')?.value).toBe('https://staging.example.com')
    await writeFile(path.join(root, 'mcsend.yaml'), PROJECT.replace('defaultEnvironment: dev\n', ''))
    expect((await applyEnvironment({cwd: root, env: {}, optional: true})).environment).toBeUndefined()
    await expect(applyEnvironment({cwd: root, env: {}})).rejects.toThrow('mcsend.yaml declares environments but none is chosen')
  })
})
