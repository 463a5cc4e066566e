// The baseline of bench/apply-vs-bare.ts: the least a sender can do, with Node built-ins only and no mcsend code.
// It reads the CSV, splits it, takes one SHA-256 digest per recipient for its messageKey (the same layout as
// mcsend's), and POSTs the same batches with the same concurrency to the same server, after one token request.
// No validation, no state, no retries: whatever mcsend costs beyond this is its own overhead.
//
//   MCSEND_AUTH_URL=… MCSEND_CLIENT_ID=… MCSEND_CLIENT_SECRET=… node bench/bare-sender.mjs FILE.csv NAME DEFINITION BATCH [CONCURRENCY]
import {hash} from 'node:crypto'
import {readFileSync} from 'node:fs'

const [file, name, definitionKey, batchArg, concurrencyArg] = process.argv.slice(2)
const batchSize = Number(batchArg)
const concurrency = Number(concurrencyArg ?? 4)

const lines = readFileSync(file, 'utf8').split('\n')
const header = lines[0].split(',')
const prefix = `${name}.r1.`
const hashed = `${name}\n1\n`
const recipients = []
for (let i = 1; i < lines.length; i++) {
  const line = lines[i]
  if (line === '') continue
  const cells = line.split(',')
  const r = {contactKey: cells[0], to: cells[1], messageKey: prefix + hash('sha256', hashed + cells[0], 'base64url')}
  if (header.length > 2) {
    const attributes = {}
    for (let c = 2; c < header.length; c++) attributes[header[c]] = cells[c]
    r.attributes = attributes
  }
  recipients.push(r)
}

const tokenResponse = await fetch(new URL('v2/token', process.env.MCSEND_AUTH_URL), {
  method: 'POST',
  headers: {'content-type': 'application/json'},
  body: JSON.stringify({grant_type: 'client_credentials', client_id: process.env.MCSEND_CLIENT_ID, client_secret: process.env.MCSEND_CLIENT_SECRET}),
})
const token = await tokenResponse.json()
const sendUrl = new URL('messaging/v1/email/messages/', token.rest_instance_url)

let next = 0
let accepted = 0
async function worker() {
  while (next < recipients.length) {
    const batch = recipients.slice(next, next + batchSize)
    next += batchSize
    const response = await fetch(sendUrl, {
      method: 'POST',
      headers: {'content-type': 'application/json', authorization: `Bearer ${token.access_token}`},
      body: JSON.stringify({definitionKey, recipients: batch}),
    })
    const answer = await response.json()
    if (response.status !== 202) throw new Error(`HTTP ${response.status}`)
    for (const entry of answer.responses) if (entry.errorcode === undefined) accepted++
  }
}
await Promise.all(Array.from({length: concurrency}, worker))
process.stdout.write(`${JSON.stringify({accepted})}\n`)
