import {
  LATENCY_BUCKETS_SECONDS,
  MetricsReporter,
  REPORT_FORMAT_VERSION,
  SdkStats,
  type MetricsReport,
} from '@sessioncache/sdk';
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { build } from './app';

// fastify's inject (light-my-request) requires the ESM-only cookie@2, which jest cannot load
// on Node < 24.9. inject only calls it for request cookies, which these tests never send.
jest.mock('cookie', () => ({
  stringifySetCookie: () => {
    throw new Error('cookie shim: inject() with cookies is not supported in this test');
  },
}));

const N = LATENCY_BUCKETS_SECONDS.length + 1;

function report(over: Partial<MetricsReport> = {}): MetricsReport {
  const counts = new Array<number>(N).fill(0);
  counts[0] = 4;
  return {
    version: REPORT_FORMAT_VERSION,
    worker: 'web-0',
    instance: 'i1',
    seq: 1,
    timestamp: Date.now(),
    counters: [{ name: 'near_cache_requests_total', labels: { result: 'hit' }, value: 4 }],
    gauges: [{ name: 'near_cache_entries', labels: {}, value: 3 }],
    histograms: [{ name: 'operation_duration_seconds', labels: { op: 'get', tier: 'near' }, counts, sum: 0.00003 }],
    ...over,
  };
}

async function metricsText(app: FastifyInstance): Promise<string> {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  return res.body;
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const post = (app: FastifyInstance, payload: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/v1/report', payload: payload as string, headers: { 'content-type': 'application/json', ...headers } });

describe('sidecar app', () => {
  let app: FastifyInstance;
  beforeEach(async () => {
    app = build(); // no Redis nodes: no probe, no network
    await app.ready();
  });
  afterEach(async () => {
    await app.close();
  });

  it('applies a report and exposes the SDK families with a worker label', async () => {
    const res = await post(app, report());
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ accepted: true, duplicate: false });
    const text = await metricsText(app);
    expect(sample(text, 'sessioncache_near_cache_requests_total{worker="web-0",result="hit"}')).toBe(4);
    expect(sample(text, 'sessioncache_near_cache_entries{worker="web-0"}')).toBe(3);
    expect(sample(text, 'sessioncache_operation_duration_seconds_bucket{worker="web-0",op="get",tier="near",le="0.00001"}')).toBe(4);
    expect(sample(text, 'sessioncache_operation_duration_seconds_bucket{worker="web-0",op="get",tier="near",le="+Inf"}')).toBe(4);
    expect(sample(text, 'sessioncache_operation_duration_seconds_count{worker="web-0",op="get",tier="near"}')).toBe(4);
    expect(sample(text, 'sessioncache_sidecar_reports_total{result="accepted"}')).toBe(1);
    expect(sample(text, 'sessioncache_sidecar_reporters')).toBe(1);
    expect(sample(text, 'sessioncache_sidecar_last_report_timestamp_seconds')).toBeGreaterThan(1.7e9);
    expect(text).toMatch(/^sessioncache_sidecar_build_info\{version="\d+\.\d+\.\d+"\} 1$/m);
  });

  it('serves /metrics with the registry content type and no prom-client default metrics', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.body).not.toMatch(/^(process|nodejs)_/m);
  });

  it('acknowledges a re-sent seq without applying it again', async () => {
    await post(app, report());
    const again = await post(app, report());
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ accepted: true, duplicate: true });
    const text = await metricsText(app);
    expect(sample(text, 'sessioncache_near_cache_requests_total{worker="web-0",result="hit"}')).toBe(4);
    expect(sample(text, 'sessioncache_sidecar_reports_total{result="duplicate"}')).toBe(1);
  });

  it('answers 4xx with a stable code to bad reports and changes nothing', async () => {
    await post(app, report());
    const before = await metricsText(app);
    const good = report({ seq: 2 });
    const cases: Array<[unknown, number, string, Record<string, string>?]> = [
      [{ ...good, version: 99 }, 400, 'SC_ERR_SIDECAR_REPORT_VERSION'],
      [{ ...good, counters: [{ name: 'made_up_total', labels: {}, value: 1 }] }, 400, 'SC_ERR_SIDECAR_REPORT_INVALID'],
      [{ ...good, counters: [{ name: 'near_cache_requests_total', labels: { result: 'sometimes' }, value: 1 }] }, 400, 'SC_ERR_SIDECAR_REPORT_INVALID'],
      [{ ...good, counters: [{ name: 'near_cache_requests_total', labels: { result: 'hit' }, value: -2 }] }, 400, 'SC_ERR_SIDECAR_REPORT_INVALID'],
      [{ ...good, histograms: [{ ...good.histograms[0]!, counts: [1] }] }, 400, 'SC_ERR_SIDECAR_REPORT_INVALID'],
      [{ ...good, extra: true }, 400, 'SC_ERR_SIDECAR_REPORT_INVALID'],
      [{ ...good, seq: '3' }, 400, 'SC_ERR_SIDECAR_REPORT_INVALID'], // no type coercion
      [{ ...good, worker: undefined }, 400, 'SC_ERR_SIDECAR_REPORT_INVALID'],
      ['{"version":1,', 400, 'SC_ERR_SIDECAR_REPORT_INVALID'],
      ['', 400, 'SC_ERR_SIDECAR_REPORT_INVALID'],
      [JSON.stringify(good), 415, 'SC_ERR_SIDECAR_REPORT_MEDIA_TYPE', { 'content-type': 'text/plain' }],
      [JSON.stringify({ ...good, pad: 'x'.repeat(300 * 1024) }), 413, 'SC_ERR_SIDECAR_REPORT_TOO_LARGE'],
    ];
    for (const [payload, status, code, headers] of cases) {
      const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
      const res = await post(app, body, headers);
      expect({ status: res.statusCode, code: res.json().code }).toEqual({ status, code });
      expect(typeof res.json().message).toBe('string');
    }
    const after = await metricsText(app);
    const strip = (t: string) => t.split('\n').filter((l) => !l.startsWith('sessioncache_sidecar_reports_total')).join('\n');
    expect(strip(after)).toBe(strip(before));
    expect(sample(after, 'sessioncache_sidecar_reports_total{result="rejected"}')).toBe(cases.length);
  });

  it('is alive on /healthz, not ready on /readyz without Redis, and 404s with a code', async () => {
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({ status: 'ok' });
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ ready: false, reason: expect.stringMatching(/no Redis nodes configured/) });
    const missing = await app.inject({ method: 'GET', url: '/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('SC_ERR_SIDECAR_NOT_FOUND');
  });

  it('rejects bad options at build with the option named', () => {
    expect(() => build({ probeIntervalMs: 10 })).toThrow(/Invalid probeIntervalMs/);
    expect(() => build({ probeIntervalMs: 1000, probeTimeoutMs: 2000 })).toThrow(/probeTimeoutMs: must not exceed the probe interval \(1000 ms\)/);
  });
});

