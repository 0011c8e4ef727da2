import { bucketLow, bucketOf, LatencyHistogram } from './histogram';

describe('LatencyHistogram buckets', () => {
  it('are exact below 1024 ns and within 0.2% above', () => {
    for (const v of [0, 1, 17, 1023]) expect(bucketLow(bucketOf(v))).toBe(v);
    for (const v of [1024, 1500, 4097, 123_456, 9_999_999, 2 ** 31 - 1]) {
      const low = bucketLow(bucketOf(v));
      expect(low).toBeLessThanOrEqual(v);
      expect((v - low) / v).toBeLessThan(1 / 512);
    }
  });

  it('are ordered like the values', () => {
    let last = -1;
    for (let v = 0; v < 2 ** 31 - 1; v = Math.floor(v * 1.07) + 1) {
      const b = bucketOf(v);
      expect(b).toBeGreaterThanOrEqual(last);
      last = b;
    }
  });
});

describe('LatencyHistogram', () => {
  it('gives quantiles within the bucket precision', () => {
    const h = new LatencyHistogram();
    for (let v = 1; v <= 100_000; v++) h.record(v * 10); // 10 ns .. 1 ms, uniform
    expect(h.count).toBe(100_000);
    expect(Math.abs(h.quantile(0.5) - 500_000) / 500_000).toBeLessThan(0.003);
    expect(Math.abs(h.quantile(0.99) - 990_000) / 990_000).toBeLessThan(0.003);
    expect(h.quantile(1)).toBe(1_000_000);
    expect(h.mean()).toBeCloseTo(500_005, 0);
  });

  it('clamps negative, huge and NaN values instead of corrupting its counts', () => {
    const h = new LatencyHistogram();
    h.record(-5);
    h.record(Number.NaN);
    h.record(1e12);
    expect(h.count).toBe(3);
    expect(h.quantile(0)).toBe(0);
    expect(h.max).toBe(2 ** 31 - 1);
  });

  it('is empty (NaN) before any value, and merges', () => {
    const a = new LatencyHistogram();
    expect(a.quantile(0.5)).toBeNaN();
    expect(a.mean()).toBeNaN();
    const b = new LatencyHistogram();
    a.record(100);
    b.record(300);
    b.record(300);
    a.merge(b);
    expect(a.count).toBe(3);
    expect(a.quantile(0.5)).toBe(300);
    expect(a.max).toBe(300);
  });
});
