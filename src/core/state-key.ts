import {CliError, ExitCode, InvalidInputError} from '../errors.js'
import {makeStateHasher, STATE_KEY_VARIABLE, stateKeyProblem, type StateHasher} from '../keys/keyed.js'
import {mayStoreInClear} from '../privacy/index.js'
import type {PlannedSend} from '../plan/types.js'
import type {SendSnapshot, StateData, StateStore} from '../state/types.js'
import {mapSnapshotText} from '../state/guard.js'

const KEY_HINT = `generate one with \`openssl rand -base64 32\`, keep it in your CI's secret store, and set ${STATE_KEY_VARIABLE} wherever this state is used`

/** The hasher for MCSEND_STATE_KEY (keyed), or the unkeyed one when it is unset; a weak key is refused (exit 3). */
export function stateHasherFromEnv(env: NodeJS.ProcessEnv): StateHasher {
  const key = env[STATE_KEY_VARIABLE]
  if (key === undefined || key === '') return makeStateHasher(undefined)
  const problem = stateKeyProblem(key)
  if (problem !== undefined) throw new InvalidInputError(problem, [], KEY_HINT)
  return makeStateHasher(key)
}

/**
 * A state is bound to the key it was written with (its fingerprint). A different or a missing key would make every
 * hash and derived messageKey differ: planning would offer to send everything again. Refused instead, before any
 * plan is shown. A state without a fingerprint and without records takes the key on its first write.
 */
export function checkStateKey(state: StateData, hasher: StateHasher, location: string): void {
  const recorded = state.keyFingerprint
  if (recorded === undefined) {
    if (hasher.keyed && state.messages.size > 0) {
      throw new CliError(`the state ${location} was written without a state key, but ${STATE_KEY_VARIABLE} is set`, {
        code: 'state_key_mismatch',
        exitCode: ExitCode.invalidInput,
        hint: `unset ${STATE_KEY_VARIABLE} to use this state (its hashes are unkeyed and cannot be converted), or start a new state (--state) with the key`,
      })
    }
    return
  }
  if (!hasher.keyed) {
    throw new CliError(`the state ${location} is keyed (fingerprint ${recorded}), and ${STATE_KEY_VARIABLE} is not set`, {
      code: 'state_key_missing',
      exitCode: ExitCode.invalidInput,
      hint: `set ${STATE_KEY_VARIABLE} to the key this state was written with`,
    })
  }
  if (recorded !== hasher.fingerprint) {
    throw new CliError(`the state ${location} was written with another state key (fingerprint ${recorded}; ${STATE_KEY_VARIABLE} has ${hasher.fingerprint})`, {
      code: 'state_key_mismatch',
      exitCode: ExitCode.invalidInput,
      hint: `set ${STATE_KEY_VARIABLE} to the key this state was written with; another key would give every message a new key and send it again`,
    })
  }
}

/** Records the key's fingerprint on a state that has none yet (its first write under a key). */
export async function bindStateKey(store: StateStore, state: StateData, hasher: StateHasher): Promise<void> {
  if (hasher.keyed && state.keyFingerprint === undefined) await store.setMeta({keyFingerprint: hasher.fingerprint})
}

/** A value of a send snapshot as the state may hold it: in clear when it holds no address, else as a (keyed) hash. */
export function storableValue(hasher: StateHasher): (value: string) => string {
  return (value) => (mayStoreInClear(value) ? value : hasher.hashValue(value))
}

/**
 * The snapshot of an applied send, with every value that holds an address (definitionKey, shared attribute names
 * and values, variable values, file names) stored as a hash: a diff still shows that it changed, the state never holds it.
 */
export function storableSnapshot(snapshot: SendSnapshot, hasher: StateHasher): SendSnapshot {
  return mapSnapshotText(snapshot, storableValue(hasher))
}

/** The snapshot apply records for a planned send it sent (state recover records the same), as the state may hold it. */
export function appliedSnapshot(send: PlannedSend, appliedAt: Date, hasher: StateHasher): SendSnapshot {
  return storableSnapshot(
    {
      name: send.name,
      definitionKey: send.definitionKey,
      revision: send.revision,
      attributes: send.attributes,
      batchSize: send.batchSize,
      sources: send.sources,
      appliedAt: appliedAt.toISOString(),
      ...(send.nameTemplate === undefined ? {} : {nameTemplate: send.nameTemplate}),
      // Non-personal like the shared attributes; a value holding an address is stored as a hash all the same.
      ...(send.variables === undefined ? {} : {variables: send.variables}),
    },
    hasher,
  )
}
