import { InvalidArgumentError } from '../errors';
import { SDK_METRICS, type MetricType, type SdkMetricName } from './catalog';

/**
 * In-process metrics of the SDK: counters, gauges and histograms of the families in
 * {@link SDK_METRICS}, with no prom-client dependency. The SDK creates one handle per series
 * once (at construction); the hot path then only does arithmetic on preallocated storage, so a
 * near-cache hit costs two field updates and no allocation. Readers (cache.stats(), the
 * prom-client binding, the sidecar reporter) take cumulative {@link StatsSnapshot}s.
 */

type FamilyOfType<T extends MetricType> = {
  [K in SdkMetricName]: (typeof SDK_METRICS)[K]['type'] extends T ? K : never;
}[SdkMetricName];

/** Names of the counter families of {@link SDK_METRICS}. */
export type CounterName = FamilyOfType<'counter'>;
/** Names of the histogram families of {@link SDK_METRICS}. */
export type HistogramName = FamilyOfType<'histogram'>;
/** Names of the gauge families of {@link SDK_METRICS}. */
export type GaugeName = FamilyOfType<'gauge'>;

/** Label name -> value of one series. */
export type SeriesLabels = Readonly<Record<string, string>>;

/** A monotonic counter of one series. */
export interface CounterHandle {
  /**
   * Adds `by` (default 1). A negative, NaN or infinite `by` is ignored rather than thrown:
   * a metrics mistake must never fail a session operation, and a counter never goes down.
   */
  inc(by?: number): void;
  /** Cumulative value. */
  readonly value: number;
}

/** A latency histogram of one series, with the buckets of its family. */
export interface HistogramHandle {
  /** Records one observation in seconds (negative values count as 0, NaN is ignored). */
  observe(seconds: number): void;
  /**
   * Records the time elapsed since `startMs`, a reading of the {@link SdkStats} clock
   * ({@link SdkStats.now}); saves the caller a subtraction and a division.
   */
  observeSince(startMs: number): void;
}

/** Cumulative value of one counter or gauge series. */
export interface ValueSample<N extends string = string> {
  readonly name: N;
  readonly labels: SeriesLabels;
  /** Canonical series id (`name{a="x",b="y"}` with sorted labels); stable for a series. */
  readonly key: string;
  readonly value: number;
}

/** Cumulative state of one histogram series. */
export interface HistogramSample<N extends string = string> {
  readonly name: N;
  readonly labels: SeriesLabels;
  /** Canonical series id, as for {@link ValueSample.key}. */
  readonly key: string;
  /** Upper bounds (seconds) of the finite buckets. */
  readonly buckets: readonly number[];
  /** Observations per bucket, non-cumulative; one more entry than `buckets`: the +Inf bucket. */
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/** Every series of an {@link SdkStats} at one moment. */
export interface StatsSnapshot {
  /** Reading of the stats clock (ms) when the snapshot was taken. */
  readonly takenAt: number;
  readonly counters: ReadonlyArray<ValueSample<CounterName>>;
  readonly gauges: ReadonlyArray<ValueSample<GaugeName>>;
  readonly histograms: ReadonlyArray<HistogramSample<HistogramName>>;
}

/** Options of {@link SdkStats}. */
export interface SdkStatsOptions {
  /**
   * Monotonic clock in milliseconds, used by {@link HistogramHandle.observeSince} and
   * {@link StatsSnapshot.takenAt}; tests inject a fake one.
   * @default performance.now
   */
  now?: () => number;
}

/**
 * Canonical id of a series: the family name and its labels sorted by name, in the Prometheus
 * text syntax. Used as the map key by the stats, the reporter and the sidecar.
 */
export function seriesKey(name: string, labels: SeriesLabels): string {
  const names = Object.keys(labels).sort();
  if (names.length === 0) return name;
  return `${name}{${names.map((n) => `${n}=${JSON.stringify(labels[n])}`).join(',')}}`;
}

/**
 * Checks `labels` against the family's closed label sets: every label of the family must be
 * present with an allowed value and no other label may appear. Returns a frozen copy.
 */
export function validateSeries(name: string, type: MetricType, labels: unknown): SeriesLabels {
  const spec = (SDK_METRICS as Record<string, (typeof SDK_METRICS)[SdkMetricName]>)[name];
  if (!spec) throw new InvalidArgumentError(`Unknown metric family ${JSON.stringify(name)}`);
  if (spec.type !== type) {
    throw new InvalidArgumentError(`Metric family ${name} is a ${spec.type}, not a ${type}`);
  }
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new InvalidArgumentError(`Labels of ${name} must be an object`);
  }
  const allowed = spec.labels as Readonly<Record<string, readonly string[]>>;
  const given = labels as Record<string, unknown>;
  const copy: Record<string, string> = {};
  for (const label of Object.keys(given)) {
    if (!Object.hasOwn(allowed, label)) {
      throw new InvalidArgumentError(`Metric family ${name} has no label ${JSON.stringify(label)}`);
    }
  }
  for (const [label, values] of Object.entries(allowed)) {
    const value = given[label];
    if (typeof value !== 'string' || !values.includes(value)) {
      throw new InvalidArgumentError(
        `Label ${label} of ${name} must be one of ${values.join(', ')}; got ${JSON.stringify(value)}`,
      );
    }
    copy[label] = value;
  }
  return Object.freeze(copy);
}

