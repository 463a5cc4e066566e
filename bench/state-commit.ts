/**
 * State store cost per batch: appends 100 batches of 2,000 records to a fresh file store (real disk, fsync on),
 * then commits. A journal append must cost O(batch): the last ten appends should cost about what the first ten did.
 *
 *   npx tsx bench/state-commit.ts                 # 100 x 2,000
 *   npx tsx bench/state-commit.ts --load 1000000  # also time load() of a state with that many records
 *   MCSEND_BENCH_DIR=/dev/shm npx tsx bench/state-commit.ts   # on tmpfs: the CPU cost without the fsync
 */
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {performance} from 'node:perf_hooks'

import {hashAttributes, hashContactKey, hashTo} from '../src/keys/hash.js'
import {messageKeyDeriver} from '../src/keys/message-key.js'
import {FileStateStore} from '../src/state/file-store.js'
import type {MessageRecord} from '../src/state/types.js'

const BATCHES = 100
const BATCH_SIZE = 2000
const messageKey = messageKeyDeriver('bench', 1)

function batch(index: number, size: number, status: MessageRecord['status'] = 'accepted'): MessageRecord[] {
  const at = new Date().toISOString()
  return Array.from({length: size}, (_, i) => {
    const contact = `contact-${index}-${i}`
    return {
      messageKey: messageKey(contact),
      send: 'bench',
      revision: 1,
      status,
      at,
      requestId: `req-${index}`,
      toHash: hashTo(`${contact}@example.com`),
      attributesHash: hashAttributes({}, {Name: contact}),
      contactHash: hashContactKey(contact),
    }
  })
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
const ms = (x: number) => `${x.toFixed(2)} ms`

async function appendBench(dir: string): Promise<void> {
  const store = new FileStateStore({path: path.join(dir, 'append', 'state.json')})
  await store.load()
  const times: number[] = []
  for (let i = 0; i < BATCHES; i++) {
    const records = batch(i, BATCH_SIZE)
    const start = performance.now()
    await store.append(records)
    times.push(performance.now() - start)
  }
  const commitStart = performance.now()
  await store.commit()
  const commitMs = performance.now() - commitStart
  await store.close()
  const first = mean(times.slice(0, 10))
  const last = mean(times.slice(-10))
  console.log(`append ${BATCHES} x ${BATCH_SIZE} records (each: one journal line + fdatasync)`)
  console.log(`  mean of first 10 appends: ${ms(first)}`)
  console.log(`  mean of last 10 appends:  ${ms(last)}   (ratio ${(last / first).toFixed(2)}, limit 1.5)`)
  console.log(`  medians, first / last 10: ${ms(median(times.slice(0, 10)))} / ${ms(median(times.slice(-10)))} (fsync and GC pauses make means noisy)`)
  console.log(`  final commit of ${BATCHES * BATCH_SIZE} records: ${ms(commitMs)}`)

  const loadStart = performance.now()
  const data = await new FileStateStore({path: path.join(dir, 'append', 'state.json')}).load()
  console.log(`  load() of ${data.messages.size} records: ${ms(performance.now() - loadStart)}`)
}

async function loadBench(dir: string, count: number): Promise<void> {
  const file = path.join(dir, 'load', 'state.json')
  const writer = new FileStateStore({path: file})
  for (let done = 0, i = 0; done < count; done += BATCH_SIZE, i++) await writer.append(batch(1_000_000 + i, Math.min(BATCH_SIZE, count - done)))
  const commitStart = performance.now()
  await writer.commit()
  const commitMs = performance.now() - commitStart
  await writer.close()
  const size = (await fs.stat(file)).size
  global.gc?.()
  const heapBefore = process.memoryUsage().heapUsed
  const start = performance.now()
  const data = await new FileStateStore({path: file}).load()
  const loadMs = performance.now() - start
  const heapAfter = process.memoryUsage().heapUsed
  console.log(`state of ${data.messages.size} records (${(size / 1e6).toFixed(0)} MB on disk)`)
  console.log(`  commit: ${ms(commitMs)}`)
  console.log(`  load(): ${ms(loadMs)}, heap grew by ${((heapAfter - heapBefore) / 1e6).toFixed(0)} MB`)
}

const dir = await fs.mkdtemp(path.join(process.env.MCSEND_BENCH_DIR ?? os.tmpdir(), 'mcsend-bench-state-'))
try {
  await appendBench(dir)
  const loadIndex = process.argv.indexOf('--load')
  if (loadIndex !== -1) await loadBench(dir, Number(process.argv[loadIndex + 1] ?? 1_000_000))
} finally {
  await fs.rm(dir, {recursive: true, force: true})
}
