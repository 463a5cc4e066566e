/** A plain text table: left-aligned columns padded to their widest cell, two spaces apart, no trailing spaces. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[], indent = ''): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) =>
    `${indent}${cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')}`.trimEnd()
  return [line(headers), ...rows.map(line)]
}
