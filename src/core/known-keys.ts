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
  const keys = send.batches.flatMap((b) => b.messages.map((m) => m.messageKey))
  if (keys.length <= n) return keys
  const picks = new Set<number>([0, keys.length - 1])
  for (let i = 1; picks.size < n && i < n; i++) picks.add(Math.floor((i * keys.length) / n))
  return [...picks].sort((a, b) => a - b).map((i) => keys[i]!)
}

/**
 * Before apply sends a send its state has never seen, asks the status endpoint about a few of its keys (paced). If
 * Marketing Cloud already knows any, the messages went out from a state that is lost (or this is the wrong state):
 * refused with exit 5, pointing at `mcsend state recover`, instead of relying on the dedupe window alone (it ends
 * after 2-3 days; docs/marketing-cloud-api.md). An unknown key (400 or 404) is the normal answer for a new send. A
 * status route that fails does not block the send: this check is a guard on top of the state, so it only warns.
 */
export async function refuseKnownKeys(plan: Plan, state: Pick<StateData, 'sends'>, client: SfmcClient, options: {note: (message: string) => void; pacer: Pacer}): Promise<void> {
  const sends = unseenSends(plan, state)
  if (sends.length === 0) return
  // The connection's pacer: a 429 on the status route slows this check and the canary's wait alike.
  const {pacer} = options
  let asked = 0
  for (const send of sends) {
    let known = 0
    let sampled = 0
    for (const key of sampleKeys(send, KNOWN_KEY_SAMPLE)) {
      if (asked >= KNOWN_KEY_LIMIT) return
      await pacer.take()
      asked++
      sampled++
      try {
        if ((await client.getMessageStatus(key)) !== undefined) known++
        pacer.succeeded()
      } catch (error) {
        options.note(`warning: could not ask Marketing Cloud whether send ${send.name} was sent before (${error instanceof Error ? error.message : String(error)}); going on`)
        return
      }
    }
    if (known > 0) {
      throw new CliError(`Marketing Cloud already knows ${known} of ${plural(sampled, 'sampled messageKey')} of send ${send.name}, which this state has never recorded: the state was lost, or it is the wrong one`, {
        code: 'state_lost',
        exitCode: ExitCode.locked,
        hint: 'rebuild the records with `mcsend state recover` and the same manifests and flags (nothing is sent), then apply again; or point --state / --env at the state this send was applied with',
      })
    }
  }
}
