import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import net from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {ROOT as root, waitFor} from '../helpers/project.js'

const commandFile = path.join(root, 'src/commands/sandbox.ts')

// Runs the command class the way bin/run.js does (parse, run, oclif's error handling), in its own process so
// that a real SIGINT reaches it.
const runner = `
import {handle, flush} from '@oclif/core'
const {default: Sandbox} = await import(${JSON.stringify(commandFile)})
await Sandbox.run(process.argv.slice(1), {root: ${JSON.stringify(root)}}).then(() => flush()).catch(handle)
`

interface Running {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<number | null>
}

const children: ChildProcess[] = []
const dirs: string[] = []

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
  await Promise.all(dirs.splice(0).map((d) => rm(d, {recursive: true, force: true})))
})

function start(args: string[]): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', runner, '--', ...args], {
    cwd: root,
    env: {...process.env, NO_COLOR: '1', FORCE_COLOR: '0'},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {child, stdout: () => out, stderr: () => err, exited}
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mcsend-sandbox-cmd-'))
  dirs.push(dir)
  return dir
}

describe('mcsend sandbox', () => {
  it('prints one JSON object with the connection details, logs requests without addresses, and exits 0 on Ctrl-C', async () => {
    const dir = await tempDir()
    const run = start(['--json', '--data-dir', dir, '--token-lifetime', '60'])
    await waitFor(() => run.stdout().includes('\n'), 20_000) // the JSON line
    const doc = JSON.parse(run.stdout().trim()) as {url: string; authUrl: string; clientId: string; clientSecret: string; outbox: string; state: string; env: Record<string, string>; exports: string}
    expect(doc.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(doc.authUrl).toBe(`${doc.url}/`)
    // The exports include the sandbox's own state, so a shell pointed at the sandbox never writes the real state.
    expect(doc.state).toBe(path.join(dir, 'state.json'))
    expect(doc.env).toEqual({MCSEND_AUTH_URL: doc.authUrl, MCSEND_CLIENT_ID: doc.clientId, MCSEND_CLIENT_SECRET: doc.clientSecret, MCSEND_STATE: doc.state})
    expect(doc.exports).toBe(`export MCSEND_AUTH_URL=${doc.authUrl} MCSEND_CLIENT_ID=${doc.clientId} MCSEND_CLIENT_SECRET=${doc.clientSecret} MCSEND_STATE=${doc.state}`)
    expect(doc.outbox).toBe(path.join(dir, 'outbox.ndjson'))

    const tokenRes = await fetch(`${doc.authUrl}v2/token`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({grant_type: 'client_credentials', client_id: doc.clientId, client_secret: doc.clientSecret}),
    })
    const tok = (await tokenRes.json()) as {access_token: string; rest_instance_url: string}
    const send = await fetch(`${tok.rest_instance_url}messaging/v1/email/messages/`, {
      method: 'POST',
      headers: {'content-type': 'application/json', authorization: `Bearer ${tok.access_token}`},
      body: JSON.stringify({definitionKey: 'welcome-email', recipients: [{contactKey: 'ann', to: 'ann@example.com', messageKey: 'k1'}, {contactKey: 'bob', to: 'bob@example.com', messageKey: 'k2'}]}),
    })
    expect(send.status).toBe(202)
    await waitFor(() => run.stderr().includes('recipients=2'), 20_000) // the request log line
    expect(run.stderr()).toMatch(/^POST \/v2\/token 200 \d+ms$/m)
    expect(run.stderr()).toMatch(/^POST \/messaging\/v1\/email\/messages\/ 202 recipients=2 \d+ms$/m)
    expect(run.stderr()).not.toContain('@')
    expect(run.stderr()).not.toContain(tok.access_token)

    run.child.kill('SIGINT')
    expect(await run.exited).toBe(0)
    expect(run.stdout().trim().split('\n')).toHaveLength(1) // --json: exactly one document on stdout
    const lines = (await readFile(doc.outbox, 'utf8')).trim().split('\n')
    expect(lines.map((l) => (JSON.parse(l) as {messageKey: string}).messageKey)).toEqual(['k1', 'k2'])
  })

  it('prints the export line for humans and stops on SIGTERM', async () => {
    const dir = await tempDir()
    const run = start(['--data-dir', dir])
    await waitFor(() => run.stdout().includes('MCSEND_CLIENT_SECRET='), 20_000) // the export line
    expect(run.stdout()).toMatch(/^export MCSEND_AUTH_URL=http:\/\/127\.0\.0\.1:\d+\/ MCSEND_CLIENT_ID=sandbox-client-id MCSEND_CLIENT_SECRET=sandbox-client-secret MCSEND_STATE=\S+state\.json$/m)
    run.child.kill('SIGTERM')
    expect(await run.exited).toBe(0)
    expect(run.stderr()).toContain('sandbox stopped')
  })

  it('refuses a port out of range with exit 3, and a busy port with exit 1 and a hint', async () => {
    const range = start(['--port', '70000'])
    const busy = net.createServer()
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', () => resolve()))
    const port = (busy.address() as net.AddressInfo).port
    const dir = await tempDir()
    const taken = start(['--port', String(port), '--data-dir', dir])
    try {
      expect(await range.exited).toBe(3)
      expect(range.stderr()).toMatch(/error: --port must be from 0 to 65535, got 70000/)
      expect(await taken.exited).toBe(1)
      expect(taken.stderr()).toContain(`port ${port} on 127.0.0.1 is already in use`)
      expect(taken.stderr()).toMatch(/hint: .*--port 0/)
    } finally {
      busy.close()
    }
  })
})
