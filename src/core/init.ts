import {existsSync} from 'node:fs'
import {mkdir, readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {CliError, ExitCode} from '../errors.js'

/** What `mcsend init` writes. The manifest and CSV are new files; .gitignore is appended to. */
export const MANIFEST_FILE = 'welcome.yaml'
export const CSV_FILE = 'recipients.csv'
/** Sandbox data (it holds addresses in clear), and the lock and journal beside the state; the state itself may be committed. */
export const GITIGNORE_LINES = ['.mcsend/sandbox/', '.mcsend/*.lock', '.mcsend/*.journal']

/**
 * The manifest's schema comment points at the schema in the project's node_modules/mcsend (the nearest directory
 * at or above DIR holding a package.json, else DIR): right when mcsend is a dev dependency, and portable, unlike an
 * absolute path into a global install.
 */
export function schemaReference(dir: string): string {
  let root = path.resolve(dir)
  for (let at = root; ; at = path.dirname(at)) {
    if (existsSync(path.join(at, 'package.json'))) {
      root = at
      break
    }
    if (path.dirname(at) === at) break
  }
  const relative = path.relative(path.resolve(dir), path.join(root, 'node_modules', 'mcsend', 'schemas', 'manifest.schema.json')).split(path.sep).join('/')
  return relative.startsWith('.') ? relative : `./${relative}`
}

export function manifestText(schema: string): string {
  return `# yaml-language-server: $schema=${schema}
#
# A transactional send: every recipient of ./${CSV_FILE} gets the "welcome-email" definition once.
#   mcsend validate ${MANIFEST_FILE}        check it offline
#   mcsend plan ${MANIFEST_FILE}            see what would be sent
#   mcsend apply ${MANIFEST_FILE} --sandbox send it to the built-in fake Marketing Cloud
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

export interface ScaffoldResult {
  dir: string
  created: string[]
  /** Lines added to .gitignore (empty when it had them all). */
  gitignoreAdded: string[]
  gitignoreCreated: boolean
  schema: string
}

/** Writes the scaffold into `dir`; refuses (exit 3) to overwrite the manifest or the CSV unless `force`. */
export async function scaffoldProject(dir: string, options: {force: boolean; display?: string}): Promise<ScaffoldResult> {
  const display = options.display ?? dir
  const files = [MANIFEST_FILE, CSV_FILE].map((f) => ({name: f, file: path.join(dir, f)}))
  const existing = files.filter((f) => existsSync(f.file)).map((f) => path.join(display, f.name))
  if (existing.length > 0 && !options.force) {
    throw new CliError(`${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}; not overwriting`, {
      code: 'exists',
      exitCode: ExitCode.invalidInput,
      hint: 'run `mcsend init` in another directory (mcsend init DIR), or add --force to overwrite them',
    })
  }
  await mkdir(dir, {recursive: true})
  const schema = schemaReference(dir)
  await writeFile(files[0]!.file, manifestText(schema))
  await writeFile(files[1]!.file, CSV_TEXT)

  const gitignore = path.join(dir, '.gitignore')
  let current = ''
  let gitignoreCreated = false
  try {
    current = await readFile(gitignore, 'utf8')
  } catch {
    gitignoreCreated = true
  }
  const present = new Set(current.split(/\r?\n/).map((l) => l.trim()))
  const missing = GITIGNORE_LINES.filter((l) => !present.has(l))
  if (missing.length > 0) {
    const separator = current === '' ? '' : current.endsWith('\n') ? '\n' : '\n\n'
    await writeFile(gitignore, `${current}${separator}# mcsend: sandbox data (addresses in clear), the state lock and journal\n${missing.join('\n')}\n`)
  }
  return {dir, created: files.map((f) => path.join(display, f.name)), gitignoreAdded: missing, gitignoreCreated: gitignoreCreated && missing.length > 0, schema}
}
