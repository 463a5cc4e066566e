import {describe, expect, it} from 'vitest'

import type {ApplyResult} from '../../src/apply/execute.js'
import {makeProgress} from '../../src/cli/progress.js'
import {makePaint} from '../../src/render/paint.js'
import {formatPace, progressPace, renderApplySummary} from '../../src/render/apply-text.js'
import {formatDuration} from '../../src/text/duration.js'

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

describe('progress', () => {
  const at = (done: number, total = 10) => ({batchesDone: done, batchesTotal: total, messagesDone: done * 100, messagesTotal: total * 100, rejected: 0})

  it('without a terminal: plain lines with rate and ETA, at most every 2 seconds, always the last one, never a 0/N line', async () => {
    const written: string[] = []
    const stream = {isTTY: false, write: (s: string) => written.push(s)} as unknown as NodeJS.WriteStream
    let clock = 0
    const view = await makeProgress(stream, false, () => clock)
    view.update(at(0))
    // One batch of 100 messages per 500 ms: 200 messages a second.
    for (let i = 1; i <= 10; i++) {
      clock = i * 500
      view.update(at(i))
    }
    view.stop()
    expect(written).toEqual([
      'Batch 1/10  100/1,000 sent (10%)  0 rejections  200 msg/s  ETA 5s\n',
      'Batch 5/10  500/1,000 sent (50%)  0 rejections  200 msg/s  ETA 3s\n',
      'Batch 9/10  900/1,000 sent (90%)  0 rejections  200 msg/s  ETA 1s\n',
      'Batch 10/10  1,000/1,000 sent (100%)  0 rejections  200 msg/s  ETA done\n',
    ])
  })

  it('on a terminal: the first frame shows the real totals (never "batch 0/0"), then the rate and ETA', async () => {
    const written: string[] = []
    const noop = () => true
    const stream = {isTTY: true, columns: 200, write: (s: string) => written.push(s), cursorTo: noop, clearLine: noop, moveCursor: noop, clearScreenDown: noop, on: noop, removeListener: noop} as unknown as NodeJS.WriteStream
    let clock = 0
    const view = await makeProgress(stream, false, () => clock)
    view.update(at(0, 24))
    clock = 2000
    view.update(at(6, 24))
    view.stop()
    const escape = String.fromCharCode(27)
    const frames = written.join('').split(escape).join('\n').split(/\r|\n/).map((f) => f.replace(/^\[[\d;?]*[A-Za-z]/, '')).filter((f) => f.includes('Sending'))
    expect(frames[0]).toContain('0/2,400 messages | batch 0/24 | - msg/s | ETA - | 0 rejected')
    expect(frames.join('\n')).not.toContain('batch 0/0')
    expect(frames.at(-1)).toContain('600/2,400 messages | batch 6/24 | 300 msg/s | ETA 6s | 0 rejected')
  })

  it('formats rates and durations', () => {
    expect(formatDuration(0)).toBe('0s')
    expect(formatDuration(41.2)).toBe('42s')
    expect(formatDuration(65)).toBe('1m 05s')
    expect(formatDuration(3720)).toBe('1h 02m')
    expect(progressPace(at(0), 1000)).toBeUndefined()
    expect(progressPace(at(3), 0)).toBeUndefined()
    expect(progressPace({...at(1), messagesDone: 3}, 2000)).toEqual({perSecond: 1.5, etaSeconds: (1000 - 3) / 1.5})
    expect(formatPace({...at(1), messagesDone: 3}, 2000)).toEqual({rate: '1.5 msg/s', eta: '11m 05s'})
  })
})
