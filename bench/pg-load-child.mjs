/**
 * One measured load for bench/state-pg-load.ts: `node --expose-gc bench/pg-load-child.mjs ROOT URL WORKSPACE KEY`
 * loads WORKSPACE with the PgStateStore built in ROOT (its dist/), and prints one JSON line: the load's wall and CPU
 * time, the heap the loaded state holds (measured after a full GC on each side), the record count and record KEY.
 */
import path from 'node:path'
import {performance} from 'node:perf_hooks'
import {pathToFileURL} from 'node:url'

const [root, url, workspace, key] = process.argv.slice(2)
const {PgStateStore} = await import(pathToFileURL(path.join(root, 'dist', 'state', 'pg-store.js')).href)
const store = await PgStateStore.connect({url, workspace})
try {
  globalThis.gc()
  const heapBefore = process.memoryUsage().heapUsed
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const state = await store.load()
  const ms = performance.now() - started
  const cpu = process.cpuUsage(cpuBefore)
  globalThis.gc()
  const heldMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6
  console.log(JSON.stringify({ms, cpuMs: (cpu.user + cpu.system) / 1000, heldMb, size: state.messages.size, record: state.messages.get(key)}))
} finally {
  await store.close()
}
