import {existsSync} from 'node:fs'
import {mkdir, readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {CliError, ExitCode} from '../errors.js'

/** What `mcsend init` writes. The manifest and CSV are new files; .gitignore is appended to. */
export const MANIFEST_FILE = 'welcome.yaml'
export const CSV_FILE = 'recipients.csv'
/** Sandbox data (it holds addresses in clear), and the lock and journal beside the state; the state itself may be committed. */
export const GITIGNORE_LINES = ['.mcsend/sandbox/', '.mcsend/*.lock', '.mcsend/*.journal']

/** The directory of the running mcsend package (dist/core/init.js → the package root). */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** The nearest directory at or above `dir` holding a package.json, or undefined. */
function projectRoot(dir: string): string | undefined {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    if (existsSync(path.join(at, 'package.json'))) return at
    if (path.dirname(at) === at) return undefined
  }
}

/**
 * The manifest's schema comment, relative to DIR so it stays portable: the schema of the running mcsend when it
 * lives inside the project (a dev dependency in node_modules/mcsend, or this repository itself), else the
 * node_modules/mcsend of the nearest directory with a package.json (DIR without one), where a dev dependency will
 * put it; never an absolute path into a global install.
 */
export function schemaReference(dir: string, packageRoot: string = PACKAGE_ROOT): string {
  const from = path.resolve(dir)
  const root = projectRoot(from) ?? from
  const running = path.resolve(packageRoot)
  const inside = running === root || running.startsWith(`${root}${path.sep}`)
  const schema = inside ? path.join(running, 'schemas', 'manifest.schema.json') : path.join(root, 'node_modules', 'mcsend', 'schemas', 'manifest.schema.json')
  const relative = path.relative(from, schema).split(path.sep).join('/')
  return relative.startsWith('.') ? relative : `./${relative}`
}

export function manifestText(schema: string, manifest: string = MANIFEST_FILE): string {
  return `# yaml-language-server: $schema=${schema}
#
# A transactional send: every recipient of ./${CSV_FILE} gets the "welcome-email" definition once.
#   npx mcsend validate ${manifest}          check it offline
#   npx mcsend plan ${manifest}              see what would be sent
#   npx mcsend apply ${manifest} --sandbox   send it to the built-in fake Marketing Cloud
apiVersion: mcsend/v1
kind: Send
name: welcome                  # part of every messageKey: keep it stable once sent
definitionKey: welcome-email   # the transactional send definition in Marketing Cloud
revision: 1                    # bump to send again to everyone
attributes:                    # shared by every recipient
  ProductName: "Example"
recipients:
  - csv: ./${CSV_FILE}
    columns: {contactKey: id, to: email}   # the other columns (FirstName) become per-recipient attributes
`
}

export const CSV_TEXT = `id,email,FirstName
cust-0001,ann@example.com,Ann
cust-0002,bruno@example.com,Bruno
cust-0003,chen@example.org,Chen
`

/** The CI systems `init --ci` can scaffold a workflow for. */
export const CI_SYSTEMS = ['github'] as const
export type CiSystem = (typeof CI_SYSTEMS)[number]
export const GITHUB_WORKFLOW = '.github/workflows/mcsend.yml'
/** The workflow `init --ci github` adapts: the one documented in examples/github-actions/ (shipped in the package). */
const WORKFLOW_TEMPLATE = path.join(PACKAGE_ROOT, 'examples', 'github-actions', 'mcsend.yml')

export interface ScaffoldOptions {
  /** Where to scaffold, relative to cwd (default `.`). */
  dir: string
  /** The directory mcsend commands run from: .gitignore and the CI workflow go there, `.mcsend/` is created there. */
  cwd: string
  force: boolean
  ci?: CiSystem
}

export interface ScaffoldResult {
  /** The scaffolded directory, relative to cwd. */
  dir: string
  /** Files written, relative to cwd. */
  created: string[]
  gitignore: {file: string; added: string[]; created: boolean}
  /** The manifest's `$schema` reference, relative to the manifest. */
  schema: string
  /** The commands to run next, from cwd. */
  next: string[]
}

/**
 * Writes the scaffold into `dir`; refuses (exit 3) to overwrite a file it would write unless `force`. The
 * .gitignore lines go to cwd's .gitignore, beside the `.mcsend/` the next commands create there (the sandbox
 * outbox holds addresses in clear).
 */
