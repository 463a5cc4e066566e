import type {CliError} from '../errors.js'

/** What `mcsend state recover` found, per send and in all (core/recover.ts builds it, render/recover-text.ts shows it). */
export interface RecoverSendCounts {
  send: string
  /** Recipients in the plan (suppressed ones excluded). */
  planned: number
  /** Already accepted in the state: not asked. */
  alreadyRecorded: number
  /** Asked about. */
  asked: number
  /** Marketing Cloud knows it (queued, sent or another event): recorded accepted. */
  foundAccepted: number
  /** Marketing Cloud knows it and did not send it (EmailNotSent): recorded accepted with the reason, not re-sent. */
  foundNotSent: number
  /** Marketing Cloud does not know it: never sent, or sent more than 3 days ago. Nothing recorded. */
  unknown: number
  /** Not asked: the run was interrupted or stopped on an error. */
  unasked: number
}

export interface RecoverReport {
  state: string
  sends: RecoverSendCounts[]
  totals: Omit<RecoverSendCounts, 'send'>
  interrupted: boolean
  /** The error that stopped the run early (what was found before it is recorded). */
  error?: CliError
  /** Times a 429 made the run slow down. */
  backoffs: number
  /** How far back the status endpoint sees, in days. */
  reachDays: number
}