/**
 * The reporter and the sidecar together, whatever happens to the reports in between: the
 * sidecar's counters and histogram counts end up exactly equal to the SDK's, with no loss and
 * no double count. The transport is `app.inject` behind the reporter's injectable fetch; a
 * fault decides, per POST, whether the request is refused, answered 503, or delivered and
 * applied but its reply lost (the timeout-after-accept case).
 */
describe('reporter -> sidecar delivery (property)', () => {
  type Fault = 'ok' | 'refused' | '503' | 'lost-reply';
  type Step = { kind: 'hit'; n: number } | { kind: 'observe'; s: number } | { kind: 'flush'; fault: Fault };

  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant('hit' as const), n: fc.integer({ min: 1, max: 5 }) }),
    fc.record({ kind: fc.constant('observe' as const), s: fc.double({ min: 0, max: 2, noNaN: true }) }),
    fc.record({ kind: fc.constant('flush' as const), fault: fc.constantFrom<Fault>('ok', 'refused', '503', 'lost-reply') }),
  );

  it('delivers every count exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
        const app = build();
        await app.ready();
        try {
          let fault: Fault = 'ok';
          const fetchImpl = (async (_url: unknown, init?: RequestInit) => {
            if (fault === 'refused') {
              throw new TypeError('fetch failed', { cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) });
            }
            if (fault === '503') return new Response('{}', { status: 503 });
            const res = await app.inject({ method: 'POST', url: '/v1/report', headers: { 'content-type': 'application/json' }, payload: String(init?.body) });
            if (fault === 'lost-reply') throw new DOMException('timed out', 'TimeoutError');
            return new Response(res.body, { status: res.statusCode });
          }) as typeof fetch;
          const stats = new SdkStats();
          const reporter = new MetricsReporter({ url: 'http://127.0.0.1:9464', stats, worker: 'prop', fetch: fetchImpl, maxPendingReports: 1000 });
          const hits = stats.counter('near_cache_requests_total', { result: 'hit' });
          const lat = stats.histogram('operation_duration_seconds', { op: 'get', tier: 'redis' });
          for (const s of steps) {
            if (s.kind === 'hit') hits.inc(s.n);
            else if (s.kind === 'observe') lat.observe(s.s);
            else {
              fault = s.fault;
              await reporter.flush();
            }
          }
          fault = 'ok';
          await reporter.flush();
          await reporter.flush(); // the first may only have delivered the re-sent head
          expect(reporter.stats().pending).toBe(0);
          const text = await metricsText(app);
          expect(sample(text, 'sessioncache_near_cache_requests_total{worker="prop",result="hit"}')).toBe(hits.value);
          const snap = stats.snapshot().histograms[0]!;
          expect(sample(text, 'sessioncache_operation_duration_seconds_count{worker="prop",op="get",tier="redis"}')).toBe(snap.count);
          let cumulative = 0;
          LATENCY_BUCKETS_SECONDS.forEach((b, i) => {
            cumulative += snap.counts[i]!;
            expect(sample(text, `sessioncache_operation_duration_seconds_bucket{worker="prop",op="get",tier="redis",le="${b}"}`)).toBe(cumulative);
          });
        } finally {
          await app.close();
        }
      }),
      { numRuns: 60 },
    );
    // 60 runs each build a fastify app: seconds on a loaded 2-core machine, so no 5 s default.
  }, 120_000);
});
