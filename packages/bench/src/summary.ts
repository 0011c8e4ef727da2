/**
 * Summaries over rounds: the machine is shared and noisy, so every figure is reported as the
 * median of the rounds with their min and max, never as a single run.
 */

/** Median, min and max of a set of per-round values. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Number of rounds that produced a finite value. */
  n: number;
}

/** Median (mean of the two middle values for an even count), min and max; NaN values are skipped. */
export function spread(values: readonly number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}

/** a / b, NaN when either is not a positive finite number. */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN;
}

/** Formats a count per second: 1234 -> "1.2k", 123456 -> "123k", 2345678 -> "2.35M". */
export function formatRate(x: number): string {
  if (!Number.isFinite(x)) return '-';
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(x >= 1e5 ? 0 : 1)}k`;
  return x.toFixed(0);
}

/** Formats a duration given in nanoseconds with a unit that keeps 3 significant digits. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return '-';
  if (ns < 1000) return `${ns.toFixed(0)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toPrecision(3)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toPrecision(3)} ms`;
  return `${(ns / 1e9).toPrecision(3)} s`;
}

/** Formats a ratio as "12.3×", or "1.23×" (two decimals) under 10. */
export function formatRatio(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}×`;
}

/** Formats a fraction as a percentage with one decimal. */
export function formatPercent(x: number): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '-';
}

/** "median (min–max)" with the given formatter. */
export function formatSpread(s: Spread, fmt: (x: number) => string): string {
  if (s.n === 0) return '-';
  if (s.n === 1 || s.min === s.max) return fmt(s.median);
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}
