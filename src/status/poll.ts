import pLimit from 'p-limit'

import {ApiError, CliError} from '../errors.js'
import type {MessageStatusResult, SfmcClient} from '../sfmc/types.js'
import type {MessageRecord} from '../state/types.js'
import type {Pacer} from './pacer.js'

export interface StatusAnswer {
  record: MessageRecord
  /** undefined: the status endpoint does not know the key (404). */
  result: MessageStatusResult | undefined
}

export interface PollOptions {
  pacer: Pacer
  /** Requests in flight at once (the pacer decides how often they start). Default 2. */
  concurrency?: number
  /** Ctrl-C: no new request starts; answers already received are kept. */
  signal?: AbortSignal
  onAnswer?: (answer: StatusAnswer) => void | Promise<void>
  onProgress?: (done: number, total: number) => void
}

export interface PollResult {
  answered: number
  interrupted: boolean
  /** What stopped the run early (Marketing Cloud refusing or unreachable after the client's retries). */
  error?: CliError
}

/** Asks the status endpoint about each record's messageKey, paced; stops at the first error that retries did not cure. */
export async function pollStatuses(records: readonly MessageRecord[], client: SfmcClient, options: PollOptions): Promise<PollResult> {
  const limit = pLimit(Math.max(1, options.concurrency ?? 2))
  const result: PollResult = {answered: 0, interrupted: false}
  let done = 0
  let stopped = false
  const ask = async (record: MessageRecord): Promise<void> => {
    if (stopped) return
    if (options.signal?.aborted) {
      result.interrupted = true
      return
    }
    await options.pacer.take(options.signal)
    if (stopped) return
    if (options.signal?.aborted) {
      result.interrupted = true
      return
    }
    let answer: MessageStatusResult | undefined
    try {
      answer = await client.getMessageStatus(record.messageKey)
    } catch (error) {
      stopped = true
      result.error ??=
        error instanceof CliError ? error : new ApiError(`asking for a message status failed: ${error instanceof Error ? error.message : String(error)}`, {cause: error})
      return
    }
    options.pacer.succeeded()
    result.answered++
    await options.onAnswer?.({record, result: answer})
    done++
    options.onProgress?.(done, records.length)
  }
  await Promise.all(records.map((record) => limit(() => ask(record))))
  return result
}
