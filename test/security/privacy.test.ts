import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {
  containsAddress,
  escapeJsonText,
  escapeMarkdown,
  escapeMarkdownMasked,
  escapeTerminal,
  excerpt,
  excerptList,
  findAddresses,
  maskAddresses,
  mayStoreInClear,
  redactAddresses,
} from '../../src/privacy/index.js'

// Generators for the property tests: local parts, domains (ASCII and IDN), display names and separators.
const localChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789._+-'.split(''), 'é', 'ü', 'ø', '名', '😀')
const local = fc.array(localChar, {minLength: 1, maxLength: 20}).map((a) => a.join('')).filter((s) => !s.startsWith('.'))
const label = fc
  .array(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split(''), 'ü', 'ö', 'ж', 'д', '例'), {minLength: 1, maxLength: 12})
  .map((a) => a.join(''))
const domain = fc.array(label, {minLength: 2, maxLength: 4}).map((labels) => labels.join('.'))
const address = fc.tuple(local, domain).map(([l, d]) => ({local: l, domain: d, text: `${l}@${d}`}))
const displayName = fc.array(fc.constantFrom(...'ABCabc xyz'.split(''), 'É', 'ß'), {minLength: 1, maxLength: 15}).map((a) => a.join('').trim() || 'N')
const separator = fc.constantFrom(';', ',', ' ', ', ', '; ', '\t', '\n', ' ; ')

describe('address detection', () => {
  // The shapes the hostile-data review found passing through, and whole code points kept when masking.
  it.each([
    ['a display name with the address in angle brackets', 'Ck Name <ck.angle@example.com>', 'Ck Name <c***@example.com>'],
    ['two addresses joined by a semicolon', 'ck.two@example.com;ck.three@example.com', 'c***@example.com;c***@example.com'],
    ['an address with a trailing space', 'ck.trailing@example.com ', 'c***@example.com '],
    ['a quoted local part', '"ck quoted"@example.com', 'c***@example.com'],
    ['mailto: and international domains', ' mailto:ann@bücher.de, bob@пример.рф', ' mailto:a***@bücher.de, b***@пример.рф'],
    ['an emoji before the address', '😀ann@example.com', '😀***@example.com'],
    ['a local part in Japanese', '名前@例え.jp', '名***@例え.jp'],
  ])('masks %s', (_what, text, masked) => {
    expect(maskAddresses(text)).toBe(masked)
  })

  it('leaves text without an address alone', () => {
    for (const text of ['x@y', 'ann@', '@example.com', 'no at sign', 'a@.com', 'release-4-2-notes.r1.abc']) {
      expect(maskAddresses(text)).toBe(text)
      expect(containsAddress(text)).toBe(false)
      expect(mayStoreInClear(text)).toBe(true)
    }
  })

  it('finds every address in a list with display names and separators (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.option(displayName, {nil: undefined}), address), {minLength: 1, maxLength: 5}), separator, (entries, sep) => {
        const text = entries.map(([name, a]) => (name === undefined ? a.text : `${name} <${a.text}>`)).join(sep)
        const spans = findAddresses(text)
        expect(spans.map((s) => text.slice(s.start, s.end))).toEqual(entries.map(([, a]) => a.text))
        const masked = maskAddresses(text)
        for (const [, a] of entries) expect(masked).toContain(`${String.fromCodePoint(a.local.codePointAt(0)!)}***@${a.domain}`)
        expect(containsAddress(masked.replaceAll('***@', '@'))).toBe(true)
        // Nothing of a local part beyond its first code point survives.
        for (const [, a] of entries) if (Array.from(a.local).length > 3) expect(masked).not.toContain(a.text)
        expect(mayStoreInClear(text)).toBe(false)
        expect(redactAddresses(text)).not.toMatch(/@/)
      }),
      {numRuns: 300},
    )
  })

  it('finds quoted local parts and addresses with surrounding spaces (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', ' ', 'x', 'é'), {minLength: 2, maxLength: 12}), domain, fc.string({maxLength: 3}).filter((s) => !/["@]/.test(s)), (chars, d, pad) => {
        const quoted = `"${chars.join('')}"`
        const text = ` ${pad} ${quoted}@${d}  `
        const spans = findAddresses(text)
        expect(spans).toHaveLength(1)
        expect(text.slice(spans[0]!.start, spans[0]!.end)).toBe(`${quoted}@${d}`)
      }),
      {numRuns: 200},
    )
  })

  it('does bounded work on a 1 MB value: at most 3 visits per character, whatever the shape', () => {
    const n = 1 << 20
    const shapes = [
      `x@${'a.'.repeat(n / 2 - 2)}a `, // the quadratic regex's worst case
      '@'.repeat(n),
      'a@'.repeat(n / 2),
      `${'a'.repeat(n - 10)}@b.c`,
      'ann@example.com;'.repeat(n / 16),
      `"${'a'.repeat(n - 2)}"`,
      `${'"a" '.repeat(n / 4)}`,
      `${'a@b.'.repeat(n / 4)}`,
    ]
    for (const value of shapes) {
      const counter = {work: 0}
      findAddresses(value, counter)
      expect(counter.work).toBeLessThanOrEqual(3 * value.length)
      expect(counter.work).toBeGreaterThanOrEqual(value.length)
    }
  })
})

