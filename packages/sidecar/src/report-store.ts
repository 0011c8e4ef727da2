import {
  INSTANCE_ID_PATTERN,
  REPORT_FORMAT_VERSION,
  SDK_METRICS,
  SessionCacheError,
  WORKER_NAME_PATTERN,
  seriesKey,
  validateSeries,
  type MetricType,
  type MetricsReport,
  type SeriesLabels,
} from '@sessioncache/sdk';
import type { SnapshotLike } from '@sessioncache/sdk/prometheus';
import { ReportInvalidError, ReportVersionError, TooManyWorkersError } from './errors';

/**
 * The sidecar's memory of SDK metrics: monotonic series per `worker`, built from the deltas of
 * reports.
 *
 * - Counters and histograms belong to the worker, not to the process incarnation (`instance`):
 *   an app restart sends deltas from zero under a new instance and the worker's series simply
 *   keep growing. They are kept as long as the sidecar runs, also after the worker falls
 *   silent, so a worker that comes back never makes a counter go down. The only exception is
 *   the `maxWorkers` bound: when a new worker needs room, the longest-silent worker with no live
 *   instance is forgotten (if it ever returns, Prometheus sees an ordinary counter reset).
 * - Each instance's `seq` is applied once: a repeat (a report re-sent after a timeout) or an
 *   older seq is acknowledged and ignored, so a re-sent report is never counted twice.
 * - Gauges are per instance; a worker's gauge is the sum over its live instances (the minimum
 *   for `near_cache_tracking`, which is 1 only when every instance has tracking). An instance
 *   silent for longer than `reporterExpiryMs` stops being live and its gauges disappear; its
 *   last seq is remembered so a late re-send still cannot double count.
 * - A report is validated as a whole before any of it is applied.
 */

/** Options of {@link ReportStore}. */
export interface ReportStoreOptions {
  /** Silence (ms) after which an instance's gauges are removed. */
  reporterExpiryMs: number;
  /** Most workers kept. */
  maxWorkers: number;
  /** Most instances remembered per worker (older ones lose their seq memory). @default 16 */
  maxInstancesPerWorker?: number;
  /** Wall clock in ms. @default Date.now */
  now?: () => number;
}

/** Outcome of {@link ReportStore.apply}. */
export interface ApplyResult {
  /** True when this seq of this instance had already been applied (nothing changed). */
  readonly duplicate: boolean;
}

interface ValueSeries {
  readonly name: string;
  readonly labels: SeriesLabels;
  value: number;
}

interface HistogramSeries {
  readonly name: string;
  readonly labels: SeriesLabels;
  readonly buckets: readonly number[];
  readonly counts: number[];
  sum: number;
}

interface InstanceState {
  lastSeq: number;
  lastSeen: number;
  gauges: Array<{ key: string; name: string; labels: SeriesLabels; value: number }>;
}

interface WorkerState {
  readonly name: string;
  lastSeen: number;
  readonly instances: Map<string, InstanceState>;
  readonly counters: Map<string, ValueSeries>;
  readonly histograms: Map<string, HistogramSeries>;
}

interface ValidSeries {
  key: string;
  name: string;
  labels: SeriesLabels;
}

/** A report that passed every check, ready to apply. */
interface ValidReport {
  worker: string;
  instance: string;
  seq: number;
  counters: Array<ValidSeries & { value: number }>;
  gauges: Array<ValidSeries & { value: number }>;
  histograms: Array<ValidSeries & { counts: number[]; sum: number; buckets: readonly number[] }>;
}

/** How a worker's gauge combines its live instances. */
const GAUGE_AGGREGATION: Readonly<Record<string, 'sum' | 'min'>> = { near_cache_tracking: 'min' };

function checkSeries(section: string, index: number, name: unknown, type: MetricType, labels: unknown): ValidSeries {
  try {
    const valid = validateSeries(String(name), type, labels);
    return { key: seriesKey(String(name), valid), name: String(name), labels: valid };
  } catch (err) {
    if (err instanceof SessionCacheError) throw new ReportInvalidError(`${section}[${index}]: ${err.message}`);
    throw err;
  }
}

function checkUnique(section: string, series: readonly ValidSeries[]): void {
  const seen = new Set<string>();
  for (const s of series) {
    if (seen.has(s.key)) throw new ReportInvalidError(`${section}: series ${s.key} appears twice`);
    seen.add(s.key);
  }
}

