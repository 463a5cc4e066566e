/** Request bodies in, WireResponses out: the sandbox's only contact with node:http's request and response objects. */
import type {IncomingMessage, ServerResponse} from 'node:http'

import type {WireResponse} from './wire.js'

/** Request bodies above this are refused with 413 (2000 recipients with attributes stay far below it). */
export const MAX_BODY_BYTES = 32 * 1024 * 1024

/** The whole body (undefined when empty); rejects with `too large` past MAX_BODY_BYTES, or when the client went away. */
export function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let tooLarge = false
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) tooLarge = true
      else chunks.push(chunk)
    })
    req.once('end', () => {
      if (tooLarge) reject(new Error('too large'))
      else resolve(chunks.length === 0 ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size))
    })
    req.once('error', reject)
    req.once('close', () => {
      if (!req.complete) reject(new Error('aborted'))
    })
  })
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase()
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))
}

/** A JSON body, or an Error whose message is `media` (not sent as JSON) or `json` (not valid JSON). */
export function parseJsonBody(contentType: string | undefined, body: Buffer | undefined): {value: unknown} | Error {
  if (!isJson(contentType)) return new Error('media')
  try {
    return {value: JSON.parse(body === undefined ? '' : body.toString('utf8'))}
  } catch {
    return new Error('json')
  }
}

/** Writes a response as JSON with its length; false when the response can no longer be written. */
export function writeResponse(res: ServerResponse, response: WireResponse): boolean {
  if (res.destroyed || res.writableEnded) return false
  const headers: Record<string, string | number> = {'content-type': 'application/json; charset=utf-8', ...response.headers}
  headers['content-length'] = Buffer.byteLength(response.body)
  res.writeHead(response.status, headers)
  res.end(response.body)
  return true
}
