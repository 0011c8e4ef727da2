import { readFileSync } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Contender } from './contenders/contender';
import { LatencyHistogram } from './histogram';
import type { Rng } from './zipf';

/** Fractions of each operation (they must add up to 1). */
export interface OpMix {
  get: number;
  touch: number;
  update: number;
  create?: number;
}

/** One measured round of one contender on one workload. */
export interface RoundResult {
  ops: number;
  /** Operations by kind (get, touch, update, create). */
  opCounts: { get: number; touch: number; update: number; create: number };
  errors: number;
  /** Wall time of the round, ms. */
  elapsedMs: number;
  opsPerSec: number;
  /** Latency quantiles of all operations, ns. */
  p50: number;
  p99: number;
  mean: number;
  /** Node process CPU (user + system) per operation, µs: this process only. */
  cpuUsPerOp: number;
  /** redis-server CPU (all nodes) per operation, µs; NaN when it cannot be read. */
  redisCpuUsPerOp: number;
  /** Local-cache hit rate over the round, NaN when the contender has no cache. */
  hitRate: number;
  /** First error message seen, if any. */
  firstError?: string;
}

/** How a round is driven. */
export interface RoundSpec {
  mix: OpMix;
  /** Picks the session index of the next operation. */
  pick: () => number;
  rng: Rng;
  durationMs: number;
  /** Operations in flight (independent async workers). */
  inflight: number;
  /** Worker w drives contender `contenders[w % contenders.length]` (several instances). */
  contenders: readonly Contender[];
  /** Pids of the redis-server processes, to charge their CPU to the round. */
  redisPids?: readonly number[];
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** Total CPU (user + system) of the given pids in µs, or NaN when /proc cannot be read. */
export function processCpuUs(pids: readonly number[] | undefined): number {
  if (!pids || pids.length === 0) return NaN;
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name (which may contain spaces) start after the last ')'.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
    } catch {
      return NaN;
    }
  }
  return (ticks / CLOCK_TICKS) * 1e6;
}

/**
 * Runs one round: `inflight` async workers each loop "pick an operation and a session, await
 * it, record its latency" until the deadline. Workers yield to the event loop at least once a
 * millisecond: a worker whose operations all complete synchronously (a near-cache hit) would
 * otherwise chain microtasks forever and starve socket reads and timers, which no server does
 * (each request is its own I/O event).
 */
export async function runRound(spec: RoundSpec): Promise<RoundResult> {
  const { mix, pick, rng, durationMs, inflight, contenders } = spec;
  const hist = new LatencyHistogram();
  const pGet = mix.get;
  const pTouch = pGet + mix.touch;
  const pUpdate = pTouch + mix.update;
  let ops = 0;
  const opCounts = { get: 0, touch: 0, update: 0, create: 0 };
  let errors = 0;
  let firstError: string | undefined;
  let writeSeq = Date.now();
  const before = contenders.map((c) => c.counters?.());
  const redisBefore = processCpuUs(spec.redisPids);
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + durationMs;

  const worker = async (w: number): Promise<void> => {
    const c = contenders[w % contenders.length]!;
    let lastYield = performance.now();
    while (true) {
      const r = rng();
      const i = pick();
      const start = performance.now();
      try {
        if (r < pGet) {
          opCounts.get++;
          await c.get(i);
        } else if (r < pTouch) {
          opCounts.touch++;
          await c.touch(i);
        } else if (r < pUpdate) {
          opCounts.update++;
          await c.update(i, writeSeq++);
        } else {
          opCounts.create++;
          await c.create(writeSeq++);
        }
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      }
      const end = performance.now();
      hist.record((end - start) * 1e6);
      ops++;
      if (end >= deadline) return;
      if (end - lastYield >= 1) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
    }
  };
  await Promise.all(Array.from({ length: inflight }, (_, w) => worker(w)));

  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpuBefore);
  const redisCpu = processCpuUs(spec.redisPids) - redisBefore;
  let hits = 0;
  let misses = 0;
  let hasCache = false;
  contenders.forEach((c, k) => {
    const a = before[k];
    const b = c.counters?.();
    if (!a || !b) return;
    hasCache = true;
    hits += b.hits - a.hits;
    misses += b.misses - a.misses;
  });
  return {
    ops,
    opCounts,
    errors,
    elapsedMs,
    opsPerSec: (ops / elapsedMs) * 1000,
    p50: hist.quantile(0.5),
    p99: hist.quantile(0.99),
    mean: hist.mean(),
    cpuUsPerOp: (cpu.user + cpu.system) / ops,
    redisCpuUsPerOp: redisCpu / ops,
    hitRate: hasCache && hits + misses > 0 ? hits / (hits + misses) : NaN,
    ...(firstError !== undefined ? { firstError } : {}),
  };
}
