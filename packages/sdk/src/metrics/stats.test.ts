import fc from 'fast-check';
import { SessionCacheError } from '../errors';
import { LATENCY_BUCKETS_SECONDS } from './catalog';
import {
  SdkStats,
  counterTotal,
  histogramQuantile,
  mergeHistograms,
  selectHistograms,
  seriesKey,
  summarizeLatency,
} from './stats';

describe('SdkStats counters', () => {
  it('counts per series and returns the same handle for the same series', () => {
    const stats = new SdkStats();
    const hit = stats.counter('near_cache_requests_total', { result: 'hit' });
    const miss = stats.counter('near_cache_requests_total', { result: 'miss' });
    hit.inc();
    hit.inc(2);
    miss.inc();
    expect(stats.counter('near_cache_requests_total', { result: 'hit' })).toBe(hit);
    expect(hit.value).toBe(3);
    expect(counterTotal(stats.snapshot(), 'near_cache_requests_total')).toBe(4);
    expect(counterTotal(stats.snapshot(), 'near_cache_requests_total', { result: 'miss' })).toBe(1);
  });

  it('ignores negative, NaN and infinite increments so a counter never goes down or breaks JSON', () => {
    const stats = new SdkStats();
    const c = stats.counter('reconnects_total', { connection: 'data' });
    c.inc(5);
    c.inc(-3);
    c.inc(Number.NaN);
    c.inc(Infinity);
    expect(c.value).toBe(5);
  });

  it('rejects unknown families, wrong types, missing, extra and out-of-set labels with a coded error', () => {
    const stats = new SdkStats();
    const bad: Array<() => unknown> = [
      () => stats.counter('nope_total' as never, {}),
      () => stats.counter('operation_duration_seconds' as never, { op: 'get', tier: 'near' }),
      () => stats.counter('operations_total', { op: 'get' }),
      () => stats.counter('operations_total', { op: 'get', result: 'ok', session: 'abc' }),
      () => stats.counter('operations_total', { op: 'fetch', result: 'ok' }),
      () => stats.histogram('operation_duration_seconds', { op: 'get', tier: 'disk' }),
      () => stats.gauge('near_cache_entries', { tier: 'near' }, () => 1),
    ];
    for (const call of bad) {
      expect(call).toThrow(SessionCacheError);
      try {
        call();
      } catch (err) {
        expect((err as SessionCacheError).code).toBe('SC_ERR_INVALID_ARGUMENT');
      }
    }
  });

  it('keys series canonically whatever the label order', () => {
    expect(seriesKey('operations_total', { result: 'ok', op: 'get' })).toBe('operations_total{op="get",result="ok"}');
    expect(seriesKey('near_cache_invalidations_total', {})).toBe('near_cache_invalidations_total');
    const stats = new SdkStats();
    expect(stats.counter('operations_total', { result: 'ok', op: 'get' })).toBe(
      stats.counter('operations_total', { op: 'get', result: 'ok' }),
    );
  });
});

describe('SdkStats histograms', () => {
  it('puts observations in inclusive (le) buckets with an extra +Inf slot', () => {
    const stats = new SdkStats();
    const h = stats.histogram('operation_duration_seconds', { op: 'get', tier: 'near' });
    h.observe(0.00001); // exactly the first bound: first bucket
    h.observe(0.0000100001); // just above: second bucket
    h.observe(0.3); // 0.5 bucket
    h.observe(5); // +Inf
    h.observe(-1); // clock went backwards: counted as 0
    h.observe(Number.NaN); // ignored
    const [sample] = stats.snapshot().histograms;
    expect(sample!.buckets).toEqual(LATENCY_BUCKETS_SECONDS);
    expect(sample!.counts).toHaveLength(LATENCY_BUCKETS_SECONDS.length + 1);
    expect(sample!.counts[0]).toBe(2);
    expect(sample!.counts[1]).toBe(1);
    expect(sample!.counts[LATENCY_BUCKETS_SECONDS.indexOf(0.5)]).toBe(1);
    expect(sample!.counts[LATENCY_BUCKETS_SECONDS.length]).toBe(1);
    expect(sample!.count).toBe(5);
    expect(sample!.sum).toBeCloseTo(0.00001 + 0.0000100001 + 0.3 + 5, 12);
  });

  it('observeSince measures with the injected clock', () => {
    let t = 1000;
    const stats = new SdkStats({ now: () => t });
    const h = stats.histogram('operation_duration_seconds', { op: 'update', tier: 'redis' });
    const start = stats.now();
    t += 3; // 3 ms
    h.observeSince(start);
    const [sample] = stats.snapshot().histograms;
    expect(sample!.sum).toBeCloseTo(0.003, 12);
    expect(sample!.counts[LATENCY_BUCKETS_SECONDS.indexOf(0.005)]).toBe(1);
    expect(stats.snapshot().takenAt).toBe(1003);
  });

  it('matches a reference bucketing for any observations (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 3, noNaN: true })), (values) => {
        const stats = new SdkStats();
        const h = stats.histogram('invalidation_lag_seconds', {});
        for (const v of values) h.observe(v);
        const [sample] = stats.snapshot().histograms;
        const expected = new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0);
        for (const v of values) {
          const i = LATENCY_BUCKETS_SECONDS.findIndex((b) => v <= b);
          expected[i === -1 ? LATENCY_BUCKETS_SECONDS.length : i]! += 1;
        }
        expect(sample!.counts).toEqual(expected);
        expect(sample!.count).toBe(values.length);
      }),
    );
  });

  it('snapshots are copies: later observations do not change an earlier snapshot', () => {
    const stats = new SdkStats();
    const h = stats.histogram('operation_duration_seconds', { op: 'get', tier: 'near' });
    h.observe(0.001);
    const before = stats.snapshot();
    h.observe(0.001);
    expect(before.histograms[0]!.count).toBe(1);
    expect(stats.snapshot().histograms[0]!.count).toBe(2);
  });
});

