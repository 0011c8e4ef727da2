/**
 * Seeded randomness for the workloads: every contender of a round sees the same kind of key
 * stream, and a run can be repeated.
 */

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: a tiny, fast 32-bit generator, good enough to pick keys and operations (not for
 * anything secret). The same seed gives the same sequence.
 */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Zipf(s) over ranks 0..n-1 (rank 0 the most popular): P(k) = (k+1)^-s / H(n, s). Sampling is
 * an inverse-CDF binary search over a precomputed table (8 bytes per rank), so it costs
 * ~log2(n) comparisons and no allocation, which keeps the generator cheap next to the
 * in-memory contenders it feeds.
 */
export class ZipfSampler {
  readonly #cdf: Float64Array;
  readonly #rng: Rng;

  constructor(
    readonly n: number,
    readonly s: number,
    rng: Rng,
  ) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`Zipf n must be a positive integer, got ${n}`);
    if (!(s > 0)) throw new RangeError(`Zipf exponent must be > 0, got ${s}`);
    this.#rng = rng;
    const cdf = new Float64Array(n);
    let sum = 0;
    for (let k = 0; k < n; k++) {
      sum += Math.pow(k + 1, -s);
      cdf[k] = sum;
    }
    for (let k = 0; k < n; k++) cdf[k]! /= sum;
    cdf[n - 1] = 1;
    this.#cdf = cdf;
  }

  /** Probability of rank `k` (for tests and for the expected hit rate of a cache of size k). */
  probability(k: number): number {
    if (k < 0 || k >= this.n) return 0;
    return this.#cdf[k]! - (k === 0 ? 0 : this.#cdf[k - 1]!);
  }

  /** Probability mass of the `k` most popular ranks: the best hit rate a cache of k entries can have. */
  headMass(k: number): number {
    if (k <= 0) return 0;
    return this.#cdf[Math.min(k, this.n) - 1]!;
  }

  /** A rank in [0, n). */
  next(): number {
    const u = this.#rng();
    const cdf = this.#cdf;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** Uniform ranks over [0, n). */
export function uniformPicker(n: number, rng: Rng): () => number {
  return () => Math.floor(rng() * n);
}

/**
 * Ranks 0, 1, ..., n-1, 0, 1, ... shared by all callers: a cyclic scan. With n larger than
 * an LRU cache's capacity every read misses, which isolates the miss path.
 */
export function cyclicPicker(n: number, start = 0): () => number {
  let i = start % n;
  return () => {
    const k = i;
    i = i + 1 === n ? 0 : i + 1;
    return k;
  };
}
