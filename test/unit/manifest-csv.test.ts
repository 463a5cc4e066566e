import {createHash} from 'node:crypto'

import {describe, expect, it} from 'vitest'

import {readCsvSource, type CsvColumns} from '../../src/manifest/csv-source.js'
import {inChunks, loadFromMemory, sourceTarget} from '../helpers/manifests.js'

async function readCsv(text: string | Buffer, columns?: CsvColumns, chunk = 1 << 16) {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text
  const {collector, problems: scope, sink} = sourceTarget()
  const sha256 = await readCsvSource(inChunks(bytes, chunk), 'c.csv', columns, collector, scope)
  return {recipients: collector.recipients, problems: sink.problems.map((p) => `${p.line} ${p.path ? `${p.path}: ` : ''}${p.message}`), sha256}
}

describe('CSV source', () => {
  it('maps the default column names and keeps every other column as a string attribute', async () => {
    const {recipients, problems} = await readCsv('contactKey,to,Age,Plan,Note\nk1,a@example.com,42,pro,\nk2,b@example.com,007,free,"x, y"\n')
    expect(problems).toEqual([])
    expect(recipients).toEqual([
      {contactKey: 'k1', to: 'a@example.com', attributes: {Age: '42', Plan: 'pro', Note: ''}, file: 'c.csv', line: 2},
      {contactKey: 'k2', to: 'b@example.com', attributes: {Age: '007', Plan: 'free', Note: 'x, y'}, file: 'c.csv', line: 3},
    ])
  })

  it('uses mapped columns, a messageKey column (empty cell: derive one) and omits attributes when there are none', async () => {
    const {recipients, problems} = await readCsv(' Key , Mail ,id\nmk-1,a@example.com,c1\n,b@example.com,c2\n', {contactKey: 'id', to: 'Mail', messageKey: 'Key'})
    expect(problems).toEqual([])
    expect(recipients).toEqual([
      {contactKey: 'c1', to: 'a@example.com', messageKey: 'mk-1', file: 'c.csv', line: 2},
      {contactKey: 'c2', to: 'b@example.com', file: 'c.csv', line: 3},
    ])
  })

  it('gives the same result and digest whatever the chunk size, with quoted line breaks spanning chunks', async () => {
    const rows = Array.from({length: 300}, (_, i) => `c${i},p${i}@example.com,"two\nlines ${i}",Zoë`)
    const bytes = Buffer.from(`\uFEFFcontactKey,to,Note,Name\n${rows.join('\n')}\n`)
    const expected = createHash('sha256').update(bytes).digest('hex')
    for (const size of [1, 5, 64, 1 << 20]) {
      const {recipients, problems, sha256} = await readCsv(bytes, undefined, size)
      expect(problems).toEqual([])
      expect(sha256).toBe(expected)
      expect(recipients).toHaveLength(300)
      expect(recipients[299]).toEqual({contactKey: 'c299', to: 'p299@example.com', attributes: {Note: 'two\nlines 299', Name: 'Zoë'}, file: 'c.csv', line: 2 + 299 * 2})
    }
  })

  it('reports every bad row with its line and keeps reading', async () => {
    const text = [
      'contactKey,to,Plan', // 1
      'a,a@example.com,pro', // 2
      'b,b@example.com', // 3: too few fields
      ',c@example.com,pro', // 4: empty contactKey
      'd,d@@example.com,pro', // 5: two @
      'e,e@example.com,pro,extra', // 6: too many fields
      'a,a2@example.com,pro', // 7: duplicate of line 2
      `f,f@example.com,pro`, // 8: fine
    ].join('\n')
    const {recipients, problems} = await readCsv(text)
    expect(problems).toEqual([
      '3 expected 3 fields (as in the header row), got 2',
      '4 contactKey: contactKey must not be empty',
      '5 to: "d***@example.com" is not an email address (it has more than one "@")',
      '6 expected 3 fields (as in the header row), got 4',
      '7 duplicate contactKey "a": also at c.csv:2',
    ])
    expect(recipients.map((r) => r.contactKey)).toEqual(['a', 'f'])
  })

  it('rejects messageKeys over 100 characters', async () => {
    const {problems} = await readCsv(`contactKey,to,messageKey\na,a@example.com,${'k'.repeat(101)}\nb,b@example.com,${'k'.repeat(100)}\n`)
    expect(problems).toEqual(['2 messageKey: messageKey must be at most 100 characters (it has 101)'])
  })

  it('needs a header row', async () => {
    expect((await readCsv('')).problems).toEqual(['1 the file is empty: a CSV source needs a header row naming its columns'])
    expect((await readCsv('ann,ann@example.com\nbob,bob@example.com\n')).problems).toEqual([
      '1 the first row looks like data: a CSV source needs a header row naming its columns',
    ])
  })

  it('accepts a header with no rows (a send with no recipients)', async () => {
    const {recipients, problems} = await readCsv('contactKey,to\n')
    expect(problems).toEqual([])
    expect(recipients).toEqual([])
  })

  it('rejects duplicate and unnamed header columns', async () => {
    const {problems} = await readCsv('contactKey,to,Plan,Plan,\na,a@example.com,x,y,z\n')
    expect(problems).toEqual(['1 column "Plan" appears twice in the header row', '1 column 5 has no name in the header row'])
  })

  it('locates a quote left open at the line where its record starts', async () => {
    const {problems} = await readCsv('contactKey,to\nb,b@example.com\n\nc,"c@example.com\nd,d@example.com\n')
    expect(problems).toEqual(['4 a quoted field is never closed (a " is missing)'])
  })

  it('stops at a bad closing quote, which csv-parse cannot recover from', async () => {
    const {problems, recipients} = await readCsv('contactKey,to\na,"a@example.com"x\nb,b@example.com\nc,"c@example.com\n')
    expect(problems).toEqual(['2 unexpected character after a closing quote; a field that starts with " must end with " (the rest of the file was not checked)'])
    expect(recipients).toEqual([])
  })

  it('reports an unreadable header row once', async () => {
    const {problems} = await readCsv('contactKey,"to\n')
    expect(problems).toEqual(['1 a quoted field is never closed (a " is missing)'])
  })

  it('never puts a deliverable address in a message', async () => {
    const {problems} = await readCsv('contactKey,to\nann.lee@example.com,ann lee@example.com\nann.lee@example.com,x@example.com\nann.lee@example.com,x@example.com\n')
    expect(problems.join('\n')).not.toMatch(/ann[. ]lee@/)
    expect(problems).toEqual([
      '2 to: "a***@example.com" is not an email address (it contains a space)',
      '4 duplicate contactKey "a***@example.com": also at c.csv:3',
    ])
  })
})

