import { LATENCY_BUCKETS_SECONDS, REPORT_FORMAT_VERSION, type MetricsReport } from '@sessioncache/sdk';
import { ReportInvalidError, ReportVersionError, TooManyWorkersError } from './errors';
import { ReportStore } from './report-store';

const N = LATENCY_BUCKETS_SECONDS.length + 1;

function report(over: Partial<MetricsReport> = {}): MetricsReport {
  const counts = new Array<number>(N).fill(0);
  counts[2] = 3;
  return {
    version: REPORT_FORMAT_VERSION,
    worker: 'web-0',
    instance: 'aaaa',
    seq: 1,
    timestamp: 1,
    counters: [
      { name: 'near_cache_requests_total', labels: { result: 'hit' }, value: 5 },
      { name: 'operations_total', labels: { op: 'get', result: 'ok' }, value: 2 },
    ],
    gauges: [{ name: 'near_cache_entries', labels: {}, value: 10 }],
    histograms: [{ name: 'operation_duration_seconds', labels: { op: 'get', tier: 'near' }, counts, sum: 0.0001 }],
    ...over,
  };
}

function counter(store: ReportStore, name: string, labels: Record<string, string>): number | undefined {
  return store
    .snapshot()
    .counters.find((c) => c.name === name && JSON.stringify(c.labels) === JSON.stringify(labels))?.value;
}

function gauges(store: ReportStore): Array<[string, string, number]> {
  return store.snapshot().gauges.map((g) => [g.name, g.labels.worker!, g.value]);
}

