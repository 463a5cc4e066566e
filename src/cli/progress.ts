import type {Progress} from '../apply/execute.js'
import {formatPace, renderProgressLine} from '../render/apply-text.js'
import {formatCount} from '../text/format.js'

export interface ProgressView {
  update(p: Progress): void
  /** Ends the display; with `final`, later updates are ignored (after Ctrl-C). */
  stop(final?: boolean): void
}

/**
 * A bar on a TTY; otherwise a plain line at most every 2 seconds (and at the end), so CI logs stay readable. Both
 * show the rate and the time left, measured from the first update (the executor reports 0 done when it starts).
 * The bar's library loads only for a bar (a run in CI or with --json never draws one).
 */
export async function makeProgress(stream: NodeJS.WriteStream, quiet: boolean, now: () => number = Date.now): Promise<ProgressView> {
  let startedAt: number | undefined
  const elapsed = () => now() - (startedAt ??= now())
  if (stream.isTTY === true && !quiet) {
    const {default: cliProgress} = await import('cli-progress')
    const bar = new cliProgress.SingleBar(
      {stream, format: 'Sending [{bar}] {percentage}% | {done}/{all} messages | batch {batches} | {pace} | ETA {left} | {rejected} rejected', hideCursor: true, clearOnComplete: false},
      cliProgress.Presets.shades_classic,
    )
    let started = false
    let ended = false
    // Our own tokens: cli-progress's {eta} and {value} are its own estimate and an unformatted number.
    const payload = (p: Progress) => {
      const {rate, eta} = formatPace(p, elapsed())
      return {done: formatCount(p.messagesDone), all: formatCount(p.messagesTotal), batches: `${formatCount(p.batchesDone)}/${formatCount(p.batchesTotal)}`, pace: rate, left: eta, rejected: formatCount(p.rejected)}
    }
    return {
      update(p) {
        if (ended) return
        if (!started) {
          // The first frame already shows this update's totals (never "batch 0/0").
          bar.start(p.messagesTotal, p.messagesDone, payload(p))
          started = true
          return
        }
        bar.update(p.messagesDone, payload(p))
      },
      stop(final) {
        if (started) bar.stop()
        started = false
        if (final) ended = true
      },
    }
  }
  let last: number | undefined
  let pending: Progress | undefined
  return {
    update(p) {
      const ms = elapsed()
      // Nothing to say before the first batch is done; the clock starts now.
      if (p.batchesDone === 0 && p.batchesTotal > 0) return
      pending = p
      if (last === undefined || now() - last >= 2000 || p.batchesDone === p.batchesTotal) {
        stream.write(`${renderProgressLine(p, ms)}\n`)
        last = now()
        pending = undefined
      }
    },
    stop() {
      if (pending) stream.write(`${renderProgressLine(pending, elapsed())}\n`)
      pending = undefined
    },
  }
}