describe('CSV sources through the loader', () => {
  it('reports a missing mapped column at line 1 of the CSV and drops the send', async () => {
    const result = await loadFromMemory(
      {
        '/w/sends/m.yaml': 'apiVersion: mcsend/v1\nkind: Send\nname: c\ndefinitionKey: d\nrecipients:\n  - csv: ../data/c.csv\n    columns: {to: Email}\n',
        '/w/data/c.csv': 'contactKey,email\na,a@example.com\n',
      },
      ['sends'],
    )
    expect(result.problems).toEqual([
      {file: 'data/c.csv', line: 1, message: 'missing column "Email" (columns.to in the manifest); the header has: "contactKey", "email"'},
    ])
    expect(result.sends).toEqual([])
  })

  it('locates a source that is a directory at the manifest value', async () => {
    const result = await loadFromMemory(
      {'/w/m.yaml': 'apiVersion: mcsend/v1\nkind: Send\nname: c\ndefinitionKey: d\nrecipients:\n  - csv: data\n', '/w/data/x.txt': ''},
      ['m.yaml'],
    )
    expect(result.problems).toEqual([
      {
        file: 'm.yaml',
        line: 6,
        column: 10,
        path: 'recipients[0].csv',
        message: 'csv source data: is a directory, not a file',
        hint: 'source paths are relative to the manifest file',
      },
    ])
  })
})
