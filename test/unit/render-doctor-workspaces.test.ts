import {describe, expect, it} from 'vitest'

import {renderDoctor} from '../../src/render/doctor-text.js'
import {makePaint} from '../../src/render/paint.js'
import {renderWorkspaces} from '../../src/render/workspaces-text.js'

/** Control characters other than the line breaks the renderer writes itself. */
function controls(text: string): string[] {
  return [...text].filter((c) => c !== '\n' && (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
}

describe('doctor and state workspaces print untrusted text through the privacy layer', () => {
  it('doctor: a definition key or an error message cannot move the cursor or show an address', () => {
    const text = renderDoctor(
      {
        ok: false,
        target: {kind: 'marketing-cloud', authHost: 'mc1.auth.marketingcloudapis.com', tenant: 'mc1\u001b[2J'},
        checks: [{name: 'definition evil', ok: false, detail: '"bad\u001b]0;title\u0007" does not exist (ann@example.com)', hint: 'ask\r\nbob@example.com'}],
      },
      makePaint(false),
    )
    expect(controls(text)).toEqual([])
    expect(text).not.toContain('ann@example.com')
    expect(text).not.toContain('bob@example.com')
    expect(text).toContain('a***@example.com')
    expect(text).toContain('Marketing Cloud tenant mc1')
  })

  it('state workspaces: a workspace name is escaped and masked', () => {
    const text = renderWorkspaces({
      state: 'postgres://u@127.0.0.1/test',
      workspaces: [{workspace: 'ann@example.com\u001b[31m', serial: 3, messages: 10, sends: 2, updatedAt: '2026-12-01T10:00:00.000Z'}],
    })
    expect(controls(text)).toEqual([])
    expect(text).not.toContain('ann@example.com')
    expect(text).toContain('a***@example.com')
    expect(text).toContain('2026-12-01T10:00:00Z')
  })
})
