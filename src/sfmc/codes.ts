/**
 * Marketing Cloud error and status code names, for human output, as docs/marketing-cloud-api.md lists them from
 * "Transactional Send Response Codes", "Transactional Send Subscriber Codes", "Handle Errors in REST API" and
 * "Rate Limiting Errors" (developer.salesforce.com).
 */

/**
 * Response-level `errorcode` values of the transactional messaging routes and the platform. 0 has no name: it is
 * the code of a success, and also the code a 401 "Not Authorized" body carries, so only the HTTP status tells.
 */
export const RESPONSE_CODE_NAMES: ReadonlyMap<number, string> = new Map([
  [10000, 'MCMS_UTM_Validation'],
  [10001, 'MCMS_UTM_Validation_InvalidDataType'],
  [10002, 'MCMS_UTM_Validation_MissingRequiredField'],
  [10003, 'MCMS_UTM_Validation_IncorrectFormat'],
  [10004, 'InvalidMessageFormat (unbalanced or malformed JSON)'],
  [10005, 'MCMS_UTM_Validation_InvalidValue'],
  [10006, 'AggregateError'],
  [20000, 'Authorization_GeneralException'],
  [20001, 'Authorization_BusinessRuleNotSet'],
  [20002, 'Authorization_InsufficientPrivileges'],
  [30000, 'MCMS_UTM_Runtime'],
  [30001, 'MCMS_UTM_Runtime_InvalidOperation'],
  [30002, 'Runtime_Conflict'],
  [30003, 'MCMS_UTM_Runtime_ObjectNotFound'],
  [30004, 'MCMS_UTM_Runtime_ObjectAlreadyExists'],
  [40000, 'MCMS_UTM_Authentication'],
  [40001, 'MCMS_UTM_Authentication_NotAuthenticated'],
  [40002, 'Authentication_TokenInvalidOnThisEndpoint'],
  [40003, 'Authentication_TokenInvalidOnUrl'],
  [40004, 'Authentication_TokenInvalidOnUrlOrRequestBody'],
  [50100, 'RateLimitExceeded'],
  [50200, 'RequestsTemporarilyBlocked (too many concurrent requests)'],
  [50300, 'ServiceUnavailable'],
  [109001, 'MCMS_UTM_ResponsesHasErrors'],
  [109101, 'MCMS_UTM_Validation_TooManySubscribers'],
  [109102, 'MCMS_UTM_Validation_NoSubscribers'],
  [109103, 'MCMS_UTM_Validation_NoValidSubscribers'],
  [109104, 'MCMS_UTM_Validation_MissingRequiredField_messageKey'],
  [109105, 'MCMS_UTM_Validation_MissingRequiredField_subscriberKey'],
  [109106, 'MCMS_UTM_Validation_MissingRequiredField_to'],
  [109107, 'MCMS_UTM_Validation_MissingRequiredField_definitionKey'],
  [109108, 'MCMS_UTM_Validation_InvalidValue_messageKey'],
  [109109, 'MCMS_UTM_Validation_InvalidValue_subscriberKey'],
  [109110, 'MCMS_UTM_Validation_DuplicateMessageKey'],
  [109111, 'MCMS_UTM_Validation_InvalidValue_definitionKey'],
  [109112, 'MCMS_UTM_Validation_InvalidValue_options'],
  [109113, 'MCMS_UTM_Validation_InvalidValue_autoAddSubscriber'],
  [109114, 'MCMS_UTM_Validation_InvalidValue_resubscribe'],
  [109115, 'MCMS_UTM_Validation_InvalidValue_keyword'],
  [109116, 'MCMS_UTM_Validation_InvalidValue_resubscribe_true_without_keyword_specified'],
  [109120, 'MCMS_UTM_Validation_MissingRequiredField_keyword'],
  [109121, 'MCMS_UTM_Validation_InvalidValue_to'],
  [109122, 'MCMS_UTM_Validation_UnknownFieldName'],
  [109123, 'MCMS_UTM_Validation_InvalidValue_classification_IncorrectType'],
  [109124, 'MCMS_UTM_Validation_email_does_not_pass_validation'],
  [109125, 'MCMS_UTM_Validation_InvalidValue_updateSubscriber'],
])

/** The per-recipient code Marketing Cloud answers for a messageKey it already accepted within the dedupe window. */
export const DUPLICATE_MESSAGE_KEY = 109110
/** The top-level code of a 202 in which some recipients failed. */
export const RESPONSES_HAVE_ERRORS = 109001
/** No recipient of the request was valid: the whole request was refused. */
export const NO_VALID_SUBSCRIBERS = 109103
/** 429 "Your requests are temporarily blocked": too many concurrent requests (no Retry-After). */
export const CONCURRENCY_BLOCKED = 50200

