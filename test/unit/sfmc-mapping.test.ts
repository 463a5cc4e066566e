import {describe, expect, it} from 'vitest'

import {ApiError} from '../../src/errors.js'
import {apiErrorFromFailure, mapSendResponse, mapStatusResponse} from '../../src/sfmc/client.js'
import {RequestFailure} from '../../src/sfmc/http.js'
import type {SendRecipient} from '../../src/sfmc/types.js'

const recipients: SendRecipient[] = ['k1', 'k2', 'k3'].map((messageKey, i) => ({messageKey, contactKey: `c${i}`, to: `u${i}@example.com`}))

describe('mapSendResponse', () => {
  it('maps a fully accepted batch', () => {
    const body = {requestId: 'r-1', errorcode: 0, responses: [{messageKey: 'k3'}, {messageKey: 'k1'}, {messageKey: 'k2'}]}
    expect(mapSendResponse(recipients, body)).toEqual({
      requestId: 'r-1',
      httpStatus: 202,
      outcomes: [
        {messageKey: 'k1', accepted: true},
        {messageKey: 'k2', accepted: true},
        {messageKey: 'k3', accepted: true},
      ],
    })
  })

  it('maps per-recipient failures by messageKey, with codes as numbers or strings and either spelling', () => {
    const body = {
      requestId: 'r-2',
      errorcode: '109001',
      message: 'MCMS_UTM_ResponsesHasErrors: 2 subscribers failed to queue out of 3',
      responses: [
        {messageKey: 'k2', errorCode: '109121', message: 'MCMS_UTM_Validation_InvalidValue_to: bad address u1@example.com'},
        {messageKey: 'k1'},
        {messageKey: 'k3', errorcode: 109110},
      ],
    }
    expect(mapSendResponse(recipients, body).outcomes).toEqual([
      {messageKey: 'k1', accepted: true},
      {messageKey: 'k2', accepted: false, errorCode: 109121, errorMessage: 'MCMS_UTM_Validation_InvalidValue_to: bad address <email>'},
      {messageKey: 'k3', accepted: false, errorCode: 109110, errorMessage: '109110 MCMS_UTM_Validation_DuplicateMessageKey'},
    ])
  })

  it('reports a recipient missing from responses as not accepted, with a reason', () => {
    const result = mapSendResponse(recipients, {requestId: 'r-3', errorcode: 0, responses: [{messageKey: 'k1'}, {messageKey: 'zz'}]})
    expect(result.outcomes[0]).toEqual({messageKey: 'k1', accepted: true})
    for (const outcome of result.outcomes.slice(1)) {
      expect(outcome.accepted).toBe(false)
      expect(outcome.errorCode).toBeUndefined()
      expect(outcome.errorMessage).toMatch(/does not mention this messageKey/)
    }
  })

  it('gives every recipient the top-level code when the 202 has no per-recipient list', () => {
    const result = mapSendResponse(recipients.slice(0, 2), {requestId: 'r-4', errorcode: 109103})
    expect(result.outcomes).toEqual([
      {messageKey: 'k1', accepted: false, errorCode: 109103, errorMessage: '109103 MCMS_UTM_Validation_NoValidSubscribers'},
      {messageKey: 'k2', accepted: false, errorCode: 109103, errorMessage: '109103 MCMS_UTM_Validation_NoValidSubscribers'},
    ])
  })

  it('copes with a body that is not an object', () => {
    const result = mapSendResponse(recipients.slice(0, 1), undefined)
    expect(result.requestId).toBeUndefined()
    expect(result.outcomes[0]?.accepted).toBe(false)
  })
})

