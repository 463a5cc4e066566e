/** Shapes produced by the manifest loader. Plain data: no classes, no I/O. */

import type {Problem} from '../errors.js'

export type AttributeValue = string | number | boolean
export type Attributes = Record<string, AttributeValue>

export interface Recipient {
  contactKey: string
  to: string
  /** Per-recipient attributes; absent when the recipient carries none. */
  attributes?: Attributes
  /** An explicit messageKey from the source (at most 100 characters); otherwise one is derived. */
  messageKey?: string
  /** Where the recipient was read: a display path (relative to the working directory) and 1-based line/column. */
  file: string
  line: number
  column?: number
}

export interface SourceDigest {
  /** Display path of the file (relative to the working directory, forward slashes). */
  file: string
  /** Hex SHA-256 of the file's bytes. */
  sha256: string
}

/** What the canary waits for: Marketing Cloud accepted the message (and reports no failure), or reports it sent. */
export type CanaryAwait = 'accepted' | 'sent'

/**
 * A send's canary (manifest `canary:`): the first `size` recipients of the send, sent and awaited before the rest.
 * Seeds are the canary's own recipients, merged ahead of the audience; `first` takes them from the audience.
 */
export interface Canary {
  from: 'seeds' | 'first'
  /** How many recipients, from the start of Send.recipients, are the canary. */
  size: number
  await: CanaryAwait
  /** How long apply waits for the canary before it stops, in ms. */
  timeoutMs: number
  /** Where `canary:` was declared. */
  line: number
  column: number
}

/** A suppression source as loaded: recipients it lists are left out of the plan (plan/build.ts). */
export interface SuppressionList {
  /** Display path of the file (relative to the working directory). */
  file: string
  /** Hex SHA-256 of the file's bytes. */
  sha256: string
  /** What the values are: contactKeys or addresses (see keys/suppression.ts). */
  match: 'contactKey' | 'to'
  /** The values are hashes (keys/suppression.ts suppressionHash), not the values themselves. */
  hashed: boolean
  /** Named by the project file (for every send) or by the send itself. */
  scope: 'project' | 'send'
  /** Normalised values (normaliseSuppressed), or hashes when `hashed`. Never printed. */
  values: ReadonlySet<string>
  /** A hashed list's hash mode (keys/suppression.ts suppressionHashMode) and the line of its first hash; absent when empty. */
  hashMode?: {mode: string; line: number}
}

export interface Send {
  apiVersion: 'mcsend/v1'
  kind: 'Send'
  name: string
  definitionKey: string
  /** Defaults to 1. */
  revision: number
  /** Shared, request-level attributes (empty object when none). */
  attributes: Attributes
  /** Explicit batch size from the manifest, if given. */
  batchSize?: number
  /** Recipients from every source, merged in manifest order. */
  recipients: Recipient[]
  /** The canary, when the manifest declares one: its recipients are the first `canary.size` of `recipients`. */
  canary?: Canary
  /** Manifest file (display path) and the position of the document that declared this send. */
  file: string
  line: number
  column: number
  /** Digests of every source file this send read (not inline sources), in manifest order. */
  sources: SourceDigest[]
  /** Resolved values of the variables the send declares (`vars:`), by name; absent when it declares none. */
  variables?: Record<string, AttributeValue>
  /** The name as written, when it uses variables (`release-${{ vars.version_slug }}`): the same template with other values is another release, not a rename. */
  nameTemplate?: string
  /** Where each variable's value came from: `default`, `--var`, `MCSEND_VAR_NAME`, a var file or the project file. */
  variableSources?: Record<string, string>
  /** Suppression sources (the project file's first, then the send's own); absent when there are none. */
  suppression?: SuppressionList[]
}

export interface LoadResult {
  /** Sends that loaded without problems; empty when there are problems anywhere, unless partial results are requested. */
  sends: Send[]
  problems: Problem[]
  /** Problems beyond the cap (`maxProblems`) that were counted but not kept. */
  omittedProblems: number
  /** Digests of every manifest file read. */
  manifests: SourceDigest[]
  /** Not problems, but worth a warning (an error under `validate --strict`): a file without sends, a source without recipients. */
  warnings?: Problem[]
  /** Every variable name the manifests declare (sorted), so a `--var` nobody declares can be refused. */
  variables?: string[]
}
