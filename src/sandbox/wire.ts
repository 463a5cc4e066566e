/**
 * Wire-level facts of the fake Marketing Cloud: error codes, error bodies and the CST timestamp format.
 * Sources are in docs/marketing-cloud-api.md; nothing here is shared with src/sfmc/.
 */

export const DOCUMENTATION_URL = 'https://developer.salesforce.com/docs/atlas.en-us.mc-apis.meta/mc-apis/error-handling.htm'

/** Response-level and recipient-level codes of the transactional messaging API (docs/marketing-cloud-api.md). */
export const Code = {
  notAuthorized: 0,
  invalidDataType: 10_001,
  missingRequiredField: 10_002,
  serialization: 10_004,
  invalidValue: 10_005,
  invalidOperation: 30_001,
  objectNotFound: 30_003,
  rateLimited: 50_100,
  temporarilyBlocked: 50_200,
  serviceUnavailable: 50_300,
  responsesHaveErrors: 109_001,
  tooManySubscribers: 109_101,
  noSubscribers: 109_102,
  noValidSubscribers: 109_103,
  missingSubscriberKey: 109_105,
  missingTo: 109_106,
  missingDefinitionKey: 109_107,
  invalidMessageKey: 109_108,
  invalidSubscriberKey: 109_109,
  duplicateMessageKey: 109_110,
  invalidDefinitionKey: 109_111,
  invalidTo: 109_121,
  unknownFieldName: 109_122,
} as const

/** Per-recipient messages, in the live "<NAME>: <detail>" form. Indexed by code. */
export const RECIPIENT_MESSAGES: Readonly<Record<number, string>> = {
  [Code.missingSubscriberKey]: 'MCMS_UTM_Validation_MissingRequiredField_subscriberKey: Invalid subscriber',
  [Code.missingTo]: 'MCMS_UTM_Validation_MissingRequiredField_to: Invalid subscriber',
  [Code.invalidTo]: 'MCMS_UTM_Validation_InvalidValue_to: Invalid subscriber',
  [Code.invalidMessageKey]: 'MCMS_UTM_Validation_InvalidValue_messageKey: messageKey must be a string of 1 to 100 characters',
  [Code.invalidSubscriberKey]: 'MCMS_UTM_Validation_InvalidValue_subscriberKey: contactKey must be a string of at most 254 characters',
  [Code.duplicateMessageKey]: 'MCMS_UTM_Validation_DuplicateMessageKey: messageKey reused within the past 2 days',
}

/** The longest messageKey Marketing Cloud accepts (docs/marketing-cloud-api.md). */
export const MAX_MESSAGE_KEY_LENGTH = 100
/** The most recipients one batch request may carry (docs/marketing-cloud-api.md). */
export const MAX_RECIPIENTS = 2000
/** Subscriber keys longer than this are rejected (subscriber code 30, SubscriberKeyTooLong). */
export const MAX_CONTACT_KEY_LENGTH = 254
/** GET status answers for messages up to 3 days old (docs/marketing-cloud-api.md). */
export const STATUS_RETENTION_MS = 3 * 24 * 3600 * 1000

export interface WireResponse {
  status: number
  body: string
  headers?: Record<string, string>
  /** Recipients in the request, for the request log. */
  recipients?: number
}

export function json(status: number, value: unknown, headers?: Record<string, string>): WireResponse {
  return {status, body: JSON.stringify(value), headers}
}

/** The platform error body `{message, errorcode, documentation}`; `lenient` emits errorcode as a string. */
export function apiError(status: number, errorcode: number | string, message: string, lenient: boolean, documentation = DOCUMENTATION_URL): WireResponse {
  return json(status, {message, errorcode: lenient ? String(errorcode) : errorcode, documentation})
}

export function notAuthorized(lenient: boolean): WireResponse {
  const res = json(401, {documentation: DOCUMENTATION_URL, errorcode: lenient ? '0' : 0, message: 'Not Authorized'})
  res.headers = {'www-authenticate': 'Bearer realm="mcsend-sandbox", error="invalid_token", error_description="The access token is expired or unknown"'}
  return res
}

/** OAuth-style token endpoint error. */
export function oauthError(status: number, error: string, description: string): WireResponse {
  return json(status, {error, error_description: description, error_uri: 'https://developer.salesforce.com/docs'})
}

const CST_OFFSET_MS = 6 * 3600 * 1000

/**
 * Marketing Cloud reports status times in Central Standard Time all year (UTC-6, no DST), without an offset
 * and with a varying number of fractional digits (docs/marketing-cloud-api.md). The digits below the millisecond come from
 * `jitter` so that clients meet 0 to 7 fractional digits; trailing zeros are dropped as the service does.
 */
export function cstTimestamp(epochMs: number, jitter: number): string {
  const iso = new Date(epochMs - CST_OFFSET_MS).toISOString() // 2018-08-03T13:41:18.550Z
  const n = Math.abs(Math.trunc(jitter))
  const extra = String((n * 7919) % 10_000).padStart(4, '0').slice(0, n % 5)
  const fraction = `${iso.slice(20, 23)}${extra}`.replace(/0+$/, '')
  const seconds = iso.slice(0, 19)
  return fraction === '' ? seconds : `${seconds}.${fraction}`
}