describe('SdkStats gauges', () => {
  it('reads gauges at snapshot time and leaves out a failing or non-finite reader', () => {
    const stats = new SdkStats();
    let entries = 3;
    stats.gauge('near_cache_entries', {}, () => entries);
    stats.gauge('near_cache_bytes', {}, () => {
      throw new Error('boom');
    });
    stats.gauge('near_cache_tracking', {}, () => Number.NaN);
    expect(stats.snapshot().gauges.map((g) => [g.name, g.value])).toEqual([['near_cache_entries', 3]]);
    entries = 7;
    expect(stats.snapshot().gauges[0]!.value).toBe(7);
    stats.gauge('near_cache_entries', {}, () => 1); // replaces the reader
    expect(stats.snapshot().gauges.map((g) => g.value)).toEqual([1]);
  });
});

describe('quantiles and summaries', () => {
  const buckets = [0.001, 0.01, 0.1];

  it('interpolates inside the bucket like histogram_quantile', () => {
    // 10 observations in (0, 0.001], 10 in (0.001, 0.01]
    const h = { buckets, counts: [10, 10, 0, 0], sum: 0, count: 20 };
    expect(histogramQuantile(0.5, h)).toBeCloseTo(0.001, 12);
    expect(histogramQuantile(0.25, h)).toBeCloseTo(0.0005, 12);
    expect(histogramQuantile(0.75, h)).toBeCloseTo(0.001 + 0.009 * 0.5, 12);
    expect(histogramQuantile(1, h)).toBeCloseTo(0.01, 12);
  });

  it('returns the highest finite bound for a quantile in +Inf and null when empty', () => {
    expect(histogramQuantile(0.99, { buckets, counts: [0, 0, 0, 5], sum: 50, count: 5 })).toBe(0.1);
    expect(histogramQuantile(0.5, { buckets, counts: [0, 0, 0, 0], sum: 0, count: 0 })).toBeNull();
    expect(() => histogramQuantile(1.5, { buckets, counts: [1, 0, 0, 0], sum: 0, count: 1 })).toThrow(
      SessionCacheError,
    );
  });

  it('merges the series of one tier and summarises them', () => {
    const stats = new SdkStats();
    stats.histogram('operation_duration_seconds', { op: 'get', tier: 'near' }).observe(0.00002);
    stats.histogram('operation_duration_seconds', { op: 'get_many', tier: 'near' }).observe(0.00002);
    stats.histogram('operation_duration_seconds', { op: 'get', tier: 'redis' }).observe(0.002);
    const near = selectHistograms(stats.snapshot(), 'operation_duration_seconds', { tier: 'near' });
    expect(near).toHaveLength(2);
    const merged = mergeHistograms(near)!;
    expect(merged.count).toBe(2);
    const summary = summarizeLatency(near);
    expect(summary.count).toBe(2);
    expect(summary.mean).toBeCloseTo(0.00002, 12);
    expect(summary.p50).toBeGreaterThan(0.00001);
    expect(summary.p99).toBeLessThanOrEqual(0.000025);
    expect(summarizeLatency([])).toEqual({ count: 0, mean: null, p50: null, p90: null, p99: null });
    expect(() =>
      mergeHistograms([
        { buckets: [1], counts: [0, 0], sum: 0, count: 0 },
        { buckets: [2], counts: [0, 0], sum: 0, count: 0 },
      ]),
    ).toThrow(SessionCacheError);
  });
});
