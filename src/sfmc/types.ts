/** The Marketing Cloud client's public shape. docs/marketing-cloud-api.md holds the API facts it follows. */

export interface Credentials {
  clientId: string
  clientSecret: string
  /** Auth base URL, e.g. https://SUBDOMAIN.auth.marketingcloudapis.com/ (the client appends v2/token). */
  authUrl: string
  /** Business unit MID; sent as account_id. */
  accountId?: string
}

export interface SendRecipient {
  contactKey: string
  to: string
  messageKey: string
  attributes?: Record<string, string | number | boolean>
}

export interface SendBatchRequest {
  definitionKey: string
  attributes?: Record<string, string | number | boolean>
  recipients: SendRecipient[]
}

export interface RecipientOutcome {
  messageKey: string
  /** true when Marketing Cloud queued it (no per-recipient errorcode). */
  accepted: boolean
  /**
   * Neither accepted nor refused: an entry without a code inside a non-2xx answer. The key stays pending and the
   * next run re-sends it with the same key (Marketing Cloud answers 109110 if it did queue it).
   */
  unknown?: boolean
  errorCode?: number
  errorMessage?: string
}

export interface SendBatchResult {
  requestId?: string
  /** The HTTP status of the answer (202 normally; a 4xx that listed per-recipient results). */
  httpStatus?: number
  /** One entry per recipient of the request, in the request's order (matched to the answer by messageKey). */
  outcomes: RecipientOutcome[]
}

export type DefinitionStatus = 'Active' | 'Inactive' | 'Deleted'

export interface Definition {
  definitionKey: string
  name?: string
  status: DefinitionStatus | string
}

export interface MessageStatusResult {
  eventCategoryType: string
  /** UTC ISO time converted from the API's CST timestamp. */
  timestamp?: string
  statusCode?: number
  statusMessage?: string
}

/** Events the client reports (for --verbose logging and progress); never carry secrets. */
export type ClientEvent =
  | {type: 'token'; expiresIn: number}
  /** `attempt` counts retries from 1; 0 marks the one extra attempt after a 401 with a fresh token (not counted). */
  | {type: 'retry'; route: string; attempt: number; delayMs: number; reason: string}

export interface SfmcClient {
  sendBatch(request: SendBatchRequest, signal?: AbortSignal): Promise<SendBatchResult>
  /** undefined when the definition does not exist (404). */
  getDefinition(definitionKey: string): Promise<Definition | undefined>
  /** undefined when the key is unknown to Marketing Cloud. */
  getMessageStatus(messageKey: string): Promise<MessageStatusResult | undefined>
  /**
   * The MID of the business unit the token acts in: MCSEND_ACCOUNT_ID when set, otherwise `organization.member_id`
   * from the auth host's GET /v2/userinfo; undefined when that cannot be learnt.
   */
  accountId(): Promise<string | undefined>
  /** The auth base URL (its host names the tenant). */
  readonly authUrl: string
  close(): Promise<void>
}
