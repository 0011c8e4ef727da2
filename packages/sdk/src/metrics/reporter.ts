import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import { InvalidOptionsError } from '../errors';
import {
  REPORT_FORMAT_VERSION,
  WORKER_NAME_PATTERN,
  type MetricsReport,
} from './catalog';
import type { CounterHandle, SdkStats, SeriesLabels } from './stats';

/**
 * Pushes the SDK's metrics to the pod-local sidecar as deltas.
 *
 * Delivery rules (why the sidecar's counters equal what the SDK counted, with no loss and no
 * double counting, whatever the sidecar does):
 * - Every `intervalMs` the reporter diffs a snapshot against the previous one and adds the
 *   difference to one *open* delta. Merging is safe because nothing of it was ever sent, and it
 *   keeps memory constant while the sidecar is down: one delta holds any number of intervals.
 * - To send, the open delta is *sealed* into a report with the next `seq`. A sealed report is
 *   never changed: after any failure (refused, 5xx, or a timeout after which the sidecar may
 *   well have applied it) it is re-sent byte for byte with the same `seq`. The sidecar applies a
 *   `seq` of an instance at most once and acknowledges a repeat without applying it, so the
 *   ambiguous case (timed out after acceptance) costs nothing and needs no guessing.
 * - Reports go out one at a time, in `seq` order, so the sidecar never sees a newer `seq` first
 *   (it would then ignore the older one).
 * - A report the sidecar refuses for good (4xx other than 408/429: malformed, unknown version)
 *   is dropped and counted, not retried forever.
 * - When undelivered data covers more than `maxPendingReports` intervals, the oldest is dropped
 *   and counted (`dropped`, and `sessioncache_reporter_dropped_reports_total{reason="backlog"}`
 *   once a report gets through): memory is bounded anyway, this bounds how stale the burst is
 *   that a sidecar receives when it comes back.
 * - Failures back off exponentially with jitter up to `maxBackoffMs`; the timer is unref'd, no
 *   call ever throws or rejects, and nothing here runs on the request path.
 */

/** Options of {@link MetricsReporter}. */
export interface MetricsReporterOptions {
  /** Base URL of the sidecar, e.g. `http://127.0.0.1:9464`; reports go to `${url}/v1/report`. */
  url: string;
  /** The stats to report. */
  stats: SdkStats;
  /**
   * Low-cardinality name of this process, the sidecar's `worker` label
   * (`[A-Za-z0-9_.:-]{1,64}`). Keep it stable across restarts of the same replica.
   * @default process.env.SESSIONCACHE_WORKER, else `<hostname>-<pid>` reduced to that charset
   */
  worker?: string;
  /** Milliseconds between reports. @default 5000 */
  intervalMs?: number;
  /** Milliseconds before one POST is abandoned. @default 1000 */
  timeoutMs?: number;
  /** Intervals of undelivered data kept while the sidecar is unreachable. @default 60 */
  maxPendingReports?: number;
  /** Longest wait between retries after failures. @default 60000 */
  maxBackoffMs?: number;
  /** HTTP client (tests inject one). @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Random source in [0, 1) for the backoff jitter. @default Math.random */
  random?: () => number;
  /** Wall clock (ms) for report timestamps and backoff. @default Date.now */
  now?: () => number;
  /** Told about every failed attempt and drop (never thrown). @default ignore */
  onError?: (err: Error) => void;
}

/** Defaults of {@link MetricsReporterOptions}. */
export const DEFAULT_REPORTER_OPTIONS = Object.freeze({
  intervalMs: 5000,
  timeoutMs: 1000,
  maxPendingReports: 60,
  maxBackoffMs: 60_000,
});

/** What {@link MetricsReporter.stats} returns. */
export interface ReporterStats {
  /** Reports the sidecar acknowledged (2xx, including repeats it had already applied). */
  sent: number;
  /** Attempts that failed (network error, timeout, 408/429/5xx, or a refusal). */
  failed: number;
  /** Intervals of data discarded (backlog over `maxPendingReports`, or refused by the sidecar). */
  dropped: number;
  /** Intervals of data not yet acknowledged. */
  pending: number;
  /** Message of the last failure, if any. */
  lastError: string | undefined;
}

interface OpenDelta {
  counters: Map<string, { name: string; labels: SeriesLabels; value: number }>;
  histograms: Map<string, { name: string; labels: SeriesLabels; counts: number[]; sum: number }>;
  gauges: Map<string, { name: string; labels: SeriesLabels; value: number }>;
  intervals: number;
}

