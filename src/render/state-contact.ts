import type {MessageRecord} from '../state/types.js'
import {plural} from '../text/format.js'
import {renderRecord} from './state-text.js'

/** `state show --contact-key`: every record of one contact (its key already masked by the caller), one block each. */
export function renderContactRecords(records: readonly MessageRecord[], options: {contact: string; location: string}): string {
  if (records.length === 0) return `No records of contactKey ${options.contact} in ${options.location}.\n`
  const head = `${plural(records.length, 'record')} of contactKey ${options.contact} in ${options.location}:\n\n`
  return head + records.map((r) => renderRecord(r)).join('\n')
}