class Counter implements CounterHandle {
  value = 0;

  constructor(
    readonly name: CounterName,
    readonly labels: SeriesLabels,
    readonly key: string,
  ) {}

  inc(by = 1): void {
    // `by >= 0` is false for NaN; the Infinity check keeps the counter finite for JSON reports.
    if (by >= 0 && by !== Infinity) this.value += by;
  }
}

class Histogram implements HistogramHandle {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly name: HistogramName,
    readonly labels: SeriesLabels,
    readonly key: string,
    readonly buckets: readonly number[],
    private readonly bounds: Float64Array,
    private readonly now: () => number,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number): void {
    let s = seconds;
    if (!(s >= 0)) {
      if (s < 0) s = 0;
      else return; // NaN
    }
    // Prometheus buckets are `le` (inclusive). A linear scan beats a binary search here: most
    // observations (near-cache hits) land in the first few of the 16 buckets.
    const bounds = this.bounds;
    const n = bounds.length;
    let i = 0;
    while (i < n && s > bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += s;
    this.count += 1;
  }

  observeSince(startMs: number): void {
    this.observe((this.now() - startMs) / 1000);
  }
}

interface Gauge {
  readonly name: GaugeName;
  readonly labels: SeriesLabels;
  readonly key: string;
  read: () => number;
}

const defaultNow = (): number => performance.now();

/**
 * The SDK's in-process metrics registry. Series are validated against {@link SDK_METRICS} once,
 * when their handle is created; asking twice for the same series returns the same handle, so
 * two components counting the same thing add up instead of shadowing each other.
 *
 * ```ts
 * const stats = new SdkStats();
 * const nearHit = stats.counter('near_cache_requests_total', { result: 'hit' });
 * const nearGet = stats.histogram('operation_duration_seconds', { op: 'get', tier: 'near' });
 * const t0 = stats.now();
 * nearHit.inc();
 * nearGet.observeSince(t0);
 * ```
 */
export class SdkStats {
  /** The clock given in the options (ms); use it to time what you observe. */
  readonly now: () => number;
  readonly #counters = new Map<string, Counter>();
  readonly #histograms = new Map<string, Histogram>();
  readonly #gauges = new Map<string, Gauge>();

  constructor(opts: SdkStatsOptions = {}) {
    if (opts.now !== undefined && typeof opts.now !== 'function') {
      throw new InvalidArgumentError('SdkStats option "now" must be a function returning milliseconds');
    }
    this.now = opts.now ?? defaultNow;
  }

  /** Returns the counter of one series, creating it at 0. Throws on an unknown family or label. */
  counter(name: CounterName, labels: Record<string, string>): CounterHandle {
    const valid = validateSeries(name, 'counter', labels);
    const key = seriesKey(name, valid);
    let c = this.#counters.get(key);
    if (!c) {
      c = new Counter(name, valid, key);
      this.#counters.set(key, c);
    }
    return c;
  }

  /** Returns the histogram of one series, creating it empty. Throws on an unknown family or label. */
  histogram(name: HistogramName, labels: Record<string, string>): HistogramHandle {
    const valid = validateSeries(name, 'histogram', labels);
    const key = seriesKey(name, valid);
    let h = this.#histograms.get(key);
    if (!h) {
      const buckets = SDK_METRICS[name].buckets;
      h = new Histogram(name, valid, key, buckets, Float64Array.from(buckets), this.now);
      this.#histograms.set(key, h);
    }
    return h;
  }

  /**
   * Registers a gauge read at snapshot time (entries, bytes...: values the SDK already keeps,
   * so nothing is updated on the hot path). Registering the same series again replaces the
   * reader. A reader that throws or returns a non-finite number leaves the series out of that
   * snapshot instead of failing the reader of the snapshot.
   */
  gauge(name: GaugeName, labels: Record<string, string>, read: () => number): void {
    if (typeof read !== 'function') throw new InvalidArgumentError(`Gauge ${name} needs a read function`);
    const valid = validateSeries(name, 'gauge', labels);
    const key = seriesKey(name, valid);
    this.#gauges.set(key, { name, labels: valid, key, read });
  }