interface SealedReport {
  readonly seq: number;
  readonly body: string;
  readonly intervals: number;
  /** Its `reporter_dropped_reports_total` deltas, kept apart so a drop never hides drops. */
  readonly dropCounts: ReadonlyArray<{ key: string; name: string; labels: SeriesLabels; value: number }>;
  /** True once an attempt may have reached the sidecar (a timeout, a reset, a 5xx). */
  maybeApplied: boolean;
}

/** The reporter's own family: its deltas survive the drops they count. */
const DROP_FAMILY = 'reporter_dropped_reports_total';

/** Sanitised `<hostname>-<pid>`, the default worker name. */
export function defaultWorkerName(hostname = os.hostname(), pid = process.pid): string {
  const suffix = `-${pid}`;
  const host = hostname.replace(/[^A-Za-z0-9_.:-]/g, '-').slice(0, 64 - suffix.length) || 'node';
  return `${host}${suffix}`;
}

function positiveInt(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidOptionsError(option, `must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function resolveWorker(worker: string | undefined): string {
  if (worker !== undefined) {
    if (typeof worker !== 'string' || !WORKER_NAME_PATTERN.test(worker)) {
      throw new InvalidOptionsError('metrics.worker', `must match ${WORKER_NAME_PATTERN}, got ${JSON.stringify(worker)}`);
    }
    return worker;
  }
  const env = process.env.SESSIONCACHE_WORKER;
  if (env !== undefined && env !== '') {
    if (!WORKER_NAME_PATTERN.test(env)) {
      throw new InvalidOptionsError(
        'metrics.worker',
        `environment SESSIONCACHE_WORKER must match ${WORKER_NAME_PATTERN}, got ${JSON.stringify(env)}`,
      );
    }
    return env;
  }
  return defaultWorkerName();
}

function resolveReportUrl(url: unknown): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    throw new InvalidOptionsError('metrics.sidecar', `must be an http(s) URL such as http://127.0.0.1:9464, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidOptionsError('metrics.sidecar', `must be an http(s) URL, got ${JSON.stringify(url)}`);
  }
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}/v1/report`;
}

function emptyDelta(): OpenDelta {
  return { counters: new Map(), histograms: new Map(), gauges: new Map(), intervals: 0 };
}

/** True for fetch's error when nothing listens on the port (the body was never sent). */
function isConnectionRefused(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; depth++) {
    if (e.code === 'ECONNREFUSED') return true;
    e = e.cause as typeof e;
  }
  return false;
}

/** Statuses after which the same report may succeed later. */
function retriable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Sends {@link MetricsReport}s to the sidecar every `intervalMs`; see the module comment for
 * the delivery rules.
 *
 * ```ts
 * const reporter = new MetricsReporter({ url: 'http://127.0.0.1:9464', stats });
 * reporter.start();
 * // ...
 * await reporter.close(); // sends what is left, within timeoutMs per attempt
 * ```
 */
export class MetricsReporter {
  /** The `worker` this reporter sends. */
  readonly worker: string;
  /** Random id of this reporter's process incarnation (the report's `instance`). */
  readonly instance: string;
  readonly #url: string;
  readonly #stats: SdkStats;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #maxPending: number;
  readonly #maxBackoffMs: number;
  readonly #fetch: typeof fetch;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #onError: ((err: Error) => void) | undefined;
  readonly #droppedBacklog: CounterHandle;
  readonly #droppedRejected: CounterHandle;

  /** Cumulative values at the last collection, by series key. */
  readonly #lastCounters = new Map<string, number>();
  readonly #lastHistograms = new Map<string, { counts: readonly number[]; sum: number }>();
  #open: OpenDelta = emptyDelta();
  #head: SealedReport | null = null;
  #seq = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #sending: Promise<void> | null = null;
  #consecutiveFailures = 0;
  #retryAt = 0;
  #closed = false;
  readonly #counts = { sent: 0, failed: 0, dropped: 0 };
  #lastError: string | undefined;

  constructor(options: MetricsReporterOptions) {
    if (!options || typeof options !== 'object') throw new InvalidOptionsError('metrics', 'must be an object');
    if (!options.stats || typeof options.stats.snapshot !== 'function') {
      throw new InvalidOptionsError('metrics.stats', 'must be an SdkStats');
    }
    this.#url = resolveReportUrl(options.url);
    this.#stats = options.stats;
    this.worker = resolveWorker(options.worker);
    this.#intervalMs = positiveInt('metrics.intervalMs', options.intervalMs, DEFAULT_REPORTER_OPTIONS.intervalMs);
    this.#timeoutMs = positiveInt('metrics.timeoutMs', options.timeoutMs, DEFAULT_REPORTER_OPTIONS.timeoutMs);
    this.#maxPending = positiveInt(
      'metrics.maxPendingReports',
      options.maxPendingReports,
      DEFAULT_REPORTER_OPTIONS.maxPendingReports,
    );
    this.#maxBackoffMs = positiveInt('metrics.maxBackoffMs', options.maxBackoffMs, DEFAULT_REPORTER_OPTIONS.maxBackoffMs);
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new InvalidOptionsError('metrics.fetch', 'no fetch implementation (Node >= 18 has one)');
    this.#fetch = f;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError;
    this.instance = randomBytes(8).toString('hex');
    this.#droppedBacklog = this.#stats.counter('reporter_dropped_reports_total', { reason: 'backlog' });
    this.#droppedRejected = this.#stats.counter('reporter_dropped_reports_total', { reason: 'rejected' });
  }

  /** Starts reporting every `intervalMs` (idempotent). The timer never keeps the process alive. */
  start(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
    this.#timer.unref?.();
  }

  /**
   * Collects now and tries to deliver everything pending, ignoring the backoff. Resolves when
   * done or after the first failed attempt; never rejects.
   */
  async flush(): Promise<void> {
    if (this.#closed) return;
    this.#collect();
    await this.#drain(true);
  }

  /** Stops the timer and makes a last delivery attempt (bounded by `timeoutMs` per report). */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#collect();
    await this.#drain(true);
    this.#closed = true;
  }

  /** Delivery counters of this reporter. */
  stats(): ReporterStats {
    return {
      ...this.#counts,
      pending: (this.#head?.intervals ?? 0) + this.#open.intervals,
      lastError: this.#lastError,
    };
  }

  #tick(): void {
    try {
      this.#collect();
      if (!this.#sending && this.#now() >= this.#retryAt) void this.#drain(false);
    } catch (err) {
      this.#report(err);
    }
  }

  /** Adds what changed since the last collection to the open delta, then enforces the bound. */
  #collect(): void {
    const snap = this.#stats.snapshot();
    const open = this.#open;
    for (const c of snap.counters) {
      const d = Math.max(0, c.value - (this.#lastCounters.get(c.key) ?? 0));
      this.#lastCounters.set(c.key, c.value);
      const acc = open.counters.get(c.key);
      if (acc) acc.value += d;
      else open.counters.set(c.key, { name: c.name, labels: c.labels, value: d });
    }
    for (const h of snap.histograms) {
      const prev = this.#lastHistograms.get(h.key);
      this.#lastHistograms.set(h.key, { counts: h.counts, sum: h.sum });
      let acc = open.histograms.get(h.key);
      if (!acc) {
        acc = { name: h.name, labels: h.labels, counts: new Array<number>(h.counts.length).fill(0), sum: 0 };
        open.histograms.set(h.key, acc);
      }
      for (let i = 0; i < h.counts.length; i++) acc.counts[i]! += Math.max(0, h.counts[i]! - (prev?.counts[i] ?? 0));
      acc.sum += Math.max(0, h.sum - (prev?.sum ?? 0));
    }
    // Gauges are current values: the newest reading replaces older ones.
    open.gauges = new Map(snap.gauges.map((g) => [g.key, { name: g.name, labels: g.labels, value: g.value }]));
    open.intervals += 1;
    this.#enforceBound();
  }

  #enforceBound(): void {
    // A report in flight is left alone: its outcome is not known yet, and it ends within timeoutMs.
    if (this.#sending) return;
    while ((this.#head?.intervals ?? 0) + this.#open.intervals > this.#maxPending) {
      if (this.#head) {
        const head = this.#head;
        this.#head = null;
        this.#carryDropCounts(head);
        this.#drop(head.intervals, 'backlog', `sidecar unreachable: dropped report seq ${head.seq}`);
      } else {
        const old = this.#open;
        this.#open = { ...emptyDelta(), gauges: old.gauges };
        for (const [key, c] of old.counters) if (c.name === DROP_FAMILY) this.#open.counters.set(key, c);
        this.#drop(old.intervals, 'backlog', 'sidecar unreachable: dropped the pending delta');
      }
    }
  }

  /**
   * Moves the drop counts of a report being discarded into the open delta, unless the sidecar
   * may already have applied them (then re-sending them could count them twice).
   */
  #carryDropCounts(report: SealedReport): void {
    if (report.maybeApplied) return;
    for (const d of report.dropCounts) {
      const acc = this.#open.counters.get(d.key);
      if (acc) acc.value += d.value;
      else this.#open.counters.set(d.key, { name: d.name, labels: d.labels, value: d.value });
    }
  }

  #drop(intervals: number, reason: 'backlog' | 'rejected', message: string): void {
    this.#counts.dropped += intervals;
    (reason === 'backlog' ? this.#droppedBacklog : this.#droppedRejected).inc(intervals);
    this.#report(new Error(`${message} (${intervals} interval(s) of metrics lost)`));
  }

  #seal(): SealedReport | null {
    const open = this.#open;
    if (open.intervals === 0) return null;
    this.#open = emptyDelta();
    const report: MetricsReport = {
      version: REPORT_FORMAT_VERSION,
      worker: this.worker,
      instance: this.instance,
      seq: ++this.#seq,
      timestamp: this.#now(),
      counters: [...open.counters.values()],
      gauges: [...open.gauges.values()],
      histograms: [...open.histograms.values()],
    };
    const dropCounts = [...open.counters]
      .filter(([, c]) => c.name === DROP_FAMILY && c.value > 0)
      .map(([key, c]) => ({ key, ...c }));
    return { seq: report.seq, body: JSON.stringify(report), intervals: open.intervals, dropCounts, maybeApplied: false };
  }

  /** Sends the sealed head, then the open delta, one at a time, until empty or a failure. */
  #drain(force: boolean): Promise<void> {
    const previous = this.#sending;
    const run = (async () => {
      if (previous) await previous;
      if (!force && this.#now() < this.#retryAt) return;
      while (true) {
        if (!this.#head) this.#head = this.#seal();
        const head = this.#head;
        if (!head) return;
        const outcome = await this.#post(head);
        if (outcome === 'retry') return;
        if (this.#head === head) this.#head = null;
      }
    })().catch((err: unknown) => this.#report(err));
    const tracked = run.finally(() => {
      if (this.#sending === tracked) this.#sending = null;
    });
    this.#sending = tracked;
    return tracked;
  }

  /** One POST of a sealed report: 'done' (acknowledged or refused for good) or 'retry'. */
  async #post(report: SealedReport): Promise<'done' | 'retry'> {
    let status: number;
    let detail = '';
    try {
      const res = await this.#fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: report.body,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = res.status;
      // Reading the body frees the connection for reuse; its text explains a refusal.
      detail = await res.text().catch(() => '');
    } catch (err) {
      // Only a refused connection proves the sidecar never saw the body.
      if (!isConnectionRefused(err)) report.maybeApplied = true;
      return this.#failed(`report seq ${report.seq} not delivered: ${(err as Error)?.message ?? String(err)}`);
    }
    if (status >= 200 && status < 300) {
      this.#counts.sent += 1;
      this.#consecutiveFailures = 0;
      this.#retryAt = 0;
      return 'done';
    }
    if (retriable(status)) {
      report.maybeApplied = true;
      return this.#failed(`sidecar answered ${status} to report seq ${report.seq}: ${detail.slice(0, 200)}`);
    }
    // Refused for good (4xx): the sidecar validates before applying, so nothing of it counted.
    this.#counts.failed += 1;
    if (this.#head === report) this.#head = null;
    this.#carryDropCounts(report);
    this.#drop(report.intervals, 'rejected', `sidecar refused report seq ${report.seq} with ${status}: ${detail.slice(0, 200)}`);
    return 'done';
  }

  #failed(message: string): 'retry' {
    this.#counts.failed += 1;
    this.#consecutiveFailures += 1;
    const ceiling = Math.min(this.#maxBackoffMs, this.#intervalMs * 2 ** Math.min(this.#consecutiveFailures - 1, 30));
    // Equal jitter: at least half the ceiling, so retries still back off, spread over the rest.
    this.#retryAt = this.#now() + ceiling / 2 + (ceiling / 2) * this.#random();
    this.#report(new Error(message));
    return 'retry';
  }

  #report(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.#lastError = error.message;
    if (!this.#onError) return;
    try {
      this.#onError(error);
    } catch {
      // A throwing logger must not break reporting.
    }
  }
}