/**
 * Checks a report against the catalog: version, worker and instance syntax, known families of
 * the right type, exact label sets with allowed values, non-negative finite deltas, one count
 * per bucket plus +Inf, no series twice. Throws {@link ReportVersionError} or
 * {@link ReportInvalidError}; returns the report with frozen labels and series keys.
 */
export function validateReport(body: MetricsReport): ValidReport {
  if (body.version !== REPORT_FORMAT_VERSION) throw new ReportVersionError(body.version, REPORT_FORMAT_VERSION);
  if (typeof body.worker !== 'string' || !WORKER_NAME_PATTERN.test(body.worker)) {
    throw new ReportInvalidError(`worker must match ${WORKER_NAME_PATTERN}`);
  }
  if (typeof body.instance !== 'string' || !INSTANCE_ID_PATTERN.test(body.instance)) {
    throw new ReportInvalidError(`instance must match ${INSTANCE_ID_PATTERN}`);
  }
  if (!Number.isSafeInteger(body.seq) || body.seq < 1) throw new ReportInvalidError('seq must be a positive integer');
  for (const section of ['counters', 'gauges', 'histograms'] as const) {
    if (!Array.isArray(body[section])) throw new ReportInvalidError(`${section} must be an array`);
  }
  const counters = body.counters.map((c, i) => {
    const s = checkSeries('counters', i, c.name, 'counter', c.labels);
    if (typeof c.value !== 'number' || !Number.isFinite(c.value) || c.value < 0) {
      throw new ReportInvalidError(`counters[${i}]: a counter delta must be a finite number >= 0, got ${c.value}`);
    }
    return { ...s, value: c.value };
  });
  const gauges = body.gauges.map((g, i) => {
    const s = checkSeries('gauges', i, g.name, 'gauge', g.labels);
    if (typeof g.value !== 'number' || !Number.isFinite(g.value)) {
      throw new ReportInvalidError(`gauges[${i}]: a gauge value must be a finite number, got ${g.value}`);
    }
    return { ...s, value: g.value };
  });
  const histograms = body.histograms.map((h, i) => {
    const s = checkSeries('histograms', i, h.name, 'histogram', h.labels);
    const buckets = (SDK_METRICS as Record<string, { buckets?: readonly number[] }>)[s.name]!.buckets ?? [];
    if (!Array.isArray(h.counts) || h.counts.length !== buckets.length + 1) {
      throw new ReportInvalidError(
        `histograms[${i}]: ${s.name} needs ${buckets.length + 1} counts (${buckets.length} buckets and +Inf), got ${
          Array.isArray(h.counts) ? h.counts.length : typeof h.counts
        }`,
      );
    }
    if (!h.counts.every((c) => Number.isSafeInteger(c) && c >= 0)) {
      throw new ReportInvalidError(`histograms[${i}]: counts must be whole numbers >= 0`);
    }
    if (typeof h.sum !== 'number' || !Number.isFinite(h.sum) || h.sum < 0) {
      throw new ReportInvalidError(`histograms[${i}]: sum must be a finite number >= 0, got ${h.sum}`);
    }
    return { ...s, counts: [...h.counts], sum: h.sum, buckets };
  });
  checkUnique('counters', counters);
  checkUnique('gauges', gauges);
  checkUnique('histograms', histograms);
  return { worker: body.worker, instance: body.instance, seq: body.seq, counters, gauges, histograms };
}

/** The sidecar's accumulated SDK series; see the module comment for the rules. */
export class ReportStore {
  readonly #workers = new Map<string, WorkerState>();
  readonly #expiryMs: number;
  readonly #maxWorkers: number;
  readonly #maxInstances: number;
  readonly #now: () => number;
  #lastReportAt: number | undefined;

  constructor(opts: ReportStoreOptions) {
    this.#expiryMs = opts.reporterExpiryMs;
    this.#maxWorkers = opts.maxWorkers;
    this.#maxInstances = opts.maxInstancesPerWorker ?? 16;
    this.#now = opts.now ?? Date.now;
  }

  /** Wall-clock ms of the last report applied or acknowledged, if any. */
  get lastReportAt(): number | undefined {
    return this.#lastReportAt;
  }

