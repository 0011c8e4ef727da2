/**
 * A latency histogram in integer nanoseconds with bounded relative error (HDR-style): values
 * below 1024 ns are exact, larger ones keep their top 10 significant bits, so every bucket is
 * at most 1/512 (0.2%) wide relative to its value. Recording is two integer operations and an
 * array increment: cheap enough to time sub-microsecond operations without distorting them.
 */
const SUB_BITS = 9; // 512 sub-buckets per power of two above 1024
const SUB = 1 << SUB_BITS;
const LINEAR = 2 * SUB; // exact buckets for 0..1023
const MAX_EXP = 31; // values up to 2^31 - 1 ns (~2.1 s); larger ones are clamped
const BUCKETS = LINEAR + (MAX_EXP - SUB_BITS - 1) * SUB;

/** Index of the bucket holding `ns` (a non-negative integer below 2^31). */
export function bucketOf(ns: number): number {
  if (ns < LINEAR) return ns;
  const e = 31 - Math.clz32(ns); // position of the top bit, >= 10
  const shift = e - SUB_BITS;
  return LINEAR + (e - SUB_BITS - 1) * SUB + ((ns >>> shift) - SUB);
}

/** Lowest value (ns) of bucket `i`. */
export function bucketLow(i: number): number {
  if (i < LINEAR) return i;
  const j = i - LINEAR;
  const e = Math.floor(j / SUB) + SUB_BITS + 1;
  const shift = e - SUB_BITS;
  return ((j % SUB) + SUB) * 2 ** shift;
}

/** Width of bucket `i` (ns). */
function bucketWidth(i: number): number {
  if (i < LINEAR) return 1;
  const e = Math.floor((i - LINEAR) / SUB) + SUB_BITS + 1;
  return 2 ** (e - SUB_BITS);
}

/** Counts of latencies (ns), with quantiles, mean and merging. */
export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  max = 0;

  /** Records one latency in nanoseconds (fractions are truncated, out-of-range values clamped). */
  record(ns: number): void {
    let v = ns | 0;
    if (!(ns < 2147483647)) v = 2147483647; // also catches NaN
    else if (v < 0) v = 0;
    this.counts[bucketOf(v)]! += 1;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  /** Adds another histogram's counts to this one. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
  }

  /** The q-quantile (0..1) in ns: the midpoint of the bucket holding it (the maximum for 1); NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    if (q >= 1) return this.max;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(bucketLow(i) + (bucketWidth(i) - 1) / 2, this.max);
    }
    return this.max;
  }

  /** Mean in ns; NaN when empty. */
  mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }
}
