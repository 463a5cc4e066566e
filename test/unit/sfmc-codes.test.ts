import {describe, expect, it} from 'vitest'

import {codeName, parseCode, RESPONSE_CODE_NAMES, SUBSCRIBER_STATUS_NAMES, subscriberStatusName} from '../../src/sfmc/codes.js'
import {maskEmails, redact} from '../../src/sfmc/redact.js'
import {cstToUtcIso} from '../../src/sfmc/timestamps.js'

describe('code names', () => {
  it('names response codes for human output', () => {
    expect(codeName(109106)).toBe('109106 MCMS_UTM_Validation_MissingRequiredField_to')
    expect(codeName(109110)).toBe('109110 MCMS_UTM_Validation_DuplicateMessageKey')
    expect(codeName(30003)).toBe('30003 MCMS_UTM_Runtime_ObjectNotFound')
    expect(codeName(50100)).toBe('50100 RateLimitExceeded')
    expect(codeName(424242)).toBe('424242')
  })

  it('follows the documented tables: 0 has no name, 10004 is the message format error, the platform codes exist', () => {
    expect(codeName(0)).toBe('0')
    expect(codeName(10004)).toBe('10004 InvalidMessageFormat (unbalanced or malformed JSON)')
    expect(codeName(50200)).toBe('50200 RequestsTemporarilyBlocked (too many concurrent requests)')
    for (const code of [10006, 20000, 20001, 20002, 30002, 40002, 40003, 40004]) expect(RESPONSE_CODE_NAMES.has(code)).toBe(true)
  })

  it('covers the documented ranges', () => {
    for (const code of [109001, 109101, 109125, 10000, 10005, 40001, 50200, 50300]) expect(RESPONSE_CODE_NAMES.has(code)).toBe(true)
    for (const code of [1, 24, 43, 100, 141, 1000, 1040]) expect(SUBSCRIBER_STATUS_NAMES.has(code)).toBe(true)
    expect([...SUBSCRIBER_STATUS_NAMES.keys()].filter((c) => c < 100)).toHaveLength(43)
    expect([...SUBSCRIBER_STATUS_NAMES.keys()].filter((c) => c >= 100 && c < 1000)).toHaveLength(42)
    expect(subscriberStatusName(24)).toBe('24 ListDetectiveExclusion')
    expect(subscriberStatusName(16)).toBe('16 InvalidAttributeValue')
  })

  it('parses codes sent as numbers or numeric strings', () => {
    expect(parseCode(109106)).toBe(109106)
    expect(parseCode('109106')).toBe(109106)
    expect(parseCode(' 0 ')).toBe(0)
    expect(parseCode('abc')).toBeUndefined()
    expect(parseCode('')).toBeUndefined()
    expect(parseCode(undefined)).toBeUndefined()
    expect(parseCode(1.5)).toBeUndefined()
  })
})

describe('cstToUtcIso', () => {
  it('reads an offset-less timestamp as UTC-6, whatever the number of fractional digits', () => {
    expect(cstToUtcIso('2018-08-03T13:41:18.55')).toBe('2018-08-03T19:41:18.550Z')
    expect(cstToUtcIso('2018-08-16T10:44:41.2196')).toBe('2018-08-16T16:44:41.219Z')
    expect(cstToUtcIso('2018-12-17T13:05:40')).toBe('2018-12-17T19:05:40.000Z')
    // No daylight saving: July is still UTC-6.
    expect(cstToUtcIso('2024-07-01T00:00:00.0')).toBe('2024-07-01T06:00:00.000Z')
    // Crosses midnight and the year.
    expect(cstToUtcIso('2023-12-31T20:30:00')).toBe('2024-01-01T02:30:00.000Z')
  })

  it('takes a timestamp with Z or an explicit offset as it is', () => {
    expect(cstToUtcIso('2018-08-03T13:41:18.55Z')).toBe('2018-08-03T13:41:18.550Z')
    expect(cstToUtcIso('2018-08-03T13:41:18+02:00')).toBe('2018-08-03T11:41:18.000Z')
    expect(cstToUtcIso('2018-08-03T13:41:18.5-0600')).toBe('2018-08-03T19:41:18.500Z')
  })

  it('gives undefined for something that is not a timestamp', () => {
    expect(cstToUtcIso(undefined)).toBeUndefined()
    expect(cstToUtcIso('')).toBeUndefined()
    expect(cstToUtcIso('yesterday')).toBeUndefined()
    expect(cstToUtcIso('2024-02-31T10:00:00')).toBeUndefined()
  })
})

describe('redaction', () => {
  it('removes secrets and masks email addresses', () => {
    const text = 'token abcdefghijkl rejected for ann.o+x@example.co.uk using client secret s3cr3t!!'
    const out = redact(text, ['abcdefghijkl', 's3cr3t!!'])
    expect(out).toBe('token [redacted] rejected for <email> using client secret [redacted]')
    expect(maskEmails('to "bob@example.com" failed')).toBe('to "<email>" failed')
  })
})