describe('terminal escaping', () => {
  it.each([
    ['a clear-screen sequence', 'a\u001b[2Jb', 'a\\x1b[2Jb'],
    ['cursor movements', '\u001b[1A\u001b[2K', '\\x1b[1A\\x1b[2K'],
    ['line breaks, tab and NUL', 'x\ny\rz\tw\u0000', 'x\\ny\\rz\\tw\\x00'],
    ['DEL, a C1 control and bidi overrides', '\u007f\u009b\u202e\u2066', '\\x7f\\x9b\\u{202e}\\u{2066}'],
    ['plain text (unchanged)', 'plain text, ünïcödé 😀', 'plain text, ünïcödé 😀'],
  ])('shows %s escaped', (_what, text, escaped) => {
    expect(escapeTerminal(text)).toBe(escaped)
  })

  it('never lets a control character through (property)', () => {
    fc.assert(
      fc.property(fc.string({unit: 'binary', maxLength: 200}), (s) => {
        // eslint-disable-next-line no-control-regex
        expect(escapeTerminal(s)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/)
      }),
      {numRuns: 500},
    )
  })

  it('escapes JSON text so it parses to the same value without raw C1 or bidi characters', () => {
    const value = {k: 'a\u009b[2Jb\u202e\u2028'}
    const text = escapeJsonText(JSON.stringify(value))
    expect(text).not.toMatch(/[\u0080-\u009f\u2028\u202e]/)
    expect(JSON.parse(text)).toEqual(value)
  })
})

describe('Markdown escaping', () => {
  const hostile = [
    'x\n\n</details>\n\n<img src=https://evil.example/t.png>\n\n# PWNED @-mention',
    '![t](https://evil.example/p.png) @someone [c](https://evil.example)',
    '<!-- hidden --> `code` | cell | www.evil.example *em* _u_ ~~s~~ \\',
    '# heading',
    '- item',
    '1. item',
    '    indented code',
    '> quote',
  ]

  it('cannot open or close HTML, break a table, start a block, render a link or image, or mention', () => {
    for (const text of hostile) {
      const out = escapeMarkdown(text)
      expect(out).not.toMatch(/[<>|\n\r[\]`]/)
      expect(out).not.toMatch(/!\[|\]\(|https?:\/\/|www\./i)
      expect(out).not.toMatch(/@[A-Za-z0-9]/)
      expect(out).not.toMatch(/^(#|-|\+|=|\d+[.)]| {4}|>)/)
    }
    expect(escapeMarkdown('x\n\n</details>')).toBe('x&#92;n&#92;n&lt;/details&gt;')
    expect(escapeMarkdown('@someone')).toBe('@&#8203;someone')
  })

  it('holds for any text (property)', () => {
    fc.assert(
      fc.property(fc.string({unit: 'grapheme-ascii', maxLength: 120}), (s) => {
        const out = escapeMarkdown(s)
        expect(out).not.toMatch(/[<>|\n\r[\]`*_\\]/)
        expect(out).not.toMatch(/@(?!&#8203;)/)
        expect(out).not.toMatch(/:\/\/|^\s*[-+=#>]/)
      }),
      {numRuns: 500},
    )
  })

  it('keeps masked addresses readable while breaking the mention', () => {
    expect(escapeMarkdownMasked('Ann <ann@example.com> [x]', false)).toBe('Ann &lt;a***@&#8203;example.com&gt; &#91;x&#93;')
    expect(escapeMarkdownMasked('ann@example.com', true)).toBe('ann@&#8203;example.com')
  })
})

describe('excerpts for error messages', () => {
  it('are short, quoted, masked and escaped', () => {
    expect(excerpt('-----BEGIN OPENSSH PRIVATE KEY-----')).toBe('"-----BEGIN OPENSSH PRIVA…"')
    expect(excerpt('ann@example.com')).toBe('"a***@example.com"')
    expect(excerpt('a\u001b[2J"b')).toBe('"a\\x1b[2J\\"b"')
    expect(excerpt('x'.repeat(1_000_000))).toBe(`"${'x'.repeat(24)}…"`)
    // Masked before it is cut: no half address survives the cut.
    expect(excerpt(`${'x'.repeat(10)} ann.lee@example.com ${'y'.repeat(50)}`)).toBe('"xxxxxxxxxx a***@example.…"')
    expect(excerptList(['id', 'ann@example.com', 'x'.repeat(40)])).toBe(`"id", "a***@example.com", "${'x'.repeat(24)}…"`)
  })
})
