import {describe, expect, it} from 'vitest'

import type {ApplyResult} from '../../src/apply/execute.js'
import {makeProgress} from '../../src/cli/progress.js'
import {makePaint} from '../../src/render/paint.js'
import {renderApplySummary} from '../../src/render/apply-text.js'

const paint = makePaint(false)

function result(overrides: Partial<ApplyResult> = {}): ApplyResult {
  return {accepted: 0, alreadyAccepted: 0, rejected: 0, unknown: 0, notAttempted: 0, rejections: [], interrupted: false, batches: {total: 1, done: 1}, ...overrides}
}

describe('renderApplySummary', () => {
  it('reports a clean run', () => {
    const text = renderApplySummary(result({accepted: 4500}), {paint, showAddresses: false, stateLocation: '.mcsend/state.json'})
    expect(text).toContain('Apply complete: 4,500 accepted.')
    expect(text).toContain('State saved to .mcsend/state.json.')
    expect(text).not.toContain('Run the same apply again')
  })

  it('groups rejections by code name, masks addresses, and says how to finish', () => {
    const rejections = [
      {send: 's', messageKey: 'k1', contactKey: 'ann@example.com', errorCode: 109106, errorMessage: 'MCMS_UTM_Validation_MissingRequiredField_to: Invalid subscriber'},
      {send: 's', messageKey: 'k2', contactKey: 'c2', errorCode: 109106, errorMessage: 'MCMS_UTM_Validation_MissingRequiredField_to: Invalid subscriber'},
      {send: 's', messageKey: 'k3', contactKey: 'c3', errorCode: 109121, errorMessage: 'MCMS_UTM_Validation_InvalidValue_to: bad'},
    ]
    const text = renderApplySummary(result({accepted: 7, alreadyAccepted: 2, rejected: 3, rejections}), {paint, showAddresses: false, stateLocation: 'state.json'})
    expect(text).toContain('Apply complete: 9 accepted, 2 of them Marketing Cloud already had (109110): not re-delivered; bump revision to send again, 3 rejected.')
    expect(text).toContain('109106 MCMS_UTM_Validation_MissingRequiredField_to  x2')
    expect(text).toContain('109121 MCMS_UTM_Validation_InvalidValue_to  x1')
    expect(text).toContain('a***@example.com')
    expect(text).not.toContain('ann@example.com')
    expect(text).toContain('Run the same apply again to send the rest')
  })

  it('names an interrupted run', () => {
    expect(renderApplySummary(result({accepted: 1, notAttempted: 5, interrupted: true}), {paint, showAddresses: false, stateLocation: 's'})).toContain('Apply interrupted: 1 accepted, 5 not attempted.')
  })
})

describe('progress without a terminal', () => {
  it('prints plain lines at most every 2 seconds, and always the last one', () => {
    const written: string[] = []
    const stream = {isTTY: false, write: (s: string) => written.push(s)} as unknown as NodeJS.WriteStream
    const view = makeProgress(stream, false)
    const at = (done: number) => ({batchesDone: done, batchesTotal: 10, messagesDone: done * 100, messagesTotal: 1000, rejected: 0})
    for (let i = 1; i <= 10; i++) view.update(at(i))
    view.stop()
    // The first update prints (nothing printed yet), the rest within 2 s are held back except the final batch.
    expect(written).toEqual(['Batch 1/10  100/1,000 sent (10%)  0 rejections\n', 'Batch 10/10  1,000/1,000 sent (100%)  0 rejections\n'])
  })
})
