import { spawnSync } from 'node:child_process';
import * as promClient from 'prom-client';
import { InvalidOptionsError } from '../errors';
import { LATENCY_BUCKETS_SECONDS, SDK_METRICS } from './catalog';
import { registerSessionCacheMetrics } from './prometheus';
import { SdkStats } from './stats';

function lines(text: string, prefix: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

describe('registerSessionCacheMetrics', () => {
  it('registers every SDK family on the given registry only, reading stats at scrape time', async () => {
    const registry = new promClient.Registry();
    const globalBefore = promClient.register.getMetricsAsArray().length;
    const stats = new SdkStats();
    const reg = registerSessionCacheMetrics(registry, stats);
    expect(reg.names).toHaveLength(Object.keys(SDK_METRICS).length);
    expect(reg.names.every((n) => n.startsWith('sessioncache_'))).toBe(true);
    expect(promClient.register.getMetricsAsArray()).toHaveLength(globalBefore);

    const ops = stats.counter('operations_total', { op: 'get', result: 'ok' });
    ops.inc(3);
    stats.counter('operations_total', { op: 'get', result: 'not_found' });
    let entries = 12;
    stats.gauge('near_cache_entries', {}, () => entries);
    let text = await registry.metrics();
    expect(text).toContain('# TYPE sessioncache_operations_total counter');
    expect(lines(text, 'sessioncache_operations_total{')).toEqual([
      'sessioncache_operations_total{op="get",result="ok"} 3',
      'sessioncache_operations_total{op="get",result="not_found"} 0',
    ]);
    expect(lines(text, 'sessioncache_near_cache_entries ')).toEqual(['sessioncache_near_cache_entries 12']);

    ops.inc();
    entries = 2;
    text = await registry.metrics();
    expect(lines(text, 'sessioncache_operations_total{op="get",result="ok"}')).toEqual([
      'sessioncache_operations_total{op="get",result="ok"} 4',
    ]);
    expect(lines(text, 'sessioncache_near_cache_entries ')).toEqual(['sessioncache_near_cache_entries 2']);
  });

  it('exposes histograms as Prometheus histograms with the catalog buckets', async () => {
    const registry = new promClient.Registry();
    const stats = new SdkStats();
    registerSessionCacheMetrics(registry, stats);
    const h = stats.histogram('operation_duration_seconds', { op: 'get', tier: 'near' });
    h.observe(0.00002); // le 0.000025
    h.observe(0.0004); // le 0.0005
    h.observe(2); // +Inf
    const text = await registry.metrics();
    expect(text).toContain('# TYPE sessioncache_operation_duration_seconds histogram');
    const buckets = lines(text, 'sessioncache_operation_duration_seconds_bucket{');
    expect(buckets).toHaveLength(LATENCY_BUCKETS_SECONDS.length + 1);
    expect(buckets[0]).toBe('sessioncache_operation_duration_seconds_bucket{op="get",tier="near",le="0.00001"} 0');
    expect(buckets[1]).toBe('sessioncache_operation_duration_seconds_bucket{op="get",tier="near",le="0.000025"} 1');
    expect(buckets[5]).toBe('sessioncache_operation_duration_seconds_bucket{op="get",tier="near",le="0.0005"} 2');
    expect(buckets[15]).toBe('sessioncache_operation_duration_seconds_bucket{op="get",tier="near",le="1"} 2');
    expect(buckets[16]).toBe('sessioncache_operation_duration_seconds_bucket{op="get",tier="near",le="+Inf"} 3');
    expect(lines(text, 'sessioncache_operation_duration_seconds_count')).toEqual([
      'sessioncache_operation_duration_seconds_count{op="get",tier="near"} 3',
    ]);
    const [sum] = lines(text, 'sessioncache_operation_duration_seconds_sum');
    expect(Number(sum!.split(' ')[1])).toBeCloseTo(2.00042, 10);

    const json = await registry.getMetricsAsJSON();
    const fam = json.find((m) => m.name === 'sessioncache_operation_duration_seconds')!;
    expect(fam.type).toBe('histogram');
    expect(fam.values).toHaveLength(LATENCY_BUCKETS_SECONDS.length + 3);
  });

  it('passes promtool check metrics', async () => {
    const registry = new promClient.Registry();
    const stats = new SdkStats();
    registerSessionCacheMetrics(registry, stats);
    stats.counter('errors_total', { code: 'SC_ERR_REDIS_TIMEOUT' }).inc();
    stats.histogram('operation_duration_seconds', { op: 'create', tier: 'redis' }).observe(0.001);
    stats.histogram('invalidation_lag_seconds', {}).observe(0.0002);
    stats.gauge('near_cache_bytes', {}, () => 1024);
    const r = spawnSync('promtool', ['check', 'metrics'], { input: await registry.metrics(), encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('sums several sources and accepts a cache-like source exposing its stats as metrics', async () => {
    const registry = new promClient.Registry();
    const a = new SdkStats();
    const b = new SdkStats();
    a.counter('near_cache_requests_total', { result: 'hit' }).inc(2);
    b.counter('near_cache_requests_total', { result: 'hit' }).inc(5);
    a.histogram('invalidation_lag_seconds', {}).observe(0.001);
    b.histogram('invalidation_lag_seconds', {}).observe(0.001);
    const cacheLike = { metrics: b, stats: () => ({ hitRate: 0.5 }) };
    registerSessionCacheMetrics(registry, [a, cacheLike]);
    const text = await registry.metrics();
    expect(lines(text, 'sessioncache_near_cache_requests_total{')).toEqual([
      'sessioncache_near_cache_requests_total{result="hit"} 7',
    ]);
    expect(lines(text, 'sessioncache_invalidation_lag_seconds_count')).toEqual([
      'sessioncache_invalidation_lag_seconds_count 2',
    ]);
  });

  it('takes a prefix, a caller-provided prom-client, extra labels and a subset of families', async () => {
    const registry = new promClient.Registry();
    const source = {
      snapshot: () => ({
        counters: [{ name: 'reconnects_total', labels: { worker: 'w1', connection: 'data' }, value: 2 }],
        gauges: [],
        histograms: [],
      }),
    };
    const reg = registerSessionCacheMetrics(registry, source, {
      prefix: 'app_',
      promClient,
      extraLabelNames: ['worker'],
      families: ['reconnects_total'],
    });
    expect(reg.names).toEqual(['app_reconnects_total']);
    expect(await registry.metrics()).toContain('app_reconnects_total{worker="w1",connection="data"} 2');
    reg.unregister();
    expect(registry.getMetricsAsArray()).toHaveLength(0);
  });

  it('refuses a second registration of the same families and leaves the registry as it was', () => {
    const registry = new promClient.Registry();
    new promClient.Gauge({ name: 'sessioncache_near_cache_bytes', help: 'taken', registers: [registry] });
    expect(() => registerSessionCacheMetrics(registry, new SdkStats())).toThrow(/already been registered/);
    expect(registry.getMetricsAsArray().map((m) => m.name)).toEqual(['sessioncache_near_cache_bytes']);
  });

  it('rejects a bad registry, source or prefix with InvalidOptionsError', () => {
    const stats = new SdkStats();
    expect(() => registerSessionCacheMetrics({} as promClient.Registry, stats)).toThrow(InvalidOptionsError);
    expect(() => registerSessionCacheMetrics(new promClient.Registry(), [] as never)).toThrow(InvalidOptionsError);
    expect(() => registerSessionCacheMetrics(new promClient.Registry(), stats, { prefix: 'bad-prefix' })).toThrow(
      InvalidOptionsError,
    );
  });

  it('says how to fix a missing prom-client', () => {
    jest.isolateModules(() => {
      jest.doMock('prom-client', () => {
        throw new Error("Cannot find module 'prom-client'");
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { registerSessionCacheMetrics: register } = require('./prometheus') as typeof import('./prometheus');
      expect(() => register(new promClient.Registry(), new SdkStats())).toThrow(/npm install prom-client/);
    });
    jest.dontMock('prom-client');
  });
});
