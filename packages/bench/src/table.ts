/**
 * Plain tables for the terminal and GitHub markdown for docs/benchmarks.md, from the same rows.
 */

/** A table: a header row and body rows of already formatted cells. */
export interface Table {
  head: string[];
  rows: string[][];
  /** Columns to right-align (numbers). */
  right?: number[];
}

/** Fixed-width text table for stdout. */
export function renderText(t: Table): string {
  const widths = t.head.map((h, c) => Math.max(h.length, ...t.rows.map((r) => (r[c] ?? '').length)));
  const right = new Set(t.right ?? []);
  const line = (cells: string[]): string =>
    cells.map((cell, c) => (right.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  return [line(t.head), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)].join('\n');
}

/** GitHub markdown table. */
export function renderMarkdown(t: Table): string {
  const right = new Set(t.right ?? []);
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  return [
    `| ${t.head.map(esc).join(' | ')} |`,
    `|${t.head.map((_, c) => (right.has(c) ? '---:' : '---')).join('|')}|`,
    ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}
