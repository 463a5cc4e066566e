import type {Plan, PlannedMessage, PlannedSend} from '../plan/types.js'
import {escapeJsonText, maskAttributes, maskValue, type MaskOptions} from '../privacy/index.js'

export type ChunkWriter = (chunk: string) => void | Promise<void>

function sendHeader(send: PlannedSend, options: MaskOptions): Record<string, unknown> {
  return {
    name: send.name,
    definitionKey: maskValue(send.definitionKey, options),
    revision: send.revision,
    attributes: maskAttributes(send.attributes, options),
    batchSize: send.batchSize,
    file: maskValue(send.file, options),
    line: send.line,
    sources: send.sources,
    ...(send.variables === undefined ? {} : {variables: maskAttributes(send.variables, options), variableSources: send.variableSources ?? {}}),
    counts: send.counts,
    ...(send.bySource === undefined ? {} : {bySource: send.bySource.map((c) => ({...c, file: maskValue(c.file, options)}))}),
    pending: send.pending,
    ...(send.canary === undefined ? {} : {canary: send.canary}),
    ...(send.suppression === undefined ? {} : {suppression: send.suppression.map((c) => ({...c, file: maskValue(c.file, options)}))}),
  }
}

// Chunks stay well under V8's large-object threshold (128 KB): larger strings go straight to the old generation
// and pile up as garbage until a full GC, which costs hundreds of MB of RSS on a plan of a million messages.
const FLUSH_AT = 1 << 15

/**
 * Writes the plan document as JSON in chunks, so a plan of a million messages never builds one giant string.
 * The output parses to the same value as JSON.stringify of the equivalent object (without indentation); addresses
 * inside values are masked unless --show-addresses, and characters a terminal acts on are \u-escaped.
 */
export async function writePlanJson(plan: Plan, write: ChunkWriter, options: MaskOptions): Promise<void> {
  let buffer = ''
  const emit = async (s: string) => {
    buffer += s
    if (buffer.length >= FLUSH_AT) {
      const out = buffer
      buffer = ''
      await write(escapeJsonText(out))
    }
  }
  const head = {formatVersion: plan.formatVersion, ...(plan.environment === undefined ? {} : {environment: plan.environment}), state: plan.state, summary: plan.summary, renamed: plan.renamed ?? []}
  await emit(`${JSON.stringify(head).slice(0, -1)},"sends":[`)
  for (const [si, send] of plan.sends.entries()) {
    if (si > 0) await emit(',')
    await emit(`${JSON.stringify(sendHeader(send, options)).slice(0, -1)},"batches":[`)
    for (const [bi, batch] of send.batches.entries()) {
      if (bi > 0) await emit(',')
      await emit(`{"index":${batch.index},${batch.canary ? '"canary":true,' : ''}"size":${batch.messages.length},"messages":[`)
      await emitMessages(batch.messages, emit, options)
      await emit(']}')
    }
    await emit('],"unchanged":[')
    await emitMessages(send.unchanged, emit, options)
    await emit(']}')
  }
  await emit(']}\n')
  if (buffer.length > 0) await write(escapeJsonText(buffer))
}

async function emitMessages(messages: PlannedMessage[], emit: (s: string) => Promise<void>, options: MaskOptions): Promise<void> {
  const parts: string[] = []
  for (let i = 0; i < messages.length; i += 200) {
    const end = Math.min(messages.length, i + 200)
    parts.length = 0
    for (let j = i; j < end; j++) parts.push(messageJsonText(messages[j]!, options))
    await emit((i > 0 ? ',' : '') + parts.join(','))
  }
}

/**
 * The JSON form of one message (schemas/plan.schema.json), `to` only with --show-addresses; written as text
 * without an intermediate object, because this runs once per message.
 */
function messageJsonText(m: PlannedMessage, options: MaskOptions): string {
  let s = `{"messageKey":${JSON.stringify(maskValue(m.messageKey, options))},"contactKey":${JSON.stringify(maskValue(m.contactKey, options))},"action":"${m.action}"`
  if (m.reason !== undefined) s += `,"reason":${JSON.stringify(maskValue(m.reason, options))}`
  if (options.showAddresses) s += `,"to":${JSON.stringify(m.to)}`
  return `${s}}`
}

/**
 * Writes to a stream, each chunk once the previous one is written. Going on as soon as write() returns true is not
 * enough: on a file or /dev/null (a synchronous stream) write() is always true, the writer then runs from one
 * microtask to the next and the stream's callbacks, queued with process.nextTick, never get their turn, so every
 * chunk written stays in memory until the end (120 MB and a second of CPU for a plan of a million messages).
 */
export function streamWriter(stream: NodeJS.WritableStream): ChunkWriter {
  return (chunk) =>
    new Promise<void>((resolve, reject) => {
      stream.write(chunk, (error) => {
        if (error) reject(error)
        else resolve()
      })
    })
}
