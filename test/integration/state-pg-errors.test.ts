// Pure parts of the PostgreSQL backend (no server needed): URL redaction, error mapping, copy conflicts.
import {describe, expect, it} from 'vitest'

import {CliError, StateError} from '../../src/errors.js'
import {checkPgUrl, describePgTarget, isConnectionLoss, pgStateError, redactPgUrl} from '../../src/state/pg-errors.js'
import {workspaceLockKey} from '../../src/state/pg-store.js'
import {copyConflicts, resolveTransferEnds, type StateSummary} from '../../src/core/transfer.js'

const URL_WITH_SECRET = 'postgres://mcsend:p%40ss-w0rd@db.internal:6543/teamstate?sslmode=require&sslpassword=keyphrase'

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), {code})
}

describe('PostgreSQL URL handling', () => {
  it('redacts the password and secret-looking parameters but keeps where it points', () => {
    const shown = redactPgUrl(URL_WITH_SECRET)
    expect(shown).toBe('postgres://mcsend:***@db.internal:6543/teamstate?sslmode=require&sslpassword=***')
    expect(redactPgUrl('postgres://mcsend@db.internal/teamstate')).toBe('postgres://mcsend@db.internal/teamstate')
    expect(redactPgUrl('postgres://a:b@[not a url')).toBe('postgres://(unparseable URL)')
  })

  it('describes the target as host:port/database', () => {
    expect(describePgTarget(URL_WITH_SECRET)).toBe('db.internal:6543/teamstate')
    expect(describePgTarget('postgresql://u@localhost/x')).toBe('localhost:5432/x')
  })

  it('rejects a malformed URL as invalid input without echoing it', () => {
    const error = (() => {
      try {
        checkPgUrl('postgres://user:secret@[bad')
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(CliError)
    expect((error as CliError).exitCode).toBe(3)
    expect((error as CliError).message).not.toContain('secret')
  })

  it('derives a stable lock key per workspace', () => {
    expect(workspaceLockKey('default')).toBe(workspaceLockKey('default'))
    expect(workspaceLockKey('default')).not.toBe(workspaceLockKey('production'))
    expect(Number.isInteger(workspaceLockKey('x'))).toBe(true)
  })
})

describe('driver failures become StateErrors', () => {
  const cases: [string, Error, RegExp][] = [
    ['connection refused', Object.assign(new AggregateError([pgError('ECONNREFUSED', 'connect ECONNREFUSED ::1:6543'), pgError('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:6543')]), {code: 'ECONNREFUSED'}), /^cannot connect to the PostgreSQL state at db\.internal:6543\/teamstate: connection refused$/],
    ['bad password', pgError('28P01', 'password authentication failed for user "mcsend"'), /^PostgreSQL at db\.internal:6543\/teamstate refused the password for this user$/],
    ['unknown database', pgError('3D000', 'database "teamstate" does not exist'), /^the database in the state URL does not exist on db\.internal:6543\/teamstate$/],
    ['server shut down', pgError('57P01', 'terminating connection due to administrator command'), /^lost the connection to the PostgreSQL state at db\.internal:6543\/teamstate while recording 2000 records$/],
    ['socket closed', new Error('Connection terminated unexpectedly'), /^lost the connection/],
    ['unknown host', pgError('ENOTFOUND', 'getaddrinfo ENOTFOUND db.internal'), /unknown host/],
  ]
  for (const [name, error, message] of cases) {
    it(name, () => {
      const mapped = pgStateError(error, URL_WITH_SECRET, 'recording 2000 records')
      expect(mapped).toBeInstanceOf(StateError)
      expect(mapped.exitCode).toBe(1)
      expect(mapped.message).toMatch(message)
      expect(mapped.hint).toBeTruthy()
      expect(`${mapped.message} ${mapped.hint}`).not.toMatch(/p%40ss|p@ss|keyphrase/)
    })
  }

  it('keeps an error that is already a CliError', () => {
    const original = new StateError('x')
    expect(pgStateError(original, URL_WITH_SECRET, 'y')).toBe(original)
  })

  it('tells connection loss from statement errors', () => {
    expect(isConnectionLoss(pgError('57P01', 'terminating connection'))).toBe(true)
    expect(isConnectionLoss(pgError('08006', 'connection failure'))).toBe(true)
    expect(isConnectionLoss(pgError('23505', 'duplicate key'))).toBe(false)
  })
})

describe('copy conflicts', () => {
  const base: StateSummary = {location: 'src', lineage: 'L1', serial: 3, messages: 10, sends: 1}
  const empty: StateSummary = {location: 'dst', lineage: '', serial: 0, messages: 0, sends: 0}

  it('allows an empty destination, an older one and an equal one', () => {
    expect(copyConflicts(base, empty)).toEqual([])
    expect(copyConflicts(base, {...base, location: 'dst', serial: 2})).toEqual([])
    expect(copyConflicts(base, {...base, location: 'dst'})).toEqual([])
  })

  it('names another lineage, a newer serial and an empty source', () => {
    expect(copyConflicts(base, {...base, location: 'dst', lineage: 'L2'})).toEqual(['dst holds a different state (lineage L2, 10 records) than src (lineage L1)'])
    expect(copyConflicts(base, {...base, location: 'dst', serial: 4})).toEqual(['dst is newer (serial 4) than src (serial 3)'])
    expect(copyConflicts({...empty, location: 'src'}, {...base, location: 'dst'})).toEqual(['the source src is empty: copying it would erase dst'])
  })
})

describe('push / pull ends', () => {
  it('takes the URL from MCSEND_STATE and the file from the default', () => {
    expect(resolveTransferEnds({direction: 'push', env: {MCSEND_STATE: 'postgres://u@h/d'}})).toEqual({file: '.mcsend/state.json', url: 'postgres://u@h/d'})
    expect(resolveTransferEnds({direction: 'pull', env: {MCSEND_STATE: 'team/state.json'}, from: 'postgres://u@h/d'})).toEqual({file: 'team/state.json', url: 'postgres://u@h/d'})
  })

  it('refuses a missing URL (usage) and swapped ends (invalid input)', () => {
    expect(() => resolveTransferEnds({direction: 'pull', env: {}})).toThrow(/state pull needs the PostgreSQL state: give --from postgres:/)
    expect(() => resolveTransferEnds({direction: 'pull', env: {}, from: 'postgres://u@h/d', to: 'postgres://u@h/e'})).toThrow('--to must be a state file path, not a URL')
  })
})