export async function scaffoldProject(options: ScaffoldOptions): Promise<ScaffoldResult> {
  const display = toPosix(path.normalize(options.dir))
  const dir = path.resolve(options.cwd, options.dir)
  const shown = (name: string) => toPosix(path.join(display, name))
  const files = [
    {name: shown(MANIFEST_FILE), file: path.join(dir, MANIFEST_FILE)},
    {name: shown(CSV_FILE), file: path.join(dir, CSV_FILE)},
  ]
  if (options.ci === 'github') files.push({name: GITHUB_WORKFLOW, file: path.join(options.cwd, GITHUB_WORKFLOW)})
  const existing = files.filter((f) => existsSync(f.file)).map((f) => f.name)
  if (existing.length > 0 && !options.force) {
    throw new CliError(`${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}; not overwriting`, {
      code: 'exists',
      exitCode: ExitCode.invalidInput,
      hint: 'run `mcsend init` in another directory (mcsend init DIR), or add --force to overwrite them',
    })
  }
  const workflow = options.ci === 'github' ? githubWorkflow(await readFile(WORKFLOW_TEMPLATE, 'utf8'), display) : undefined
  await mkdir(dir, {recursive: true})
  const schema = schemaReference(dir)
  const manifest = shown(MANIFEST_FILE)
  await writeFile(files[0]!.file, manifestText(schema, manifest))
  await writeFile(files[1]!.file, CSV_TEXT)
  if (workflow !== undefined) {
    await mkdir(path.dirname(files[2]!.file), {recursive: true})
    await writeFile(files[2]!.file, workflow)
  }
  const gitignore = await appendGitignore(path.join(options.cwd, '.gitignore'))
  const next = [`npx mcsend validate ${manifest}`, `npx mcsend plan ${manifest}`, `npx mcsend apply ${manifest} --sandbox`]
  return {dir: display, created: files.map((f) => f.name), gitignore, schema, next}
}

/** Appends the lines it lacks to a .gitignore (never one it already has). */
async function appendGitignore(file: string): Promise<ScaffoldResult['gitignore']> {
  let current = ''
  let created = false
  try {
    current = await readFile(file, 'utf8')
  } catch {
    created = true
  }
  const present = new Set(current.split(/\r?\n/).map((l) => l.trim()))
  const added = GITIGNORE_LINES.filter((l) => !present.has(l))
  if (added.length > 0) {
    const separator = current === '' ? '' : current.endsWith('\n') ? '\n' : '\n\n'
    await writeFile(file, `${current}${separator}# mcsend: sandbox data (addresses in clear), the state lock and journal\n${added.join('\n')}\n`)
  }
  return {file: '.gitignore', added, created: created && added.length > 0}
}

/**
 * The example workflow pointed at the scaffolded directory: its manifests (SENDS) and the paths that trigger it.
 * Refuses a template it cannot adapt rather than writing a workflow that plans the wrong folder.
 */
export function githubWorkflow(template: string, dir: string): string {
  const sends = dir === '.' ? '.' : `${dir.replace(/\/+$/, '')}/`
  const trigger = dir === '.' ? '**' : `${dir.replace(/\/+$/, '')}/**`
  if (!/^ {2}SENDS: sends\/$/m.test(template) || !template.includes("'sends/**'")) {
    throw new Error(`the workflow template ${WORKFLOW_TEMPLATE} no longer has SENDS: sends/ and 'sends/**' to adapt`)
  }
  const body = template
    .replace(/^ {2}SENDS: sends\/$/m, `  SENDS: ${yamlScalar(sends)}`)
    .replaceAll("'sends/**'", yamlQuoted(trigger))
    .replace(/^(#[^\n]*\n)+/, '')
  return `# Written by \`mcsend init --ci github\` from mcsend's examples/github-actions/mcsend.yml: plans and comments on pull\n# requests that touch ${sends}, applies on merge to main. Set the secrets it names (MCSEND_CLIENT_ID, …).\n${body}`
}

function yamlScalar(value: string): string {
  return /^[\w./-]+$/.test(value) ? value : yamlQuoted(value)
}

function yamlQuoted(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/')
}
