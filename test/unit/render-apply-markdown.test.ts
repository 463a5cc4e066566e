import {describe, expect, it} from 'vitest'

import type {ApplyResult} from '../../src/apply/execute.js'
import {ciContextFromEnv} from '../../src/core/ci-context.js'
import {CliError} from '../../src/errors.js'
import {renderApplyMarkdown} from '../../src/render/apply-markdown.js'

function result(overrides: Partial<ApplyResult> = {}): ApplyResult {
  return {accepted: 0, alreadyAccepted: 0, rejected: 0, unknown: 0, notAttempted: 0, rejections: [], interrupted: false, batches: {total: 1, done: 1}, ...overrides}
}

describe('apply --format markdown', () => {
  it('says what happened and where, counts accepted, rejected by code and pending; names no recipient', () => {
    const md = renderApplyMarkdown(
      result({
        accepted: 11_990,
        alreadyAccepted: 7,
        rejected: 3,
        unknown: 2,
        rejections: [
          {send: 's', messageKey: 'k1', contactKey: 'ann@example.com', errorCode: 109106, errorMessage: 'x'},
          {send: 's', messageKey: 'k2', contactKey: 'bob', errorCode: 109106},
          {send: 's', messageKey: 'k3', contactKey: 'cy', errorCode: 109121},
        ],
      }),
      {target: 'Marketing Cloud tenant mc123.auth.marketingcloudapis.com, business unit 514009876', stateLocation: '.mcsend/state.json', ci: ciContextFromEnv({GITHUB_SHA: 'a'.repeat(40), GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/sends', GITHUB_RUN_ID: '99'})},
    )
    const lines = md.split('\n')
    expect(lines[0]).toBe('<!-- mcsend-apply -->')
    expect(lines[1]).toBe('### mcsend apply finished with problems: 11,997 messages accepted by Marketing Cloud tenant mc123.auth.marketingcloudapis.com, business unit 514009876')
    expect(md).toContain('Commit `aaaaaaaaaaaa` · [CI run](https://github.com/acme/sends/actions/runs/99)')
    const outcomes = ['| accepted | 11,997 |', '| of them accepted by an earlier attempt (not delivered twice) | 7 |', '| rejected | 3 |', '| pending (no answer; the next apply settles them) | 2 |']
    expect(md).toContain(outcomes.join('\n'))
    expect(md).toContain('| 109106 MCMS&#95;UTM&#95;Validation&#95;MissingRequiredField&#95;to | 2 |')
    expect(md).toContain('Run the same apply again to send the rest')
    expect(md).not.toContain('ann@example.com')
    expect(md).not.toContain('k1')
  })

  it('escapes what it did not write itself, and leaves out CI facts it cannot trust', () => {
    const md = renderApplyMarkdown(result({accepted: 1, fatal: new CliError('<img src=x> [link](http://evil) | cell for ann@example.com', {code: 'internal', exitCode: 1})}), {
      target: 'the built-in sandbox',
      stateLocation: 'odd`path',
      ci: ciContextFromEnv({GITHUB_SHA: 'not-a-sha', GITHUB_SERVER_URL: 'javascript:alert(1)', GITHUB_REPOSITORY: 'acme/sends', GITHUB_RUN_ID: '1'}),
    })
    expect(md).toContain('&lt;img src=x&gt; &#91;link&#93;&#40;http:&#8203;//evil&#41; &#124; cell')
    expect(md).not.toContain('<img')
    expect(md).not.toContain('ann@example.com')
    expect(md).toContain('State: <code>odd&#96;path</code>.')
    expect(md).not.toContain('Commit')
    expect(md).not.toContain('javascript:')
    expect(ciContextFromEnv({})).toBeUndefined()
  })
})
