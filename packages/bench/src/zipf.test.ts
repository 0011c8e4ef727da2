import { createRng, cyclicPicker, uniformPicker, ZipfSampler } from './zipf';

describe('createRng', () => {
  it('repeats its sequence for a seed and stays in [0, 1)', () => {
    const a = createRng(7);
    const b = createRng(7);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(createRng(8)()).not.toBe(xs[0]);
  });
});

describe('ZipfSampler', () => {
  const n = 1000;
  const s = 1.1;
  const h = Array.from({ length: n }, (_, k) => (k + 1) ** -s).reduce((x, y) => x + y, 0);

  it('gives rank k the probability (k+1)^-s / H(n, s)', () => {
    const z = new ZipfSampler(n, s, createRng(1));
    for (const k of [0, 1, 9, 99, 999]) expect(z.probability(k)).toBeCloseTo((k + 1) ** -s / h, 12);
    expect(z.headMass(n)).toBe(1);
    expect(z.headMass(0)).toBe(0);
    expect(z.probability(n)).toBe(0);
  });

  it('samples ranks with those frequencies', () => {
    const z = new ZipfSampler(n, s, createRng(2));
    const counts = new Float64Array(n);
    const draws = 200_000;
    for (let i = 0; i < draws; i++) counts[z.next()]! += 1;
    // Rank 0 carries ~1/H of the draws (binomial: 4 standard deviations of slack).
    const p0 = 1 / h;
    expect(Math.abs(counts[0]! / draws - p0)).toBeLessThan(4 * Math.sqrt((p0 * (1 - p0)) / draws));
    expect(counts[0]! / counts[1]!).toBeCloseTo(2 ** s, 0);
    // The 10 hottest ranks hold their head mass.
    const top10 = counts.subarray(0, 10).reduce((x, y) => x + y, 0) / draws;
    expect(top10).toBeCloseTo(z.headMass(10), 2);
  });

  it('never leaves [0, n), even with a generator returning its extremes', () => {
    const low = new ZipfSampler(n, s, () => 0);
    const high = new ZipfSampler(n, s, () => 0.9999999999);
    expect(low.next()).toBe(0);
    expect(high.next()).toBe(n - 1);
  });

  it('refuses an empty population or a non-positive exponent', () => {
    expect(() => new ZipfSampler(0, s, Math.random)).toThrow(RangeError);
    expect(() => new ZipfSampler(10, 0, Math.random)).toThrow(RangeError);
  });
});

describe('pickers', () => {
  it('uniform covers the range evenly', () => {
    const pick = uniformPicker(10, createRng(3));
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) counts[pick()]! += 1;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });

  it('cyclic scans every rank once per pass, from its start', () => {
    const pick = cyclicPicker(4, 2);
    expect(Array.from({ length: 9 }, pick)).toEqual([2, 3, 0, 1, 2, 3, 0, 1, 2]);
  });
});
