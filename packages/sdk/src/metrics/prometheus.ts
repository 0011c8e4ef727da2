import type * as PromClient from 'prom-client';
import { InvalidOptionsError } from '../errors';
import { METRIC_PREFIX, SDK_METRICS, type MetricSpec, type SdkMetricName } from './catalog';
import type { HistogramData, SeriesLabels } from './stats';

/**
 * `@sessioncache/sdk/prometheus`: exposes the SDK's metrics on a prom-client Registry the
 * caller owns. Nothing is counted twice: each family is a collector that reads a snapshot of
 * the SDK's own stats when the registry is scraped, so the hot path never touches prom-client.
 * prom-client is an optional peer dependency: only its types are imported here; the module is
 * taken from the caller or required on first use.
 */

/** The parts of the prom-client module this binding uses. */
export type PromClientModule = Pick<typeof PromClient, 'Counter' | 'Gauge' | 'Histogram'>;

/** Series as the binding reads them; `StatsSnapshot` of `SdkStats` is one. */
export interface SnapshotLike {
  readonly counters: ReadonlyArray<{ readonly name: string; readonly labels: SeriesLabels; readonly value: number }>;
  readonly gauges: ReadonlyArray<{ readonly name: string; readonly labels: SeriesLabels; readonly value: number }>;
  readonly histograms: ReadonlyArray<HistogramData & { readonly name: string; readonly labels: SeriesLabels }>;
}

/**
 * Where the binding reads metrics from: an `SdkStats` (or anything with `snapshot()`), or an
 * object exposing one as `metrics` (a SessionCache: `cache.metrics`).
 */
export type MetricsSource = { snapshot(): SnapshotLike } | { readonly metrics: { snapshot(): SnapshotLike } };

function isSource(s: unknown): s is MetricsSource {
  if (!s || typeof s !== 'object') return false;
  if (typeof (s as { snapshot?: unknown }).snapshot === 'function') return true;
  const m = (s as { metrics?: unknown }).metrics;
  return !!m && typeof (m as { snapshot?: unknown }).snapshot === 'function';
}

/** Options of {@link registerSessionCacheMetrics}. */
export interface RegisterSessionCacheMetricsOptions {
  /** Prefix of every family name. @default 'sessioncache_' */
  prefix?: string;
  /** The prom-client module to build collectors with. @default require('prom-client') */
  promClient?: PromClientModule;
  /**
   * Labels the source adds to every series on top of the family's own (the sidecar adds
   * `worker`). @default []
   */
  extraLabelNames?: readonly string[];
  /** Families to register. @default every family of SDK_METRICS */
  families?: readonly SdkMetricName[];
}