describe('mapStatusResponse', () => {
  it('maps a not-sent status with its subscriber code and converts the CST timestamp', () => {
    const body = {
      requestId: 'q',
      eventCategoryType: 'TransactionalSendEvents.EmailNotSent',
      timestamp: '2018-08-03T13:41:18.55',
      compositeId: 'x',
      info: {messageKey: 'k', contactKey: 'c', to: 'a@example.com', statusCode: '24', statusMessage: 'ListDetectiveExclusion'},
    }
    expect(mapStatusResponse(body)).toEqual({
      eventCategoryType: 'TransactionalSendEvents.EmailNotSent',
      timestamp: '2018-08-03T19:41:18.550Z',
      statusCode: 24,
      statusMessage: 'ListDetectiveExclusion',
    })
  })

  it('maps a queued status, which has no info', () => {
    expect(mapStatusResponse({eventCategoryType: 'TransactionalSendEvents.EmailQueued', timestamp: '2018-08-16T10:44:41.2196'})).toEqual({
      eventCategoryType: 'TransactionalSendEvents.EmailQueued',
      timestamp: '2018-08-16T16:44:41.219Z',
    })
  })
})

describe('apiErrorFromFailure', () => {
  const noSecrets = (text: string) => text.split('tok-123456').join('[redacted]')
  const failure = (status: number, body: {message?: string; errorCode?: number} = {}, attempts = 1) =>
    new RequestFailure(`HTTP ${status}`, {kind: 'http', status, body, attempts, mayHaveBeenProcessed: status >= 500})

  it('explains a 403 with the package scopes and the business unit, without retrying hints about outcome', () => {
    const error = apiErrorFromFailure(failure(403, {message: 'Insufficient privileges', errorCode: 20001}), noSecrets, {what: 'the send', send: true})
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({code: 'forbidden', status: 403, apiErrorCode: 20001, outcomeUnknown: false})
    const {message, hint} = error as ApiError
    expect(message).toBe('Marketing Cloud refused the send (HTTP 403, 20001 Authorization_BusinessRuleNotSet): Insufficient privileges')
    expect(hint).toContain('email_read email_write email_send')
    expect(hint).toContain('MCSEND_ACCOUNT_ID')
  })

  it('keeps the API message and code of a 400 and names the code', () => {
    const error = apiErrorFromFailure(
      failure(400, {message: "MCMS_UTM_Validation_UnknownFieldName: Unrecognized email field name 'recipient'", errorCode: 109122}),
      noSecrets,
      {what: 'the send', send: true},
    ) as ApiError
    expect(error.message).toContain('109122 MCMS_UTM_Validation_UnknownFieldName')
    expect(error.message).toContain("Unrecognized email field name 'recipient'")
    expect(error.code).toBe('bad_request')
    expect(error.hint).toMatch(/bug in mcsend/)
  })

  it('marks only sends as outcome-unknown, distinguishes 50200, and redacts secrets and addresses', () => {
    const server = apiErrorFromFailure(failure(503, {message: 'down for tok-123456 and ann@example.com'}, 6), noSecrets, {what: 'the send', send: true}) as ApiError
    expect(server).toMatchObject({code: 'server_error', outcomeUnknown: true})
    expect(server.message).toBe('Marketing Cloud refused the send (HTTP 503): down for [redacted] and <email> after 6 attempts')
    const lookup = apiErrorFromFailure(failure(503), noSecrets, {what: 'the lookup', send: false}) as ApiError
    expect(lookup.outcomeUnknown).toBe(false)
    const blocked = apiErrorFromFailure(failure(429, {errorCode: 50200}), noSecrets, {what: 'the send', send: true}) as ApiError
    expect(blocked).toMatchObject({code: 'concurrency_blocked', outcomeUnknown: false})
    expect(blocked.hint).toMatch(/concurrent requests: run again with --parallelism 1/)
    expect(apiErrorFromFailure(failure(429, {errorCode: 50100}), noSecrets, {what: 'the send', send: true})).toMatchObject({code: 'rate_limited'})
  })

  it('passes through errors that are not request failures', () => {
    const original = new ApiError('x', {code: 'bad_credentials'})
    expect(apiErrorFromFailure(original, noSecrets, {what: 'w', send: true})).toBe(original)
    const bug = new Error('bug')
    expect(apiErrorFromFailure(bug, noSecrets, {what: 'w', send: true})).toBe(bug)
  })
})
