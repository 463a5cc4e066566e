// A process for bench/json-source.ts: reads a JSON array of recipients with JSON.parse (`json-parse`) or with the
// built strict parser (a path to a compiled strict-json.js: its parseJsonArray), and counts the elements.
import {readFileSync} from 'node:fs'
import {pathToFileURL} from 'node:url'

const [parser, file] = process.argv.slice(2)
const text = readFileSync(file, 'utf8')
let n = 0
if (parser === 'json-parse') n = JSON.parse(text).length
else {
  const {parseJsonArray} = await import(pathToFileURL(parser).href)
  parseJsonArray(text, () => n++)
}
process.stderr.write(`elements=${n}\n`)
