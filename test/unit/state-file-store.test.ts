
import {describe, expect, it} from 'vitest'

import {StateError} from '../../src/errors.js'
import type {StateFileHandle, StateFs} from '../../src/state/file-io.js'
import {FileStateStore} from '../../src/state/file-store.js'
import {guardStore} from '../../src/state/guard.js'
import {encodePut} from '../../src/state/journal.js'
import {recordJson} from '../../src/state/serialize.js'
import type {MessageRecord} from '../../src/state/types.js'
import {compileSchema} from '../helpers/schemas.js'
import {fixedClock, memVolume, record, records, sendSnapshot} from '../helpers/state-file.js'

const STATE = '/project/.mcsend/state.json'
const JOURNAL = `${STATE}.journal`

function storeOn(fs: StateFs) {
  return new FileStateStore({path: STATE, displayPath: '.mcsend/state.json', fs, clock: fixedClock, toolVersion: '0.1.0'})
}

/** A store on a fresh in-memory volume holding `committed` in the state file and `journaled` in the journal after it. */
async function storeWith(committed: MessageRecord[], journaled: MessageRecord[] = []) {
  const {volume, fs} = memVolume()
  const store = storeOn(fs)
  await store.append(committed)
  await store.commit()
  if (journaled.length > 0) await store.append(journaled)
  return {volume, fs, store}
}

/** Wraps a file system to count the calls that make data durable or replace the snapshot. */
function counting(fs: StateFs) {
  const counts = {datasync: 0, journalDatasync: 0, rename: 0}
  const wrapped: StateFs = {
    open: async (file, flags, mode) => {
      const handle = await fs.open(file, flags, mode)
      const counted: StateFileHandle = {
        read: (...args) => handle.read(...args),
        write: (...args) => handle.write(...args),
        datasync: () => {
          counts.datasync++
          if (file.endsWith('.journal')) counts.journalDatasync++
          return handle.datasync()
        },
        truncate: (len) => handle.truncate(len),
        stat: () => handle.stat(),
        close: () => handle.close(),
      }
      return counted
    },
    readFile: (file, encoding) => fs.readFile(file, encoding),
    rename: (from, to) => {
      counts.rename++
      return fs.rename(from, to)
    },
    unlink: (file) => fs.unlink(file),
    mkdir: (dir, options) => fs.mkdir(dir, options),
    stat: (file) => fs.stat(file),
    lstat: (file) => fs.lstat(file),
    realpath: (file) => fs.realpath(file),
    readdir: (dir) => fs.readdir(dir),
  }
  return {fs: wrapped, counts}
}

async function expectStateError(promise: Promise<unknown>): Promise<StateError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(StateError)
    return error as StateError
  }
  return expect.unreachable('expected a StateError')
}

