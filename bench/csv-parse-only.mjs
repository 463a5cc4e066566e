// The baseline for bench/plan-1m.ts: parse the CSV with csv-parse alone, streaming, and count the records.
import {createReadStream} from 'node:fs'
import {parse} from 'csv-parse'

const file = process.argv[2]
let n = 0
const parser = createReadStream(file).pipe(parse({bom: true}))
for await (const _record of parser) n++
process.stderr.write(`records=${n - 1}\n`)