describe('ReportStore', () => {
  let t = 0;
  const now = () => t;
  beforeEach(() => {
    t = 1_000_000;
  });
  const make = (over: Partial<ConstructorParameters<typeof ReportStore>[0]> = {}) =>
    new ReportStore({ reporterExpiryMs: 60_000, maxWorkers: 4, now, ...over });

  it('accumulates deltas per worker and labels every series with the worker', () => {
    const store = make();
    expect(store.apply(report())).toEqual({ duplicate: false });
    expect(store.apply(report({ seq: 2 }))).toEqual({ duplicate: false });
    expect(counter(store, 'near_cache_requests_total', { worker: 'web-0', result: 'hit' })).toBe(10);
    const [h] = store.snapshot().histograms;
    expect(h!.labels).toEqual({ worker: 'web-0', op: 'get', tier: 'near' });
    expect(h!.counts[2]).toBe(6);
    expect(h!.count).toBe(6);
    expect(h!.sum).toBeCloseTo(0.0002, 12);
    expect(store.lastReportAt).toBe(t);
  });

  it('ignores a repeated or older seq of an instance (a re-sent report is not counted twice)', () => {
    const store = make();
    store.apply(report({ seq: 5 }));
    expect(store.apply(report({ seq: 5 }))).toEqual({ duplicate: true });
    expect(store.apply(report({ seq: 3 }))).toEqual({ duplicate: true });
    expect(counter(store, 'near_cache_requests_total', { worker: 'web-0', result: 'hit' })).toBe(5);
  });

  it('keeps counting across an app restart: a new instance of the same worker adds to the same series', () => {
    const store = make();
    store.apply(report({ instance: 'first', seq: 40 }));
    store.apply(report({ instance: 'second', seq: 1 })); // restarted process: seq starts again
    expect(counter(store, 'near_cache_requests_total', { worker: 'web-0', result: 'hit' })).toBe(10);
  });

  it('sums gauges over live instances (min for near_cache_tracking) and drops them after the expiry', () => {
    const store = make();
    const tracking = (v: number) => [
      { name: 'near_cache_entries', labels: {}, value: 10 * v },
      { name: 'near_cache_tracking', labels: {}, value: v },
    ];
    store.apply(report({ instance: 'a', gauges: tracking(1) }));
    t += 30_000;
    store.apply(report({ instance: 'b', gauges: tracking(0) }));
    expect(gauges(store)).toEqual([
      ['near_cache_entries', 'web-0', 10],
      ['near_cache_tracking', 'web-0', 0],
    ]);
    expect(store.liveReporters()).toBe(2);
    t += 31_000; // a silent for 61 s, b for 31 s
    expect(store.liveReporters()).toBe(1);
    expect(gauges(store)).toEqual([
      ['near_cache_entries', 'web-0', 0],
      ['near_cache_tracking', 'web-0', 0],
    ]);
    t += 30_000;
    expect(store.liveReporters()).toBe(0);
    expect(gauges(store)).toEqual([]);
    // Counters stay: a worker falling silent must never make them go down.
    expect(counter(store, 'near_cache_requests_total', { worker: 'web-0', result: 'hit' })).toBe(10);
    // An expired instance still cannot have a re-sent seq applied twice.
    expect(store.apply(report({ instance: 'a', seq: 1 }))).toEqual({ duplicate: true });
  });

  it('rejects invalid reports as a whole: nothing of them is applied', () => {
    const store = make();
    store.apply(report());
    const before = JSON.stringify(store.snapshot());
    const good = report({ seq: 2 });
    const cases: Array<[MetricsReport, RegExp, unknown]> = [
      [{ ...good, version: 2 }, /version 2 is not supported/, ReportVersionError],
      [{ ...good, counters: [...good.counters, { name: 'nope_total', labels: {}, value: 1 }] }, /counters\[2\]: Unknown metric family/, ReportInvalidError],
      [{ ...good, counters: [{ name: 'near_cache_requests_total', labels: { result: 'maybe' }, value: 1 }] }, /must be one of hit, miss/, ReportInvalidError],
      [{ ...good, counters: [{ name: 'near_cache_requests_total', labels: { result: 'hit', user: 'u1' }, value: 1 }] }, /has no label "user"/, ReportInvalidError],
      [{ ...good, counters: [{ name: 'near_cache_requests_total', labels: { result: 'hit' }, value: -1 }] }, />= 0/, ReportInvalidError],
      [{ ...good, counters: [{ name: 'near_cache_entries', labels: {}, value: 1 }] }, /is a gauge, not a counter/, ReportInvalidError],
      [{ ...good, histograms: [{ ...good.histograms[0]!, counts: [1, 2, 3] }] }, /needs 17 counts/, ReportInvalidError],
      [{ ...good, histograms: [{ ...good.histograms[0]!, counts: new Array(N).fill(0.5) }] }, /whole numbers/, ReportInvalidError],
      [{ ...good, counters: [good.counters[0]!, good.counters[0]!] }, /appears twice/, ReportInvalidError],
      [{ ...good, worker: 'has space' }, /worker must match/, ReportInvalidError],
      [{ ...good, seq: 0 }, /seq must be a positive integer/, ReportInvalidError],
      [{ ...good, gauges: [{ name: 'near_cache_entries', labels: {}, value: Number.NaN }] }, /finite/, ReportInvalidError],
    ];
    for (const [body, message, type] of cases) {
      expect(() => store.apply(body)).toThrow(message);
      expect(() => store.apply(body)).toThrow(type as typeof Error);
    }
    expect(JSON.stringify(store.snapshot())).toBe(before);
  });

  it('bounds workers: evicts the longest-silent expired one, refuses while all are live', () => {
    const store = make({ maxWorkers: 2 });
    store.apply(report({ worker: 'w1' }));
    t += 10_000;
    store.apply(report({ worker: 'w2' }));
    let caught: unknown;
    try {
      store.apply(report({ worker: 'w3' }));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TooManyWorkersError);
    expect((caught as TooManyWorkersError).statusCode).toBe(429);
    t += 55_000; // w1 silent 65 s (expired), w2 55 s (live)
    store.apply(report({ worker: 'w3' }));
    expect(store.workerCount()).toBe(2);
    const workers = new Set(store.snapshot().counters.map((c) => c.labels.worker));
    expect(workers).toEqual(new Set(['w2', 'w3']));
  });
});
