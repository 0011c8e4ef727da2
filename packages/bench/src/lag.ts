import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Session } from '@sessioncache/sdk';
import type { SessionCacheContender } from './contenders/sessioncache';
import { LatencyHistogram } from './histogram';
import { writePatch } from './payload';
import { runRound } from './runner';
import { log, type Suite } from './suite';
import { MIXED } from './workloads';
import { createRng, ZipfSampler } from './zipf';

/** Distribution of one lag measurement, in ms. */
export interface LagDistribution {
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Samples whose invalidation was seen before the writer had its acknowledgement (counted as 0). */
  beforeAck: number;
  /** Samples where B served the old version after having dropped it (must be 0). */
  stale: number;
  /** Samples given up after 1 s without B's entry going away. */
  timedOut: number;
}

/** What the lag section reports. */
export interface LagResult {
  idle: LagDistribution;
  loaded: LagDistribution;
  /** The SDK's own measure (stats().nearCache.invalidationLag of the writer), seconds. */
  sdkOwnWrites: { count: number; p50: number | null; p90: number | null; p99: number | null };
  /** Throughput of the background load while the loaded samples were taken. */
  loadOpsPerSec: number;
  /** Event-loop delay of this process during the loaded samples (ms): the floor of any in-process lag. */
  loadEventLoopDelayMs: { p50: number; p99: number };
}

const GIVE_UP_MS = 1000;

/**
 * Cross-instance invalidation lag: instance A updates a session that instance B holds in its
 * near cache; the lag is from A's acknowledgement to B no longer serving its cached copy. B is
 * polled with `get` (a hit returns the very object it cached, at no Redis cost) and the first
 * call that returns anything else marks the moment B's entry was gone; that call, a miss, also
 * checks that B then reads the new version.
 */
async function sample(a: SessionCacheContender, b: SessionCacheContender, ids: readonly string[], pickIndex: () => number, count: number, seq: { n: number }): Promise<LagDistribution> {
  const hist = new LatencyHistogram();
  let beforeAck = 0;
  let stale = 0;
  let timedOut = 0;
  for (let s = 0; s < count; s++) {
    const id = ids[pickIndex()]!;
    await b.cache.get(id);
    const old = await b.cache.get(id);
    if (!old || (await b.cache.get(id)) !== old) continue; // not cached (evicted meanwhile): skip
    const poll = (async (): Promise<{ at: number; value: Session | null } | undefined> => {
      const until = performance.now() + GIVE_UP_MS;
      while (performance.now() < until) {
        const t = performance.now();
        const cur = await b.cache.get(id);
        if (cur !== old) return { at: t, value: cur };
        await yieldToEventLoop();
      }
      return undefined;
    })();
    const written = await a.cache.update(id, writePatch(seq.n++));
    const ackAt = performance.now();
    const seen = await poll;
    if (!seen) {
      timedOut++;
      continue;
    }
    const seenAt = seen.at;
    if (seenAt < ackAt) beforeAck++;
    if (!seen.value || seen.value.version < written.version) stale++;
    hist.record(Math.max(0, seenAt - ackAt) * 1e6);
  }
  return {
    samples: hist.count,
    p50: hist.quantile(0.5) / 1e6,
    p90: hist.quantile(0.9) / 1e6,
    p99: hist.quantile(0.99) / 1e6,
    max: hist.max / 1e6,
    beforeAck,
    stale,
    timedOut,
  };
}

/**
 * Runs the lag samples idle, then again while a third instance runs the mixed workload on the
 * same key prefix (its hot half; samples use the cold half, so the load never writes the
 * sampled sessions).
 */
export async function runLag(suite: Suite): Promise<LagResult> {
  const { opts } = suite;
  const n = opts.sessions;
  const pop = await suite.sharedPopulation(n);
  const make = (id: string): SessionCacheContender => suite.instanceOn(pop, n, id);
  const [a, b, load] = [make('lag-writer'), make('lag-reader'), make('lag-load')];
  try {
    for (const c of [a, b, load]) await c.open();
    const rng = createRng(opts.seed + 7);
    const half = Math.floor(n / 2);
    const cold = (): number => half + Math.floor(rng() * (n - half));
    const seq = { n: Date.now() };
    log(`lag: ${opts.lagSamples} samples idle`);
    const idle = await sample(a, b, pop.ids, cold, opts.lagSamples, seq);
    log(`lag: ${opts.lagSamples} samples under load`);
    const z = new ZipfSampler(half, opts.zipfS, rng);
    await suite.prime(load, Math.min(half, 5000));
    let loading = true;
    let loadOps = 0;
    let loadMs = 0;
    const background = (async () => {
      while (loading) {
        const r = await runRound({ mix: MIXED, pick: () => z.next(), rng, durationMs: 250, inflight: opts.inflight, contenders: [load] });
        loadOps += r.ops;
        loadMs += r.elapsedMs;
      }
    })();
    let loaded;
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    try {
      loaded = await sample(a, b, pop.ids, cold, opts.lagSamples, seq);
    } finally {
      delay.disable();
      loading = false;
      await background;
    }
    const own = a.cache.stats().nearCache.invalidationLag;
    return {
      idle,
      loaded,
      sdkOwnWrites: { count: own.count, p50: own.p50, p90: own.p90, p99: own.p99 },
      loadOpsPerSec: (loadOps / loadMs) * 1000,
      loadEventLoopDelayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6 },
    };
  } finally {
    for (const c of [a, b, load]) await c.close();
  }
}