/** What {@link registerSessionCacheMetrics} returns. */
export interface SessionCacheMetricsRegistration {
  /** Full names of the registered families. */
  readonly names: readonly string[];
  /** Removes the families from the registry. */
  unregister(): void;
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function loadPromClient(): PromClientModule {
  try {
    // Required lazily: prom-client is an optional peer dependency, needed only by this binding.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('prom-client') as PromClientModule;
  } catch (err) {
    throw new InvalidOptionsError(
      'promClient',
      `prom-client could not be loaded (${(err as Error).message}). Install it (npm install prom-client) ` +
        'or pass the module as { promClient }.',
    );
  }
}

function readSource(source: MetricsSource): SnapshotLike {
  if ('snapshot' in source && typeof source.snapshot === 'function') return source.snapshot();
  return (source as { metrics: { snapshot(): SnapshotLike } }).metrics.snapshot();
}

function labelsKey(labels: SeriesLabels): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

/** Adds up several snapshots series by series (two caches in one process, for instance). */
function mergeSnapshots(snaps: readonly SnapshotLike[]): SnapshotLike {
  if (snaps.length === 1) return snaps[0]!;
  const values = (kind: 'counters' | 'gauges') => {
    const out = new Map<string, { name: string; labels: SeriesLabels; value: number }>();
    for (const s of snaps) {
      for (const v of s[kind]) {
        const key = v.name + labelsKey(v.labels);
        const acc = out.get(key);
        if (acc) acc.value += v.value;
        else out.set(key, { name: v.name, labels: v.labels, value: v.value });
      }
    }
    return [...out.values()];
  };
  const hist = new Map<string, { name: string; labels: SeriesLabels; buckets: readonly number[]; counts: number[]; sum: number; count: number }>();
  for (const s of snaps) {
    for (const h of s.histograms) {
      const key = h.name + labelsKey(h.labels);
      const acc = hist.get(key);
      if (!acc) hist.set(key, { ...h, counts: [...h.counts] });
      else {
        for (let i = 0; i < acc.counts.length; i++) acc.counts[i]! += h.counts[i] ?? 0;
        acc.sum += h.sum;
        acc.count += h.count;
      }
    }
  }
  return { counters: values('counters'), gauges: values('gauges'), histograms: [...hist.values()] };
}

/**
 * Registers every SDK metric family on `registry` (never the global registry) as collectors
 * that read `source` at scrape time. Histograms are real Prometheus histograms with the
 * catalog's buckets (`_bucket{le}`, `_sum`, `_count`). Several sources (several caches in one
 * process) are summed series by series. Throws if a family name is already registered.
 *
 * ```ts
 * import { Registry } from 'prom-client';
 * import { registerSessionCacheMetrics } from '@sessioncache/sdk/prometheus';
 * const registry = new Registry();
 * registerSessionCacheMetrics(registry, cache);
 * app.get('/metrics', async (_req, res) => res.type(registry.contentType).send(await registry.metrics()));
 * ```
 */
export function registerSessionCacheMetrics(
  registry: PromClient.Registry,
  source: MetricsSource | readonly MetricsSource[],
  opts: RegisterSessionCacheMetricsOptions = {},
): SessionCacheMetricsRegistration {
  if (!registry || typeof registry.registerMetric !== 'function') {
    throw new InvalidOptionsError('registry', 'must be a prom-client Registry');
  }
  const sources = (Array.isArray(source) ? source : [source]) as readonly MetricsSource[];
  if (sources.length === 0 || !sources.every(isSource)) {
    throw new InvalidOptionsError('source', 'must be an SdkStats, a SessionCache, or a non-empty array of them');
  }
  const prefix = opts.prefix ?? METRIC_PREFIX;
  if (prefix !== '' && !NAME_RE.test(prefix)) {
    throw new InvalidOptionsError('prefix', `must be a valid metric name prefix, got ${JSON.stringify(prefix)}`);
  }
  const extra = [...(opts.extraLabelNames ?? [])];
  const pc = opts.promClient ?? loadPromClient();
  const families = opts.families ?? (Object.keys(SDK_METRICS) as SdkMetricName[]);

  // One snapshot per scrape: the registry calls every collector in the same synchronous pass,
  // so the cached snapshot is dropped at the next microtask.
  let cached: SnapshotLike | undefined;
  const current = (): SnapshotLike => {
    if (!cached) {
      cached = mergeSnapshots(sources.map(readSource));
      queueMicrotask(() => {
        cached = undefined;
      });
    }
    return cached;
  };

  const names: string[] = [];
  const registered: string[] = [];
  try {
    for (const family of families) {
      const spec: MetricSpec = SDK_METRICS[family];
      if (!spec) throw new InvalidOptionsError('families', `unknown family ${JSON.stringify(family)}`);
      const name = `${prefix}${family}`;
      const help = spec.help;
      const labelNames = [...extra, ...Object.keys(spec.labels)];
      const registers = [registry];
      if (spec.type === 'counter') {
        new pc.Counter({
          name,
          help,
          labelNames,
          registers,
          collect(this: PromClient.Counter) {
            this.reset();
            for (const c of current().counters) if (c.name === family) this.inc({ ...c.labels }, c.value);
          },
        });
      } else if (spec.type === 'gauge') {
        new pc.Gauge({
          name,
          help,
          labelNames,
          registers,
          collect(this: PromClient.Gauge) {
            this.reset();
            for (const g of current().gauges) if (g.name === family) this.set({ ...g.labels }, g.value);
          },
        });
      } else {
        createSnapshotHistogram(pc, { name, help, labelNames, registry, buckets: spec.buckets ?? [], family, current });
      }
      registered.push(name);
      names.push(name);
    }
  } catch (err) {
    for (const n of registered) registry.removeSingleMetric(n);
    throw err;
  }
  return {
    names,
    unregister() {
      for (const n of names) registry.removeSingleMetric(n);
    },
  };
}

interface SnapshotHistogramConfig {
  name: string;
  help: string;
  labelNames: string[];
  registry: PromClient.Registry;
  buckets: readonly number[];
  family: string;
  current: () => SnapshotLike;
}

type HistogramValue = { labels: Record<string, string | number>; value: number; metricName: string };

/**
 * A prom-client Histogram whose series come from snapshots: prom-client can only `observe()`
 * one value at a time, so the binding overrides what the registry reads (`get()`, and
 * `getForPromString()` which the registry prefers when present) to emit the bucket counts the
 * SDK already has. Output goes through prom-client's own formatter and escaping.
 */
function createSnapshotHistogram(pc: PromClientModule, cfg: SnapshotHistogramConfig): void {
  const read = async () => {
    const values: HistogramValue[] = [];
    for (const h of cfg.current().histograms) {
      if (h.name !== cfg.family) continue;
      let cumulative = 0;
      for (let i = 0; i < h.buckets.length; i++) {
        cumulative += h.counts[i] ?? 0;
        values.push({ labels: { ...h.labels, le: h.buckets[i]! }, value: cumulative, metricName: `${cfg.name}_bucket` });
      }
      cumulative += h.counts[h.buckets.length] ?? 0;
      values.push({ labels: { ...h.labels, le: '+Inf' }, value: cumulative, metricName: `${cfg.name}_bucket` });
      values.push({ labels: { ...h.labels }, value: h.sum, metricName: `${cfg.name}_sum` });
      values.push({ labels: { ...h.labels }, value: cumulative, metricName: `${cfg.name}_count` });
    }
    return { name: cfg.name, help: cfg.help, type: 'histogram', values, aggregator: 'sum' };
  };
  const histogram = new pc.Histogram({
    name: cfg.name,
    help: cfg.help,
    labelNames: cfg.labelNames,
    buckets: [...cfg.buckets],
    registers: [cfg.registry],
  });
  Object.assign(histogram, { get: read, getForPromString: read });
}
