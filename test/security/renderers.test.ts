import {describe, expect, it} from 'vitest'

import type {ApplyResult} from '../../src/apply/execute.js'
import {makePaint} from '../../src/render/paint.js'
import {buildPlan} from '../../src/plan/build.js'
import {renderApplySummary} from '../../src/render/apply-text.js'
import {renderPlanMarkdown} from '../../src/render/plan-markdown.js'
import {renderPlanText} from '../../src/render/plan-text.js'
import {renderRecord, renderRecordList} from '../../src/render/state-text.js'
import type {SendSnapshot} from '../../src/state/types.js'
import {testRecord} from '../helpers/records.js'
import {emptyState, makeSend, recipient} from '../helpers/sends.js'
import {RAW_CONTROL} from './helpers.js'

// Validation refuses control characters in keys, but renderers also print what older states, saved plans and
// Marketing Cloud's answers hold: they escape whatever reaches them.
const ESC = '\u001b'
const hostileKey = `x\n\n</details>\n\n<img src=https://evil.example/t.png>\n\n# PWNED @-mention ${ESC}[2J`
const send = makeSend({
  name: 'hostile',
  definitionKey: hostileKey,
  attributes: {[`Key${ESC}[1A`]: `v${ESC}[2K ann@example.com`},
  file: `sends/a\n# PWNED${ESC}[2J.yaml`,
  recipients: [recipient(`ck${ESC}[2J Ck Name <ck.angle@example.com>`, 'ann@example.com')],
})
const previous: SendSnapshot = {
  name: 'hostile',
  definitionKey: `old${ESC}[2J\n\`\`\`\n# out of the fence`,
  revision: 1,
  attributes: {Owner: 'owner@example.com'},
  batchSize: 500,
  sources: [{file: `data\n${ESC}]0;title\u0007.csv`, sha256: 'a'.repeat(64)}],
  appliedAt: `2025-06-01T10:00:00Z${ESC}[2J`,
}

describe('renderers escape whatever reaches them', () => {
  const plan = buildPlan([send], emptyState(), {stateLocation: `.mcsend/state${ESC}[2J.json`})

  it('plan text: no raw control character, addresses masked', () => {
    const text = renderPlanText(plan, {showAddresses: false, paint: makePaint(false)})
    expect(text).not.toMatch(RAW_CONTROL)
    expect(text).toContain('definitionKey  x\\n\\n</details>\\n\\n<img src=https://evil.example/t.png>\\n\\n# PWNED @-mention \\x1b[2J')
    expect(text).toContain('(sends/a\\n# PWNED\\x1b[2J.yaml:1)')
    expect(text).toContain('ck\\x1b[2J Ck Name <c***@example.com> <a***@example.com>')
    expect(text).toContain('Key\\x1b[1A="v\\u001b[2K a***@example.com"')
    expect(text).not.toContain('ann@example.com')
  })

  it('Markdown: the diff stays inside its fence, the summary inside <details>, no heading or HTML escapes', () => {
    const md = renderPlanMarkdown(plan, {showAddresses: false, previous: {hostile: previous}, planFile: 'plan`.json'})
    expect(md).not.toMatch(RAW_CONTROL)
    expect(md).not.toMatch(/^#+ (PWNED|out of the fence)/m)
    const fences = [...md.matchAll(/^(`{3,})diff\n([\s\S]*?)\n\1$/gm)]
    // Inside the fence the text is literal; outside it no tag of the value survives.
    const outside = md.replace(/^(`{3,})diff\n[\s\S]*?\n\1$/gm, '')
    expect(outside).not.toMatch(/<img|<\/details>\s*<img|PWNED @-/)
    expect(outside).toContain('&lt;/details&gt;&#92;n&#92;n&lt;img')
    expect((outside.match(/<details>/g) ?? []).length).toBe((outside.match(/<\/details>/g) ?? []).length)
    expect(fences).toHaveLength(1)
    const body = fences[0]![2]!
    expect(body).toContain('-definitionKey: old\\x1b[2J\\n```\\n# out of the fence')
    expect(body).toContain('-  data\\n\\x1b]0;title\\x07.csv  sha256:')
    expect(body).not.toContain('owner@example.com')
    expect(md).toContain('<code>mcsend apply plan&#96;.json</code>')
  })

  it('apply summary and state listings', () => {
    const result: ApplyResult = {
      accepted: 0,
      alreadyAccepted: 0,
      rejected: 1,
      unknown: 0,
      notAttempted: 0,
      interrupted: false,
      rejections: [{send: 'hostile', contactKey: `ann@example.com${ESC}[2J`, messageKey: 'k1', errorCode: 109106, errorMessage: `bad ${ESC}[1A bob@example.com`}],
    } as unknown as ApplyResult
    const summary = renderApplySummary(result, {showAddresses: false, paint: makePaint(false), stateLocation: 's.json'})
    expect(summary).not.toMatch(RAW_CONTROL)
    expect(summary).toContain('a***@example.com\\x1b[2J')
    expect(summary).toContain('bad \\x1b[1A b***@example.com')

    const record = testRecord(1, {send: `s${ESC}[2J`, errorMessage: `why${ESC}[2K`, messageKey: `key${ESC}[1A`})
    const shown = renderRecord(record) + renderRecordList({records: [record], total: 1, offset: 0, location: `st${ESC}.json`}, {paint: makePaint(false)})
    expect(shown).not.toMatch(RAW_CONTROL)
    expect(shown).toContain('s\\x1b[2J')
    expect(shown).toContain('why\\x1b[2K')
  })
})