describe('FileStateStore over memfs', () => {
  it('treats a missing state as an empty one and writes nothing for an empty commit', async () => {
    const {volume, fs} = memVolume()
    const store = storeOn(fs)
    const data = await store.load()
    expect(data).toMatchObject({formatVersion: 2, lineage: '', serial: 0, sends: {}})
    expect(data.messages.size).toBe(0)
    await store.commit()
    expect(volume.toJSON()).toEqual({})
  })

  it('round-trips records and sends through journal, commit and a fresh load', async () => {
    const {volume, fs} = memVolume()
    const store = storeOn(fs)
    const input = [record('amy', 'accepted', {requestId: 'req-1'}), record('bob', 'failed', {errorCode: 30005, errorMessage: 'rejected'}), ...records(5)]
    await store.append(input)
    await store.putSend(sendSnapshot())
    await store.commit()
    expect(volume.existsSync(JOURNAL)).toBe(false)

    const data = await storeOn(fs).load()
    expect(data.serial).toBe(1)
    expect(data.lineage).toMatch(/^[0-9a-f-]{36}$/)
    expect(data.sends).toEqual({notes: sendSnapshot()})
    expect([...data.messages.values()].sort((a, b) => a.messageKey.localeCompare(b.messageKey))).toEqual(
      [...input].sort((a, b) => a.messageKey.localeCompare(b.messageKey)),
    )
  })

  it('bumps the serial only when a commit changed something, and keeps the lineage', async () => {
    const {fs: memFs} = memVolume()
    const {fs, counts} = counting(memFs)
    const store = storeOn(fs)
    await store.append([record('amy')])
    await store.commit()
    const first = await store.load()
    const lineage = first.lineage
    expect(first.serial).toBe(1)
    expect(counts.rename).toBe(1)

    await store.commit()
    await store.append([record('amy')]) // identical record: nothing to fold
    await store.commit()
    expect((await storeOn(fs).load()).serial).toBe(1)
    expect(counts.rename).toBe(1)

    await store.append([record('amy', 'accepted')])
    await store.commit()
    const after = await storeOn(fs).load()
    expect(after.serial).toBe(2)
    expect(after.lineage).toBe(lineage)
    expect(after.messages.get(record('amy').messageKey)?.status).toBe('accepted')
  })

  it('writes one journal line and one datasync per call, and load() reflects appends at once', async () => {
    const {volume, fs: memFs} = memVolume()
    const {fs, counts} = counting(memFs)
    const store = storeOn(fs)
    const view = await store.load()
    await store.append(records(10, 'pending', 'a'))
    await store.append(records(10, 'accepted', 'a'))
    await store.putSend(sendSnapshot())
    expect(await store.remove([record('a0').messageKey, 'no-such-key'])).toBe(1)
    expect(counts.journalDatasync).toBe(4)
    const lines = String(volume.readFileSync(JOURNAL, 'utf8')).split('\n')
    expect(lines).toHaveLength(6) // header, 4 operations, empty after the final newline
    expect(view.messages.size).toBe(9)
    expect(view.messages.get(record('a1').messageKey)?.status).toBe('accepted')
    expect((await store.load()).sends.notes).toEqual(sendSnapshot())
  })

  it('group commit: appends made while the journal is busy share one write and one datasync, never passing a write called before them', async () => {
    const {volume, fs: memFs} = memVolume()
    const {fs, counts} = counting(memFs)
    const store = storeOn(fs)
    await store.append([record('first')])
    const before = counts.journalDatasync
    // Called together (as concurrent batches do): the first three wait for the same write; the removal closes the
    // group, so the append after it is written after it.
    const calls = [store.append([record('a1')]), store.append([record('a2')]), store.append([record('a3')]), store.remove([record('a1').messageKey]), store.append([record('a1', 'accepted')])]
    await Promise.all(calls)
    expect(counts.journalDatasync - before).toBe(3)
    const ops = String(volume.readFileSync(JOURNAL, 'utf8'))
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => JSON.parse(l) as {op: string})
      .map((e) => e.op)
    expect(ops).toEqual(['put', 'put', 'put', 'put', 'rm', 'put'])
    const view = await store.load()
    expect(view.messages.get(record('a1').messageKey)?.status).toBe('accepted')
    expect([...(await storeOn(memFs).load()).messages.values()]).toEqual([...view.messages.values()])
  })

  it('replays a journal left by a crash (no commit), and commit folds it', async () => {
    const {volume, fs} = memVolume()
    const crashed = storeOn(fs)
    await crashed.append(records(3, 'pending'))
    await crashed.append(records(2, 'accepted'))
    await crashed.commit()
    await crashed.append([record('late', 'accepted')])
    await crashed.remove([record('c2').messageKey])
    // The process dies here: no commit, no close.

    const next = storeOn(fs)
    const data = await next.load()
    // The folded view: the serial the state will have once the journal is written into it.
    expect(data.serial).toBe(2)
    expect([...data.messages.keys()].sort()).toEqual([record('c0'), record('c1'), record('late')].map((r) => r.messageKey).sort())
    expect(data.messages.get(record('c0').messageKey)?.status).toBe('accepted')
    await next.commit()
    expect(volume.existsSync(JOURNAL)).toBe(false)
    expect((await storeOn(fs).load()).serial).toBe(2)
  })

  it('ignores a torn last line, and the next append cuts it off', async () => {
    const {volume, fs} = memVolume()
    await storeOn(fs).append([record('amy')])
    // Longer than the line appended next, so overwriting alone would leave some of it behind.
    volume.appendFileSync(JOURNAL, `{"op":"put","records":[${JSON.stringify(records(20))}`.slice(0, -5))

    const next = storeOn(fs)
    expect((await next.load()).messages.size).toBe(1)
    await next.append([record('bob')])
    const third = storeOn(fs)
    expect([...(await third.load()).messages.keys()].sort()).toEqual([record('amy').messageKey, record('bob').messageKey].sort())
    const journal = String(volume.readFileSync(JOURNAL, 'utf8'))
    expect(journal.endsWith('\n')).toBe(true)
    expect(journal.split('\n')).toHaveLength(4) // header, amy, bob, and the empty string after the last newline
  })

  it('fails clearly on a corrupt line that is not the last, and leaves the files alone', async () => {
    const {volume, fs} = await storeWith([record('amy')], [record('bob')])
    const lines = String(volume.readFileSync(JOURNAL, 'utf8')).split('\n')
    const corrupt = [lines[0], '{"op":"put","records":[{"messa', ...lines.slice(1)].join('\n')
    volume.writeFileSync(JOURNAL, corrupt)
    const snapshot = String(volume.readFileSync(STATE, 'utf8'))

    const next = storeOn(fs)
    const error = await expectStateError(next.load())
    expect(error.message).toContain('.mcsend/state.json.journal')
    expect(error.message).toContain('line 2')
    await expectStateError(next.append([record('cat')]))
    await expectStateError(next.commit())
    expect(String(volume.readFileSync(JOURNAL, 'utf8'))).toBe(corrupt)
    expect(String(volume.readFileSync(STATE, 'utf8'))).toBe(snapshot)
  })

  it('fails clearly on an unparseable snapshot and never overwrites it', async () => {
    const {volume, fs} = memVolume({[STATE]: '{"formatVersion": 1, "lineage": "x", "serial": 3, "sends": {}, "messages": {'})
    const store = storeOn(fs)
    const error = await expectStateError(store.load())
    expect(error.message).toContain('.mcsend/state.json')
    expect(error.hint).toMatch(/git/)
    await expectStateError(store.append([record('amy')]))
    await expectStateError(store.commit())
    expect(String(volume.readFileSync(STATE, 'utf8'))).toMatch(/"messages": \{$/)
    expect(volume.existsSync(JOURNAL)).toBe(false)
  })

  it('says which mcsend is needed for a newer state format', async () => {
    const {fs} = memVolume({[STATE]: JSON.stringify({formatVersion: 3, lineage: 'x', serial: 9, toolVersion: '2.3.0', sends: {}, batches: []})})
    const error = await expectStateError(storeOn(fs).load())
    expect(error.message).toMatch(/format 3/)
    expect(error.message).toContain('mcsend 2.3.0 or newer')
  })

  it('reads a hand-formatted snapshot (pretty-printed by an editor)', async () => {
    const {volume, fs} = await storeWith(records(4, 'accepted'))
    volume.writeFileSync(STATE, JSON.stringify(JSON.parse(String(volume.readFileSync(STATE, 'utf8'))), null, 4))
    const data = await storeOn(fs).load()
    expect(data.messages.size).toBe(4)
    expect(data.serial).toBe(1)
  })

  it('journals appends grouped as the snapshot is (format 2), in order, and folds them into the same records', async () => {
    const {volume, fs} = memVolume()
    const store = storeOn(fs)
    const at = '2026-11-26T10:00:00.000Z'
    const given = [
      ...records(3, 'accepted', 'a').map((r) => ({...r, at, requestId: 'req-1'})),
      record('odd', 'failed', {at, requestId: 'req-1', errorCode: 30005, errorMessage: 'bad "address"'}),
      record('own', 'accepted', {at, requestId: 'req-1', messageKey: 'a key of its own'}),
      record('del', 'accepted', {at, requestId: 'req-1', delivery: {event: 'sent', at, checkedAt: at}}),
      record('old', 'accepted', {at, requestId: 'req-1', toHash: 'A'.repeat(22)}),
      // The same key twice in one append: the later one is what the store holds, and what a replay gives.
      record('twice', 'pending', {at}),
      record('a0', 'failed', {at, errorCode: 1}),
      record('twice', 'accepted', {at, requestId: 'req-1'}),
    ]
    await store.append(given)
    const lines = String(volume.readFileSync(JOURNAL, 'utf8')).trim().split('\n')
    expect(JSON.parse(lines[0]!)).toMatchObject({journal: 2})
    const put = JSON.parse(lines[1]!) as {op: string; batches: {status: string; keys: unknown[]}[]}
    expect(put.op).toBe('put')
    expect(put.batches.map((b) => [b.status, b.keys.length])).toEqual([['accepted', 3], ['failed', 1], ['accepted', 3], ['pending', 1], ['failed', 1], ['accepted', 1]])
    const live = await store.load()
    const replayed = await storeOn(fs).load()
    expect(replayed.messages.size).toBe(live.messages.size)
    for (const [key, r] of live.messages) {
      // Older states' 22-character hashes are kept to their first 11 characters, as the snapshot keeps them.
      expect(replayed.messages.get(key)).toEqual(key === record('old').messageKey ? {...r, toHash: 'A'.repeat(11)} : r)
    }
    expect(replayed.messages.get(record('twice').messageKey)?.status).toBe('accepted')
    expect(replayed.messages.get(record('a0').messageKey)?.status).toBe('failed')
  })

  it('still folds a journal of format 1 (records written whole)', async () => {
    const {volume, fs} = memVolume()
    const given = [record('amy', 'pending'), record('bob', 'failed', {requestId: 'r', errorCode: 30005, errorMessage: 'bad'})]
    volume.mkdirSync('/project/.mcsend', {recursive: true})
    volume.writeFileSync(JOURNAL, `{"journal":1,"lineage":"","serial":0}\n{"op":"put","records":[${given.map((r) => recordJson(r, true)).join(',')}]}\n`)
    const data = await storeOn(fs).load()
    expect([...data.messages.values()]).toEqual(given)
  })

  it('refuses a journal of a newer format, naming it', async () => {
    const {volume, fs} = memVolume()
    volume.mkdirSync('/project/.mcsend', {recursive: true})
    volume.writeFileSync(JOURNAL, '{"journal":3,"lineage":"","serial":0}\n')
    const error = await expectStateError(storeOn(fs).load())
    expect(error.message).toContain('format 3')
  })

  it('serialises concurrent appends in call order', async () => {
    const {volume, fs} = memVolume()
    const store = storeOn(fs)
    const statuses = ['pending', 'accepted', 'failed', 'pending', 'accepted', 'failed', 'pending', 'accepted'] as const
    await Promise.all(
      statuses.map((status, i) => store.append([record('shared', status, {at: `2026-11-26T10:00:0${i}.000Z`}), ...records(200, status, `b${i}-`)])),
    )
    const live = await store.load()
    expect(live.messages.get(record('shared').messageKey)).toMatchObject({status: 'accepted', at: '2026-11-26T10:00:07.000Z'})
    const journalLines = String(volume.readFileSync(JOURNAL, 'utf8')).trim().split('\n').slice(1)
    expect(journalLines.map((l) => (JSON.parse(l) as {batches: {at: string}[]}).batches[0]!.at)).toEqual(statuses.map((_, i) => `2026-11-26T10:00:0${i}.000Z`))
    const reloaded = await storeOn(fs).load()
    expect(reloaded.messages.size).toBe(1 + 8 * 200)
    expect(reloaded.messages.get(record('shared').messageKey)?.status).toBe('accepted')
  })

  it('loses and double-counts nothing after a crash between the snapshot rename and the journal removal', async () => {
    const {volume, fs, store} = await storeWith(records(3, 'accepted'), [record('amy', 'accepted')])
    await store.remove([record('c0').messageKey])
    const journal = String(volume.readFileSync(JOURNAL, 'utf8'))
    await store.commit()
    volume.writeFileSync(JOURNAL, journal) // as if the process died right after the rename

    const next = storeOn(fs)
    const data = await next.load()
    expect(data.serial).toBe(2)
    expect([...data.messages.keys()].sort()).toEqual([record('c1'), record('c2'), record('amy')].map((r) => r.messageKey).sort())
    expect(await next.remove([record('c0').messageKey])).toBe(0)
    await next.commit() // nothing new: no serial bump, the leftover journal is dropped
    expect(volume.existsSync(JOURNAL)).toBe(false)
    expect((await storeOn(fs).load()).serial).toBe(2)

    await next.append([record('bob')])
    expect(JSON.parse(String(volume.readFileSync(JOURNAL, 'utf8')).split('\n')[0]!)).toMatchObject({serial: 2, lineage: data.lineage})
    await next.commit()
    expect((await storeOn(fs).load()).messages.size).toBe(4)
  })

  it('folds a journal whatever its header says, keeping the newer of two records (header of another lineage/serial)', async () => {
    const {volume, fs, store} = await storeWith([record('amy', 'accepted', {at: '2026-11-26T10:00:00.000Z'}), record('bob', 'accepted', {at: '2026-11-26T12:00:00.000Z'})])
    const lineage = (await store.load()).lineage
    // A journal of a first apply on an empty state (header lineage "", serial 0), e.g. killed before its first commit.
    const lines = [
      '{"journal":1,"lineage":"","serial":0}',
      encodePut([record('amy', 'pending', {at: '2026-11-26T09:00:00.000Z'}), record('bob', 'pending', {at: '2026-11-26T11:00:00.000Z'})]).trimEnd(),
      encodePut([record('amy', 'accepted', {at: '2026-11-26T09:00:01.000Z'}), record('bob', 'accepted', {at: '2026-11-26T11:00:01.000Z'}), record('cat', 'accepted', {at: '2026-11-26T11:00:01.000Z'})]).trimEnd(),
    ]
    volume.writeFileSync(JOURNAL, `${lines.join('\n')}\n`)
    const next = storeOn(fs)
    const view = await next.load()
    expect(view).toMatchObject({lineage, serial: 2})
    // amy and bob: the state's records are newer and stay; cat: only in the journal, merged.
    expect(view.messages.get(record('amy').messageKey)?.at).toBe('2026-11-26T10:00:00.000Z')
    expect(view.messages.get(record('bob').messageKey)?.at).toBe('2026-11-26T12:00:00.000Z')
    expect(view.messages.get(record('cat').messageKey)?.status).toBe('accepted')
    await next.commit()
    expect(volume.existsSync(JOURNAL)).toBe(false)
    const folded = await storeOn(fs).load()
    expect(folded).toMatchObject({lineage, serial: 2})
    expect(folded.messages.size).toBe(3)
  })

  it('refuses to overwrite a snapshot someone else committed meanwhile', async () => {
    const {fs} = memVolume()
    const a = storeOn(fs)
    const b = storeOn(fs)
    await a.load()
    await b.append([record('bob')])
    await b.commit()
    await a.append([record('amy')])
    const error = await expectStateError(a.commit())
    expect(error.message).toMatch(/changed by someone else/)
  })

  it('imports a whole state as-is, lineage and serial included, replacing what was there', async () => {
    const {volume, fs, store} = await storeWith([record('old')], [record('pending-in-journal')])
    const incoming = [record('amy', 'accepted'), record('bob', 'failed', {errorCode: 30005})]
    await store.importState({formatVersion: 1, lineage: 'lineage-from-pg', serial: 42, sends: {notes: sendSnapshot()}, messages: new Map(incoming.map((r) => [r.messageKey, r]))})
    expect(volume.existsSync(JOURNAL)).toBe(false)
    for (const data of [await store.load(), await storeOn(fs).load()]) {
      expect(data).toMatchObject({lineage: 'lineage-from-pg', serial: 42, sends: {notes: sendSnapshot()}})
      expect([...data.messages.values()].sort((a, b) => a.messageKey.localeCompare(b.messageKey))).toEqual(incoming.sort((a, b) => a.messageKey.localeCompare(b.messageKey)))
    }
    await store.append([record('cat')])
    await store.commit()
    expect((await storeOn(fs).load()).serial).toBe(43)

    await store.importState({formatVersion: 1, lineage: '', serial: 0, sends: {}, messages: new Map()})
    expect(volume.toJSON()).toEqual({'/project/.mcsend': null})
    expect((await storeOn(fs).load()).serial).toBe(0)
  })

  describe('metadata (target, keyFingerprint)', () => {
    const target = {kind: 'marketing-cloud' as const, authHost: 'mc123.auth.marketingcloudapis.com', accountId: '514000123'}

    it('is journaled at once, folded by commit with a serial bump, and read back by a fresh load', async () => {
      const {volume, fs} = memVolume()
      const store = storeOn(fs)
      await store.append([record('amy')])
      await store.commit()
      expect((await store.load()).target).toBeUndefined() // absent: unknown
      await store.setMeta({target, keyFingerprint: 'sha256:Ab3_x'})
      expect(String(volume.readFileSync(JOURNAL, 'utf8'))).toContain('"op":"meta"')
      // Durable before the commit: a crash here keeps it (the journal is replayed; the view is the folded serial).
      expect(await storeOn(fs).load()).toMatchObject({serial: 2, target, keyFingerprint: 'sha256:Ab3_x'})
      await store.commit()
      expect(volume.existsSync(JOURNAL)).toBe(false)
      const text = String(volume.readFileSync(STATE, 'utf8'))
      const validate = compileSchema('state')
      expect(validate(JSON.parse(text))).toBe(true)
      expect(await storeOn(fs).load()).toMatchObject({serial: 2, target, keyFingerprint: 'sha256:Ab3_x'})
    })

    it('keeps a field left out, and bumps the serial only when something changed', async () => {
      const {fs} = memVolume()
      const store = storeOn(fs)
      await store.setMeta({target: {kind: 'sandbox'}, keyFingerprint: 'fp-1'})
      await store.commit()
      expect(await storeOn(fs).load()).toMatchObject({serial: 1, target: {kind: 'sandbox'}, keyFingerprint: 'fp-1'})
      await store.setMeta({target: {kind: 'sandbox'}})
      await store.setMeta({keyFingerprint: 'fp-1'})
      await store.commit()
      expect((await storeOn(fs).load()).serial).toBe(1)
      await store.setMeta({keyFingerprint: 'fp-2'})
      await store.commit()
      expect(await storeOn(fs).load()).toMatchObject({serial: 2, target: {kind: 'sandbox'}, keyFingerprint: 'fp-2'})
    })

    it('refuses (through the store guard) a target or fingerprint holding an address or a bad shape, writing nothing', async () => {
      const {volume, fs} = memVolume()
      const store = guardStore(storeOn(fs))
      await expect(store.setMeta({target: {kind: 'marketing-cloud', authHost: 'ann@example.com'}})).rejects.toThrow(/authHost/)
      await expect(store.setMeta({target: {kind: 'marketing-cloud', authHost: 'h', accountId: 'x@y'}})).rejects.toThrow(/accountId/)
      await expect(store.setMeta({target: {kind: 'elsewhere'} as never})).rejects.toThrow(/kind/)
      await expect(store.setMeta({keyFingerprint: 'ann@example.com'})).rejects.toThrow(/keyFingerprint/)
      await store.commit()
      expect(volume.toJSON()).toEqual({})
    })

    it('reads a snapshot whose header has a malformed target as an invalid state', async () => {
      const {fs} = memVolume({[STATE]: JSON.stringify({formatVersion: 1, lineage: 'l', serial: 1, updatedAt: '2026-11-26T12:00:00.000Z', target: {kind: 'marketing-cloud', authHost: 'a@b'}, sends: {}, messages: {}})})
      const error = await expectStateError(storeOn(fs).load())
      expect(error.message).toMatch(/target/)
    })

    it('imports and keeps the metadata with the whole state', async () => {
      const {fs} = memVolume()
      const store = storeOn(fs)
      await store.importState({formatVersion: 1, lineage: 'from-pg', serial: 7, sends: {}, messages: new Map([[record('amy').messageKey, record('amy')]]), target, keyFingerprint: 'fp'})
      expect(await storeOn(fs).load()).toMatchObject({lineage: 'from-pg', serial: 7, target, keyFingerprint: 'fp'})
    })
  })

  it('refuses (through the store guard) malformed or plaintext records from the caller', async () => {
    const store = guardStore(storeOn(memVolume().fs))
    await expect(store.append([{...record('amy'), toHash: 'amy@example.com'}])).rejects.toThrow(/toHash/)
    await expect(store.append([{...record('amy'), messageKey: ''}])).rejects.toThrow(/messageKey/)
    expect((await store.load()).messages.size).toBe(0)
  })

  it('writes files that validate against schemas/state.schema.json and hold no address (through the store guard)', async () => {
    const {volume, fs} = memVolume()
    const store = guardStore(storeOn(fs))
    await store.append(records(20, 'pending'))
    await store.append([
      record('amy', 'failed', {errorCode: 180008, errorMessage: 'Subscriber amy@example.com is unsubscribed'}),
      record('bob', 'accepted', {requestId: 'f0c2e1c3', delivery: {event: 'notSent', statusCode: 24, statusMessage: 'excluded <bob@example.com>', checkedAt: '2026-11-26T11:00:00.000Z'}}),
    ])
    await store.putSend(sendSnapshot())
    expect(String(volume.readFileSync(JOURNAL, 'utf8'))).not.toContain('@')
    await store.commit()
    const text = String(volume.readFileSync(STATE, 'utf8'))
    expect(text).not.toContain('@')

    const validate = compileSchema('state')
    const ok = validate(JSON.parse(text))
    expect(validate.errors ?? []).toEqual([])
    expect(ok).toBe(true)
    expect(validate(JSON.parse(text.replace('"status":"pending"', '"status":"sent"')))).toBe(false)
    expect(validate(JSON.parse(text.replace(/^ {6}"([A-Za-z0-9_-]{33})/m, '      "amy@example.com$1')))).toBe(false)
    expect(validate(JSON.parse(text.replace(/"keys":\[/, '"keys":[{"messageKey":"k","toHash":"amy@example.com","attributesHash":"a","contactHash":"c"},')))).toBe(false)
  })
})
