import type {StatusReport} from '../status/delivery.js'

/** `mcsend status --json`: one document. Carries no email address (the state holds none). */
export interface StatusDocument {
  formatVersion: 1
  state: string
  checkedAt: string
  asked: number
  alreadyKnown: number
  interrupted: boolean
  unsaved: number
  sends: StatusReport['sends']
  totals: StatusReport['totals']
  notSentReasons: StatusReport['notSentReasons']
  error?: {code: string; message: string}
}

export function toStatusDocument(report: StatusReport): StatusDocument {
  const doc: StatusDocument = {
    formatVersion: 1,
    state: report.state,
    checkedAt: report.checkedAt,
    asked: report.asked,
    alreadyKnown: report.alreadyKnown,
    interrupted: report.interrupted,
    unsaved: report.unsaved,
    sends: report.sends,
    totals: report.totals,
    notSentReasons: report.notSentReasons,
  }
  const error = report.error ?? report.saveError
  if (error) doc.error = {code: error.code, message: error.message}
  return doc
}
