import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Where the fault, memory and fuzz suites leave the figures docs/reliability.md quotes: one
 * JSON object per scenario, merged into one file per run (the suites run serially).
 */
export const FIGURES_FILE = path.join(__dirname, '..', '..', '..', '.sessioncache', 'reliability', 'figures.json');

/** Records the figures of one scenario (replacing an earlier record of the same name). */
export function recordFigures(scenario: string, figures: Record<string, unknown>): void {
  fs.mkdirSync(path.dirname(FIGURES_FILE), { recursive: true });
  let all: Record<string, unknown> = {};
  try {
    all = JSON.parse(fs.readFileSync(FIGURES_FILE, 'utf8')) as Record<string, unknown>;
  } catch {
    all = {};
  }
  all[scenario] = { ...figures, recordedAt: new Date().toISOString() };
  fs.writeFileSync(FIGURES_FILE, JSON.stringify(all, null, 2) + '\n');
  // One line per scenario in the jest output, so a CI log carries the figures too.
  process.stdout.write(`[figures] ${scenario}: ${JSON.stringify(figures)}\n`);
}

/** The q-quantile of an ascending array (nearest rank); 0 for an empty one. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Rounds to `digits` decimals, for figures meant to be read. */
export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
