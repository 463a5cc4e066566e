import {createHash, createHmac} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {makeLockOwner} from '../../src/state/lock.js'
import {openStateStore} from '../../src/state/open.js'
import {projectDir, manifest, runCli} from './helpers.js'

const project = projectDir

const KEY = 'test-state-key-0123456789abcdef'
const send = (shared: string) =>
  manifest({name: 'news', attributes: [`SharedMail: "${shared}"`, 'Plain: "4.2"'], recipients: ['- inline: [{contactKey: ann@example.com, to: ann@example.com}]']})

const stateFile = (dir: string) => path.join(dir, '.mcsend/sandbox/state.json')

describe('what the state reveals', () => {
  it('a shared attribute holding an address is stored as a hash; the diff still shows whether it changed', async () => {
    const dir = await project({'send.yaml': send('shared.person@corp.example')})
    expect((await runCli(['apply', 'send.yaml', '--sandbox', '--auto-approve'], {cwd: dir})).code).toBe(0)
    const state = await readFile(stateFile(dir), 'utf8')
    expect(state).not.toContain('shared.person')
    expect(state).not.toContain('ann@')
    expect(state).toMatch(/"SharedMail": "hash:[\w-]{22}"/)
    expect(state).toContain('"Plain": "4.2"')

    const same = await runCli(['plan', 'send.yaml', '--sandbox', '--format', 'markdown'], {cwd: dir})
    expect(same.stdout).toContain('**No change** since it was last applied')
    await import('node:fs/promises').then((fs) => fs.writeFile(path.join(dir, 'send.yaml'), send('other.person@corp.example').replace('news', 'news')))
    const changed = await runCli(['plan', 'send.yaml', '--sandbox', '--format', 'markdown'], {cwd: dir})
    expect(changed.stdout).toMatch(/^- {2}SharedMail: "hash:[\w-]{22}"$/m)
    expect(changed.stdout).toMatch(/^\+ {2}SharedMail: "hash:[\w-]{22}"$/m)
    expect(changed.stdout).not.toContain('other.person')
  })

  it('the store guard redacts any snapshot value holding an address, whoever writes it (an older state being imported)', async () => {
    const dir = await project({})
    const store = await openStateStore({spec: 'state.json', cwd: dir, env: {}})
    const lock = await store.lock(makeLockOwner('test', new Date(), {}))
    await store.putSend({
      name: 'legacy',
      definitionKey: 'welcome-email',
      revision: 1,
      attributes: {SharedMail: 'Ann <shared.person@corp.example>', Plain: 'x'},
      batchSize: 500,
      sources: [],
      appliedAt: '2026-01-01T00:00:00.000Z',
    })
    await store.commit()
    await lock.release()
    await store.close()
    const raw = await readFile(path.join(dir, 'state.json'), 'utf8')
    expect(raw).not.toContain('shared.person')
    expect(raw).toContain('"SharedMail": "Ann <[redacted]>"')
  })

  it('without a state key, a committed state confirms a guessed address; with one, it does not', async () => {
    // A state hash is the first 11 base64url characters (66 bits) of the digest.
    const guess = (to: string) => createHash('sha256').update(`to\n${to}`).digest('base64url').slice(0, 11)
    const plain = await project({'send.yaml': send('x')})
    expect((await runCli(['apply', 'send.yaml', '--sandbox', '--auto-approve'], {cwd: plain})).code).toBe(0)
    expect(await readFile(stateFile(plain), 'utf8')).toContain(guess('ann@example.com'))

    const keyed = await project({'send.yaml': send('x')})
    const run = await runCli(['apply', 'send.yaml', '--sandbox', '--auto-approve'], {cwd: keyed, env: {MCSEND_STATE_KEY: KEY}})
    expect(run.code).toBe(0)
    const state = await readFile(stateFile(keyed), 'utf8')
    expect(state).not.toContain(guess('ann@example.com'))
    const fingerprint = `hmac-sha256:${createHmac('sha256', KEY).update('mcsend state key fingerprint v1').digest('base64url').slice(0, 22)}`
    expect(state).toContain(fingerprint)
    // The documented keyed messageKey: NAME.rREV. + base64url(HMAC-SHA-256(key, NAME \n REV \n CONTACTKEY)).
    // The state file writes `news.r1.` once per batch and each key's digest on its record's line.
    const messageKey = `news.r1.${createHmac('sha256', KEY).update('news\n1\nann@example.com').digest('base64url')}`
    expect(state).toContain(messageKey.slice('news.r1.'.length))
    expect(state).toContain('"send":"news","revision":1')
    const unkeyedKey = `news.r1.${createHash('sha256').update('news\n1\nann@example.com').digest('base64url')}`
    expect(state).not.toContain(unkeyedKey.slice('news.r1.'.length))
    expect(state).toContain(createHmac('sha256', KEY).update('to\nann@example.com').digest('base64url').slice(0, 11))

    // The same key: nothing to send. No key, another key, or a key on an unkeyed state: refused, nothing planned.
    const again = await runCli(['plan', 'send.yaml', '--sandbox', '--detailed-exitcode'], {cwd: keyed, env: {MCSEND_STATE_KEY: KEY}})
    expect(again.code).toBe(0)
    const missing = await runCli(['plan', 'send.yaml', '--sandbox'], {cwd: keyed})
    expect(missing.code).toBe(3)
    expect(missing.stdout).toBe('')
    expect(missing.stderr).toContain(`is keyed (fingerprint ${fingerprint}), and MCSEND_STATE_KEY is not set`)
    const other = await runCli(['apply', 'send.yaml', '--sandbox', '--auto-approve'], {cwd: keyed, env: {MCSEND_STATE_KEY: 'another-key-0123456789abcdef'}})
    expect(other.code).toBe(3)
    expect(other.stderr).toContain('was written with another state key')
    const late = await runCli(['plan', 'send.yaml', '--sandbox'], {cwd: plain, env: {MCSEND_STATE_KEY: KEY}})
    expect(late.code).toBe(3)
    expect(late.stderr).toContain('was written without a state key, but MCSEND_STATE_KEY is set')
    const weak = await runCli(['plan', 'send.yaml', '--sandbox'], {cwd: keyed, env: {MCSEND_STATE_KEY: 'short'}})
    expect(weak.code).toBe(3)
    expect(weak.stderr).toContain('MCSEND_STATE_KEY must be at least 16 characters')
    expect(weak.stderr + other.stderr + missing.stderr).not.toContain('another-key-0123456789abcdef')
  })

  it('state show --contact-key and state forget find a contact in a keyed state with the key', async () => {
    const dir = await project({'send.yaml': send('x')})
    expect((await runCli(['apply', 'send.yaml', '--sandbox', '--auto-approve'], {cwd: dir, env: {MCSEND_STATE_KEY: KEY}})).code).toBe(0)
    const show = await runCli(['state', 'show', '--contact-key', 'ann@example.com', '--sandbox'], {cwd: dir, env: {MCSEND_STATE_KEY: KEY}})
    expect(show.code).toBe(0)
    expect(show.stdout).toContain('1 record of contactKey a***@example.com')
    expect(show.stdout).not.toContain('ann@example.com')
    const unkeyed = await runCli(['state', 'show', '--contact-key', 'ann@example.com', '--sandbox'], {cwd: dir})
    expect(unkeyed.code).toBe(3)
    expect(unkeyed.stderr).toContain('MCSEND_STATE_KEY is not set')
    const forget = await runCli(['state', 'forget', '--contact-key', 'ann@example.com', '--yes', '--state', '.mcsend/sandbox/state.json'], {cwd: dir, env: {MCSEND_STATE_KEY: KEY}})
    expect(forget.code).toBe(0)
    expect(forget.stdout).toContain('Removed 1 record of contact a***@example.com')
  })
})