  /**
   * Validates and applies one report. Throws (and changes nothing) when the report is invalid
   * or when a new worker finds the table full of live workers.
   */
  apply(body: MetricsReport): ApplyResult {
    const report = validateReport(body);
    const now = this.#now();
    const worker = this.#workers.get(report.worker) ?? this.#addWorker(report.worker, now);
    let inst = worker.instances.get(report.instance);
    if (inst && report.seq <= inst.lastSeq) {
      inst.lastSeen = now;
      worker.lastSeen = now;
      this.#lastReportAt = now;
      return { duplicate: true };
    }
    if (!inst) {
      inst = { lastSeq: 0, lastSeen: now, gauges: [] };
      this.#addInstance(worker, report.instance, inst);
    }
    inst.lastSeq = report.seq;
    inst.lastSeen = now;
    worker.lastSeen = now;
    this.#lastReportAt = now;
    const withWorker = (labels: SeriesLabels): SeriesLabels => Object.freeze({ worker: worker.name, ...labels });
    for (const c of report.counters) {
      const series = worker.counters.get(c.key);
      if (series) series.value += c.value;
      else worker.counters.set(c.key, { name: c.name, labels: withWorker(c.labels), value: c.value });
    }
    for (const h of report.histograms) {
      const series = worker.histograms.get(h.key);
      if (series) {
        for (let i = 0; i < series.counts.length; i++) series.counts[i]! += h.counts[i]!;
        series.sum += h.sum;
      } else {
        worker.histograms.set(h.key, { name: h.name, labels: withWorker(h.labels), buckets: h.buckets, counts: h.counts, sum: h.sum });
      }
    }
    inst.gauges = report.gauges.map((g) => ({ key: g.key, name: g.name, labels: withWorker(g.labels), value: g.value }));
    return { duplicate: false };
  }

  /** Every series with its `worker` label, for the prom-client binding. */
  snapshot(): SnapshotLike {
    const now = this.#now();
    const counters: ValueSeries[] = [];
    const histograms: Array<HistogramSeries & { count: number }> = [];
    const gauges: ValueSeries[] = [];
    for (const w of this.#workers.values()) {
      for (const c of w.counters.values()) counters.push({ name: c.name, labels: c.labels, value: c.value });
      for (const h of w.histograms.values()) {
        histograms.push({ ...h, counts: [...h.counts], count: h.counts.reduce((a, b) => a + b, 0) });
      }
      const byKey = new Map<string, ValueSeries>();
      for (const inst of w.instances.values()) {
        if (now - inst.lastSeen > this.#expiryMs) {
          inst.gauges = []; // expired: free them; its lastSeq stays for deduplication
          continue;
        }
        for (const g of inst.gauges) {
          const acc = byKey.get(g.key);
          if (!acc) byKey.set(g.key, { name: g.name, labels: g.labels, value: g.value });
          else if (GAUGE_AGGREGATION[g.name] === 'min') acc.value = Math.min(acc.value, g.value);
          else acc.value += g.value;
        }
      }
      gauges.push(...byKey.values());
    }
    return { counters, gauges, histograms };
  }

  /** Instances that reported within the expiry. */
  liveReporters(): number {
    const now = this.#now();
    let n = 0;
    for (const w of this.#workers.values()) {
      for (const inst of w.instances.values()) if (now - inst.lastSeen <= this.#expiryMs) n++;
    }
    return n;
  }

  /** Workers whose series are kept. */
  workerCount(): number {
    return this.#workers.size;
  }

  #isLive(w: WorkerState, now: number): boolean {
    for (const inst of w.instances.values()) if (now - inst.lastSeen <= this.#expiryMs) return true;
    return false;
  }

  #addWorker(name: string, now: number): WorkerState {
    if (this.#workers.size >= this.#maxWorkers) {
      let victim: WorkerState | undefined;
      for (const w of this.#workers.values()) {
        if (!this.#isLive(w, now) && (!victim || w.lastSeen < victim.lastSeen)) victim = w;
      }
      if (!victim) throw new TooManyWorkersError(this.#maxWorkers);
      this.#workers.delete(victim.name);
    }
    const w: WorkerState = { name, lastSeen: now, instances: new Map(), counters: new Map(), histograms: new Map() };
    this.#workers.set(name, w);
    return w;
  }

  #addInstance(worker: WorkerState, id: string, inst: InstanceState): void {
    if (worker.instances.size >= this.#maxInstances) {
      let oldest: [string, InstanceState] | undefined;
      for (const e of worker.instances) if (!oldest || e[1].lastSeen < oldest[1].lastSeen) oldest = e;
      if (oldest) worker.instances.delete(oldest[0]);
    }
    worker.instances.set(id, inst);
  }
}
