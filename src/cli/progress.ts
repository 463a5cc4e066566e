import cliProgress from 'cli-progress'

import type {Progress} from '../apply/execute.js'
import {renderProgressLine} from '../render/apply-text.js'

export interface ProgressView {
  update(p: Progress): void
  /** Ends the display; with `final`, later updates are ignored (after Ctrl-C). */
  stop(final?: boolean): void
}

/** A bar on a TTY; otherwise a plain line at most every 2 seconds (and at the end), so CI logs stay readable. */
export function makeProgress(stream: NodeJS.WriteStream, quiet: boolean): ProgressView {
  if (stream.isTTY === true && !quiet) {
    const bar = new cliProgress.SingleBar(
      {stream, format: 'Sending [{bar}] {percentage}% | {value}/{total} messages | batch {batches} | {rejected} rejected', hideCursor: true, clearOnComplete: false},
      cliProgress.Presets.shades_classic,
    )
    let started = false
    let ended = false
    return {
      update(p) {
        if (ended) return
        if (!started) {
          bar.start(p.messagesTotal, 0, {batches: '0/0', rejected: 0})
          started = true
        }
        bar.update(p.messagesDone, {batches: `${p.batchesDone}/${p.batchesTotal}`, rejected: p.rejected})
      },
      stop(final) {
        if (started) bar.stop()
        started = false
        if (final) ended = true
      },
    }
  }
  let last = 0
  let pending: Progress | undefined
  return {
    update(p) {
      const now = Date.now()
      pending = p
      if (now - last >= 2000 || p.batchesDone === p.batchesTotal) {
        stream.write(`${renderProgressLine(p)}\n`)
        last = now
        pending = undefined
      }
    },
    stop() {
      if (pending) stream.write(`${renderProgressLine(pending)}\n`)
      pending = undefined
    },
  }
}