  /** Cumulative values of every series (counters and histograms since creation, gauges now). */
  snapshot(): StatsSnapshot {
    const counters: Array<ValueSample<CounterName>> = [];
    for (const c of this.#counters.values()) {
      counters.push({ name: c.name, labels: c.labels, key: c.key, value: c.value });
    }
    const gauges: Array<ValueSample<GaugeName>> = [];
    for (const g of this.#gauges.values()) {
      let value: number;
      try {
        value = g.read();
      } catch {
        continue;
      }
      if (typeof value === 'number' && Number.isFinite(value)) {
        gauges.push({ name: g.name, labels: g.labels, key: g.key, value });
      }
    }
    const histograms: Array<HistogramSample<HistogramName>> = [];
    for (const h of this.#histograms.values()) {
      histograms.push({
        name: h.name,
        labels: h.labels,
        key: h.key,
        buckets: h.buckets,
        counts: Array.from(h.counts),
        sum: h.sum,
        count: h.count,
      });
    }
    return { takenAt: this.now(), counters, gauges, histograms };
  }
}

/** Buckets, counts, sum and count of a histogram: one series or several merged. */
export interface HistogramData {
  readonly buckets: readonly number[];
  /** Non-cumulative, with the +Inf bucket last. */
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/**
 * Adds histograms with the same buckets (e.g. every `op` of one `tier`). Returns undefined for
 * an empty list. Throws when the buckets differ, since the sum would be meaningless.
 */
export function mergeHistograms(samples: readonly HistogramData[]): HistogramData | undefined {
  const [first] = samples;
  if (!first) return undefined;
  const counts = new Array<number>(first.counts.length).fill(0);
  let sum = 0;
  let count = 0;
  for (const s of samples) {
    if (s.buckets.length !== first.buckets.length || s.buckets.some((b, i) => b !== first.buckets[i])) {
      throw new InvalidArgumentError('Cannot merge histograms with different buckets');
    }
    for (let i = 0; i < counts.length; i++) counts[i]! += s.counts[i] ?? 0;
    sum += s.sum;
    count += s.count;
  }
  return { buckets: first.buckets, counts, sum, count };
}

/**
 * Approximate `q`-quantile (0..1) of a histogram, interpolated linearly inside the bucket that
 * holds it, as Prometheus' `histogram_quantile` does (the first bucket starts at 0; a quantile
 * in the +Inf bucket returns the highest finite bound). Null when the histogram is empty.
 */
export function histogramQuantile(q: number, h: HistogramData): number | null {
  if (!(q >= 0 && q <= 1)) throw new InvalidArgumentError(`Quantile must be within [0, 1], got ${q}`);
  const total = h.counts.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let cumulative = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const inBucket = h.counts[i]!;
    if (inBucket > 0 && cumulative + inBucket >= rank) {
      if (i >= h.buckets.length) return h.buckets[h.buckets.length - 1] ?? null;
      const lower = i === 0 ? 0 : h.buckets[i - 1]!;
      const upper = h.buckets[i]!;
      return lower + (upper - lower) * ((rank - cumulative) / inBucket);
    }
    cumulative += inBucket;
  }
  return h.buckets[h.buckets.length - 1] ?? null;
}

/** Count, mean and approximate percentiles of a latency histogram, in seconds. */
export interface LatencySummary {
  readonly count: number;
  /** Null when nothing was observed. */
  readonly mean: number | null;
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
}

/** Summarises one histogram (or the merge of several); see {@link histogramQuantile} for accuracy. */
export function summarizeLatency(h: HistogramData | readonly HistogramData[] | undefined): LatencySummary {
  const data = Array.isArray(h) ? mergeHistograms(h as readonly HistogramData[]) : (h as HistogramData | undefined);
  if (!data || data.count === 0) return { count: 0, mean: null, p50: null, p90: null, p99: null };
  return {
    count: data.count,
    mean: data.sum / data.count,
    p50: histogramQuantile(0.5, data),
    p90: histogramQuantile(0.9, data),
    p99: histogramQuantile(0.99, data),
  };
}

/** True when every label in `match` has that value in `labels`. */
function matches(labels: SeriesLabels, match: Readonly<Record<string, string>> | undefined): boolean {
  if (!match) return true;
  for (const [k, v] of Object.entries(match)) if (labels[k] !== v) return false;
  return true;
}

/** The histogram series of `snapshot` of family `name` whose labels include `match`. */
export function selectHistograms(
  snapshot: StatsSnapshot,
  name: HistogramName,
  match?: Readonly<Record<string, string>>,
): Array<HistogramSample<HistogramName>> {
  return snapshot.histograms.filter((h) => h.name === name && matches(h.labels, match));
}

/** Sum of the counter series of family `name` whose labels include `match` (0 when none). */
export function counterTotal(
  snapshot: StatsSnapshot,
  name: CounterName,
  match?: Readonly<Record<string, string>>,
): number {
  let total = 0;
  for (const c of snapshot.counters) if (c.name === name && matches(c.labels, match)) total += c.value;
  return total;
}
