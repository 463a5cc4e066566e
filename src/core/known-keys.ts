import {CliError, ExitCode} from '../errors.js'
import type {Plan, PlannedSend} from '../plan/types.js'
import type {SfmcClient} from '../sfmc/types.js'
import type {StateData} from '../state/types.js'
import type {Pacer} from '../status/pacer.js'
import {plural} from '../text/format.js'

/** Keys asked about per send the state has never seen: enough to notice a lost state, cheap on the status route. */
export const KNOWN_KEY_SAMPLE = 3
/** At most this many status requests in all, however many new sends the plan holds. */
export const KNOWN_KEY_LIMIT = 9

/**
 * Sends the state has never seen: no applied snapshot and no record for any of their messages (every one is
 * `create`). A state that was deleted, or another team's, looks exactly like this.
 */
export function unseenSends(plan: Plan, state: Pick<StateData, 'sends'>): PlannedSend[] {
  return plan.sends.filter((s) => s.batches.length > 0 && state.sends[s.name] === undefined && s.counts.create === s.counts.total)
}

/** Up to `n` messageKeys spread over a send's messages (the first, the last, then between). */
export function sampleKeys(send: PlannedSend, n: number): string[] {
  // Picked by position across the batches, without a list of every key (a send may hold millions).
  const total = send.batches.reduce((sum, b) => sum + b.messages.length, 0)
  let wanted = Array.from({length: Math.min(total, n)}, (_, i) => i)
  if (total > n) {
    const picks = new Set<number>([0, total - 1])
    for (let i = 1; picks.size < n && i < n; i++) picks.add(Math.floor((i * total) / n))
    wanted = [...picks].sort((a, b) => a - b)
  }
  const keys: string[] = []
  let start = 0
  for (const b of send.batches) {
    while (keys.length < wanted.length && wanted[keys.length]! < start + b.messages.length) keys.push(b.messages[wanted[keys.length]! - start]!.messageKey)
    start += b.messages.length
  }
  return keys
}

/**
 * Before apply sends a send its state has never seen, asks the status endpoint about a few of its keys. If
 * Marketing Cloud already knows any, the messages went out from a state that is lost (or this is the wrong state):
 * refused with exit 5, pointing at `mcsend state recover`, instead of relying on the dedupe window alone (it ends
 * after 2-3 days; docs/marketing-cloud-api.md). An unknown key (400 or 404) is the normal answer for a new send. A
 * status route that fails does not block the send: this check is a guard on top of the state, so it only warns.
 *
 * A send's few keys are asked at once, on one slot of the pacer, and the sends on its following slots: a burst of at
 * most KNOWN_KEY_SAMPLE requests is still the occasional check the route is meant for (no rate is published;
 * docs/marketing-cloud-api.md), while asking them one slot apart kept every first apply of a send idle for 0.4 s.
 */
export async function refuseKnownKeys(plan: Plan, state: Pick<StateData, 'sends'>, client: SfmcClient, options: {note: (message: string) => void; pacer: Pacer}): Promise<void> {
  const sends = unseenSends(plan, state)
  if (sends.length === 0) return
  // The connection's pacer: a 429 on the status route slows this check and the canary's wait alike.
  const {pacer} = options
  let asked = 0
  for (const send of sends) {
    const keys = sampleKeys(send, KNOWN_KEY_SAMPLE).slice(0, KNOWN_KEY_LIMIT - asked)
    if (keys.length === 0) return
    await pacer.take()
    asked += keys.length
    // Every answer is awaited, so none is left running when the connection closes.
    const answers = await Promise.allSettled(keys.map((key) => client.getMessageStatus(key)))
    let known = 0
    let failure: unknown
    for (const answer of answers) {
      if (answer.status === 'rejected') failure ??= answer.reason
      else {
        pacer.succeeded()
        if (answer.value !== undefined) known++
      }
    }
    // A known key refuses even when another of the sample could not be asked: the evidence is there.
    if (known === 0 && failure !== undefined) {
      options.note(`warning: could not ask Marketing Cloud whether send ${send.name} was sent before (${failure instanceof Error ? failure.message : String(failure)}); going on`)
      return
    }
    if (known > 0) {
      throw new CliError(`Marketing Cloud already knows ${known} of ${plural(keys.length, 'sampled messageKey')} of send ${send.name}, which this state has never recorded: the state was lost, or it is the wrong one`, {
        code: 'state_lost',
        exitCode: ExitCode.locked,
        hint: 'rebuild the records with `mcsend state recover` and the same manifests and flags (nothing is sent), then apply again; or point --state / --env at the state this send was applied with',
      })
    }
  }
}