/** Asynchronous subscriber status codes (GET status `info.statusCode`, notSent list, ENS EmailNotSent). */
export const SUBSCRIBER_STATUS_NAMES: ReadonlyMap<number, string> = new Map([
  [1, 'Unsubscribed'],
  [2, 'Held'],
  [3, 'PartnerUnsubscribed'],
  [4, 'MissingEmailAddress'],
  [5, 'InvalidEmailAddress'],
  [6, 'DuplicateEmail'],
  [7, 'InvalidSubscriberIDProvided'],
  [8, 'MissingSubscriberID'],
  [9, 'MissingOwnerID'],
  [10, 'MissingRequiredAttributes'],
  [11, 'NoAllSubscribersListEntry'],
  [12, 'InvalidOwnerIDProvided'],
  [13, 'SubscriberKeyMismatch'],
  [14, 'EmailAddressMismatch'],
  [15, 'UnspecifiedError'],
  [16, 'InvalidAttributeValue'],
  [17, 'AttributeValueMaxLengthErr'],
  [18, 'InvalidAttributeValueCount'],
  [19, 'MissingRequiredFields'],
  [20, 'InvalidFieldValue'],
  [21, 'DuplicateDataExtensionRow'],
  [22, 'DataExtensionInsertFailed'],
  [23, 'DomainExclusion'],
  [24, 'ListDetectiveExclusion'],
  [25, 'SubscriberBlackedOut'],
  [26, 'BuildEmailError'],
  [27, 'SuppressionListExclusion'],
  [28, 'OptOutListExclusion'],
  [29, 'MissingSubscriberKeyValue'],
  [30, 'SubscriberKeyTooLong'],
  [31, 'ListLevelOptOut'],
  [32, 'MissingSendGroupID'],
  [33, 'AccountLevelOptOut'],
  [34, 'MissingMessageFileName'],
  [35, 'InvalidEmailAddressID'],
  [36, 'InvalidBusinessUnit'],
  [37, 'QueuedTransactionDeleted'],
  [38, 'InvalidSalesforceID'],
  [39, 'SubscriberQueueCleared'],
  [40, 'SubscriberDeleted'],
  [41, 'DuplicateSubscriber'],
  [42, 'RestrictedForProcessing'],
  [43, 'SubscriberRequestExpired'],
  [100, 'Error'],
  [101, 'Failure'],
  [102, 'Excluded'],
  [103, 'MessageBuildError'],
  [104, 'RecursiveScriptError'],
  [105, 'InvalidSendTimeDataError'],
  [106, 'MissingSendDataExtensionSourceRowError'],
  [107, 'MissingSubscriberDataError'],
  [108, 'MissingListSubscriberDataError'],
  [109, 'MissingSubscriberKeyError'],
  [110, 'InvalidEmailAddressError'],
  [111, 'ScriptRaiseError'],
  [112, 'EmptyHTTPGetReturnError'],
  [113, 'EmptyHTTPGetFunctionReturnError'],
  [114, 'MissingSFIDError'],
  [115, 'MissingSFDataError'],
  [116, 'MissingSFSubscriberDataError'],
  [117, 'CouldNotResolveSecureEmailToken'],
  [118, 'GlobalUnsub'],
  [119, 'PartnerUnsub'],
  [120, 'ListDetectiveExclusion'],
  [121, 'ProcessedByPairedMember'],
  [122, 'SMTPFileNotFound'],
  [123, 'SMTPFileIOError'],
  [124, 'SMTPFileFormatError'],
  [125, 'DecryptionFailed'],
  [126, 'MessageVolumeLimitExceeded'],
  [127, 'EmptySubject'],
  [128, 'ResolvedEmailBodyTooShort'],
  [129, 'PhoneNumberValidationFailed'],
  [130, 'PayloadExceedsMaximum'],
  [131, 'LinkDataExceedsMaximumSize'],
  [132, 'InvalidCCEmailAddressError'],
  [133, 'InvalidBCCEmailAddressError'],
  [134, 'SubscriberDeleted'],
  [135, 'RestrictedForProcessing'],
  [136, 'SubscriberKeyMismatch'],
  [137, 'SubscriberIDMismatch'],
  [138, 'ExceededExpirationPolicy'],
  [139, 'TimedoutInQueue'],
  [140, 'UnverifiedFromEmailAddress'],
  [141, 'V2TriggeredSendDeletedFromQueue'],
  [1000, 'UnsubscribedList'],
  [1010, 'UnsubscribedMaster'],
  [1020, 'UnsubscribedGlobal'],
  [1030, 'Held'],
  [1040, 'Deleted'],
])

/** `109106 MCMS_UTM_Validation_MissingRequiredField_to`; just the number for a code we do not know. */
export function codeName(code: number): string {
  const name = RESPONSE_CODE_NAMES.get(code)
  return name === undefined ? String(code) : `${code} ${name}`
}

/** `24 ListDetectiveExclusion`; just the number for a code we do not know. */
export function subscriberStatusName(code: number): string {
  const name = SUBSCRIBER_STATUS_NAMES.get(code)
  return name === undefined ? String(code) : `${code} ${name}`
}

/**
 * Reads an error code that Marketing Cloud sends as a number or a numeric string (the Swagger types it as a string).
 * Anything else (absent, empty, not numeric) is undefined.
 */
export function parseCode(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return Number.parseInt(value, 10)
  return undefined
}
