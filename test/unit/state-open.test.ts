import {describe, expect, it} from 'vitest'

import {ExitCode, InvalidInputError} from '../../src/errors.js'
import {staleLockMsFromEnv} from '../../src/state/open.js'

describe('MCSEND_STALE_LOCK_MS', () => {
  it('is unset by default and taken as milliseconds when valid', () => {
    expect(staleLockMsFromEnv({})).toBeUndefined()
    expect(staleLockMsFromEnv({MCSEND_STALE_LOCK_MS: ''})).toBeUndefined()
    expect(staleLockMsFromEnv({MCSEND_STALE_LOCK_MS: '3000'})).toBe(3000)
  })

  it('refuses a value below 2000 ms or not a whole number as invalid input, with a hint', () => {
    for (const value of ['1999', '2.5e3x', 'soon', '-1', '2000.5']) {
      const error = (() => {
        try {
          staleLockMsFromEnv({MCSEND_STALE_LOCK_MS: value})
        } catch (e) {
          return e
        }
        return undefined
      })()
      expect(error).toBeInstanceOf(InvalidInputError)
      expect((error as InvalidInputError).exitCode).toBe(ExitCode.invalidInput)
      expect((error as InvalidInputError).hint).toMatch(/default of 60000/)
    }
  })
})
