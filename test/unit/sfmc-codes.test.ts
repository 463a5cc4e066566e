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
  // An offset-less timestamp is UTC-6 whatever the number of fractional digits; one with Z or an offset is taken as it is.
  it.each([
    ['two fractional digits, no offset', '2018-08-03T13:41:18.55', '2018-08-03T19:41:18.550Z'],
    ['four fractional digits, no offset', '2018-08-16T10:44:41.2196', '2018-08-16T16:44:41.219Z'],
    ['no fraction, no offset', '2018-12-17T13:05:40', '2018-12-17T19:05:40.000Z'],
    ['July, no offset (no daylight saving: still UTC-6)', '2024-07-01T00:00:00.0', '2024-07-01T06:00:00.000Z'],
    ['no offset, crossing midnight and the year', '2023-12-31T20:30:00', '2024-01-01T02:30:00.000Z'],
    ['Z', '2018-08-03T13:41:18.55Z', '2018-08-03T13:41:18.550Z'],
    ['+02:00', '2018-08-03T13:41:18+02:00', '2018-08-03T11:41:18.000Z'],
    ['-0600', '2018-08-03T13:41:18.5-0600', '2018-08-03T19:41:18.500Z'],
  ])('%s', (_what, text, iso) => {
    expect(cstToUtcIso(text)).toBe(iso)
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
