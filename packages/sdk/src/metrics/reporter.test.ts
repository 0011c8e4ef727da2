import { InvalidOptionsError } from '../errors';
import { LATENCY_BUCKETS_SECONDS, REPORT_FORMAT_VERSION, type MetricsReport } from './catalog';
import { MetricsReporter, defaultWorkerName, type MetricsReporterOptions } from './reporter';
import { SdkStats } from './stats';

/**
 * The receiving side reduced to the rule the reporter relies on: a seq of an instance is
 * applied once, repeats and older seqs are acknowledged without effect. `mode` decides what
 * the next POST meets.
 */
class Ledger {
  mode: 'up' | 'refused' | '503' | 'timeout-after-apply' | '400' = 'up';
  lastSeq = 0;
  readonly totals = new Map<string, number>();
  readonly bodies: MetricsReport[] = [];
  readonly urls: string[] = [];
  gauges = new Map<string, number>();

  readonly fetch = (async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    this.urls.push(String(url));
    const report = JSON.parse(String(init?.body)) as MetricsReport;
    this.bodies.push(report);
    switch (this.mode) {
      case 'refused':
        // What undici throws when nothing listens on the port.
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9464'), { code: 'ECONNREFUSED' }),
        });
      case '503':
        return new Response('{"code":"busy"}', { status: 503 });
      case '400':
        return new Response('{"code":"SC_ERR_SIDECAR_REPORT_INVALID"}', { status: 400 });
      case 'timeout-after-apply':
        this.apply(report);
        throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
      default:
        this.apply(report);
        return new Response('{"accepted":true}', { status: 200 });
    }
  }) as typeof fetch;

  apply(report: MetricsReport): void {
    if (report.seq <= this.lastSeq) return;
    this.lastSeq = report.seq;
    for (const c of report.counters) {
      const key = `${c.name}${JSON.stringify(c.labels)}`;
      this.totals.set(key, (this.totals.get(key) ?? 0) + c.value);
    }
    for (const h of report.histograms) {
      const key = `${h.name}${JSON.stringify(h.labels)}#count`;
      this.totals.set(key, (this.totals.get(key) ?? 0) + h.counts.reduce((a, b) => a + b, 0));
    }
    this.gauges = new Map(report.gauges.map((g) => [g.name, g.value]));
  }

  total(name: string, labels: Record<string, string> = {}): number {
    return this.totals.get(`${name}${JSON.stringify(labels)}`) ?? 0;
  }
}

function setup(opts: Partial<MetricsReporterOptions> = {}) {
  const ledger = new Ledger();
  const stats = new SdkStats();
  const errors: Error[] = [];
  const reporter = new MetricsReporter({
    url: 'http://127.0.0.1:9464/',
    stats,
    worker: 'web-0',
    intervalMs: 1000,
    fetch: ledger.fetch,
    random: () => 0,
    onError: (e) => errors.push(e),
    ...opts,
  });
  const hits = stats.counter('near_cache_requests_total', { result: 'hit' });
  const lat = stats.histogram('operation_duration_seconds', { op: 'get', tier: 'near' });
  return { ledger, stats, reporter, hits, lat, errors };
}

beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

describe('MetricsReporter', () => {
  it('posts versioned JSON reports of deltas to <url>/v1/report every interval', async () => {
    const { ledger, reporter, hits, lat, stats } = setup();
    let entries = 5;
    stats.gauge('near_cache_entries', {}, () => entries);
    hits.inc(2);
    lat.observe(0.00002);
    reporter.start();
    await jest.advanceTimersByTimeAsync(1000);
    expect(ledger.urls).toEqual(['http://127.0.0.1:9464/v1/report']);
    const first = ledger.bodies[0]!;
    expect(first).toMatchObject({ version: REPORT_FORMAT_VERSION, worker: 'web-0', instance: reporter.instance, seq: 1 });
    expect(first.instance).toMatch(/^[0-9a-f]{16}$/);
    expect(first.counters).toContainEqual({ name: 'near_cache_requests_total', labels: { result: 'hit' }, value: 2 });
    const h = first.histograms.find((x) => x.name === 'operation_duration_seconds')!;
    expect(h.counts).toHaveLength(LATENCY_BUCKETS_SECONDS.length + 1);
    expect(h.counts[1]).toBe(1);
    expect(first.gauges).toEqual([{ name: 'near_cache_entries', labels: {}, value: 5 }]);

    hits.inc(3);
    entries = 9;
    await jest.advanceTimersByTimeAsync(1000);
    const second = ledger.bodies[1]!;
    expect(second.seq).toBe(2);
    expect(second.counters).toContainEqual({ name: 'near_cache_requests_total', labels: { result: 'hit' }, value: 3 });
    expect(second.histograms[0]!.counts.every((c) => c === 0)).toBe(true);
    expect(second.gauges[0]!.value).toBe(9);
    expect(ledger.total('near_cache_requests_total', { result: 'hit' })).toBe(5);
    expect(reporter.stats()).toMatchObject({ sent: 2, failed: 0, dropped: 0, pending: 0 });
    await reporter.close();
  });

  it('re-sends a failed report unchanged with the same seq and merges newer data into the next one', async () => {
    const { ledger, reporter, hits } = setup();
    reporter.start();
    hits.inc(1);
    ledger.mode = 'refused';
    await jest.advanceTimersByTimeAsync(1000); // seq 1 fails
    hits.inc(10);
    await jest.advanceTimersByTimeAsync(1000); // retry of seq 1 fails; 10 waits in the open delta
    hits.inc(100);
    ledger.mode = 'up';
    await jest.advanceTimersByTimeAsync(1000); // seq 1 again, then seq 2 with 10 + 100
    const seqs = ledger.bodies.map((b) => b.seq);
    expect(seqs).toEqual([1, 1, 1, 2]);
    expect(ledger.bodies[2]).toEqual(ledger.bodies[0]);
    expect(ledger.total('near_cache_requests_total', { result: 'hit' })).toBe(111);
    expect(reporter.stats()).toMatchObject({ sent: 2, failed: 2, dropped: 0, pending: 0 });
    await reporter.close();
  });

  it('does not double count when the sidecar applied a report whose reply timed out', async () => {
    const { ledger, reporter, hits, lat } = setup();
    reporter.start();
    hits.inc(4);
    lat.observe(0.001);
    ledger.mode = 'timeout-after-apply';
    await jest.advanceTimersByTimeAsync(1000);
    expect(ledger.lastSeq).toBe(1);
    ledger.mode = 'up';
    hits.inc(1);
    await jest.advanceTimersByTimeAsync(2000);
    expect(ledger.bodies.filter((b) => b.seq === 1)).toHaveLength(2);
    expect(ledger.total('near_cache_requests_total', { result: 'hit' })).toBe(5);
    expect(ledger.totals.get('operation_duration_seconds{"op":"get","tier":"near"}#count')).toBe(1);
    await reporter.close();
  });

  it('backs off exponentially while the sidecar answers 5xx, then recovers', async () => {
    const { ledger, reporter } = setup({ maxBackoffMs: 4000 });
    ledger.mode = '503';
    reporter.start();
    const attemptsAt: number[] = [];
    for (let t = 1; t <= 20; t++) {
      const before = ledger.bodies.length;
      await jest.advanceTimersByTimeAsync(1000);
      if (ledger.bodies.length > before) attemptsAt.push(t);
    }
    // random() = 0 waits half of each ceiling (1, 2, 4, 4... intervals): 0.5, 1, 2, 2, 2...
    expect(attemptsAt).toEqual([1, 2, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    // The outage never produced a second report: every interval merged behind seq 1.
    expect(new Set(ledger.bodies.map((b) => b.seq))).toEqual(new Set([1]));
    ledger.mode = 'up';
    await jest.advanceTimersByTimeAsync(2000);
    expect(ledger.bodies.filter((b) => b.seq === 2)).toHaveLength(1);
    expect(reporter.stats()).toMatchObject({ pending: 0, dropped: 0 });
    await reporter.close();
  });

  it('drops and counts a report the sidecar refuses with 400 instead of retrying it forever', async () => {
    const { ledger, reporter, hits, errors } = setup();
    reporter.start();
    hits.inc(7);
    ledger.mode = '400';
    await jest.advanceTimersByTimeAsync(1000);
    ledger.mode = 'up';
    await jest.advanceTimersByTimeAsync(1000);
    expect(ledger.bodies.map((b) => b.seq)).toEqual([1, 2]);
    expect(ledger.total('near_cache_requests_total', { result: 'hit' })).toBe(0);
    expect(ledger.total('reporter_dropped_reports_total', { reason: 'rejected' })).toBe(1);
    expect(reporter.stats().dropped).toBe(1);
    expect(errors.some((e) => /refused report seq 1 with 400/.test(e.message))).toBe(true);
    await reporter.close();
  });

  it('bounds the backlog while the sidecar is down and counts what it drops', async () => {
    const { ledger, reporter, hits } = setup({ maxPendingReports: 3, maxBackoffMs: 1000 });
    ledger.mode = 'refused';
    reporter.start();
    for (let i = 0; i < 10; i++) {
      hits.inc(1);
      await jest.advanceTimersByTimeAsync(1000);
      expect(reporter.stats().pending).toBeLessThanOrEqual(3);
    }
    const { dropped, pending } = reporter.stats();
    expect(dropped).toBeGreaterThan(0);
    expect(dropped + pending).toBe(10);
    ledger.mode = 'up';
    await reporter.flush();
    // What arrives is exactly what was not dropped: 1 per interval kept.
    expect(ledger.total('near_cache_requests_total', { result: 'hit' })).toBe(pending);
    expect(ledger.total('reporter_dropped_reports_total', { reason: 'backlog' })).toBe(dropped);
    await reporter.close();
  });

  it('keeps seq order when flush() overlaps a report in flight', async () => {
    const stats = new SdkStats();
    const seen: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const fetchImpl = (async (_url: unknown, init?: RequestInit) => {
      const { seq } = JSON.parse(String(init?.body)) as MetricsReport;
      seen.push(seq);
      if (seq === 1) await gate;
      return new Response('{}', { status: 200 });
    }) as typeof fetch;
    const reporter = new MetricsReporter({ url: 'http://127.0.0.1:1', stats, worker: 'w', intervalMs: 1000, fetch: fetchImpl });
    reporter.start();
    await jest.advanceTimersByTimeAsync(1000); // seq 1 in flight
    const flushed = reporter.flush();
    await jest.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([1]);
    release();
    await flushed;
    expect(seen).toEqual([1, 2]);
    await reporter.close();
  });

  it('never rejects or throws, whatever fetch and onError do', async () => {
    const stats = new SdkStats();
    const reporter = new MetricsReporter({
      url: 'http://127.0.0.1:1',
      stats,
      worker: 'w',
      fetch: (() => {
        throw new Error('sync throw');
      }) as unknown as typeof fetch,
      onError: () => {
        throw new Error('logger broke');
      },
    });
    reporter.start();
    await jest.advanceTimersByTimeAsync(20_000);
    await expect(reporter.flush()).resolves.toBeUndefined();
    await expect(reporter.close()).resolves.toBeUndefined();
    expect(reporter.stats().failed).toBeGreaterThan(0);
    expect(reporter.stats().lastError).toMatch(/sync throw/);
  });

  it('close() sends what is left and stops the timer', async () => {
    const { ledger, reporter, hits } = setup();
    reporter.start();
    hits.inc(3);
    await reporter.close();
    expect(ledger.total('near_cache_requests_total', { result: 'hit' })).toBe(3);
    const n = ledger.bodies.length;
    await jest.advanceTimersByTimeAsync(10_000);
    expect(ledger.bodies).toHaveLength(n);
    await reporter.flush(); // no-op once closed
    expect(ledger.bodies).toHaveLength(n);
  });
});

describe('MetricsReporter options', () => {
  const stats = new SdkStats();
  const saved = process.env.SESSIONCACHE_WORKER;
  afterEach(() => {
    if (saved === undefined) delete process.env.SESSIONCACHE_WORKER;
    else process.env.SESSIONCACHE_WORKER = saved;
  });

  it('rejects bad options with the option named', () => {
    const bad: Array<[Partial<MetricsReporterOptions>, string]> = [
      [{ url: 'not a url' }, 'metrics.sidecar'],
      [{ url: 'ftp://127.0.0.1:9464' }, 'metrics.sidecar'],
      [{ worker: 'has space' }, 'metrics.worker'],
      [{ worker: 'x'.repeat(65) }, 'metrics.worker'],
      [{ intervalMs: 0 }, 'metrics.intervalMs'],
      [{ timeoutMs: 1.5 }, 'metrics.timeoutMs'],
      [{ maxPendingReports: -1 }, 'metrics.maxPendingReports'],
    ];
    for (const [opts, option] of bad) {
      let caught: unknown;
      try {
        new MetricsReporter({ url: 'http://127.0.0.1:9464', stats, ...opts });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(InvalidOptionsError);
      expect((caught as InvalidOptionsError).option).toBe(option);
    }
  });

  it('takes the worker from SESSIONCACHE_WORKER, validated, else hostname-pid', () => {
    process.env.SESSIONCACHE_WORKER = 'api-7';
    expect(new MetricsReporter({ url: 'http://127.0.0.1:9464', stats }).worker).toBe('api-7');
    process.env.SESSIONCACHE_WORKER = 'bad worker';
    expect(() => new MetricsReporter({ url: 'http://127.0.0.1:9464', stats })).toThrow(/SESSIONCACHE_WORKER/);
    delete process.env.SESSIONCACHE_WORKER;
    expect(new MetricsReporter({ url: 'http://127.0.0.1:9464', stats }).worker).toBe(defaultWorkerName());
    expect(defaultWorkerName('web 1.example/x', 42)).toBe('web-1.example-x-42');
    const long = defaultWorkerName('h'.repeat(100), 123456);
    expect(long).toHaveLength(64);
    expect(long.endsWith('-123456')).toBe(true);
  });
});
