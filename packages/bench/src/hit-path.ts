import { createHash, randomBytes } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { isSessionId } from '@sessioncache/sdk';
import { LRUCache } from 'lru-cache';
import type { Contender } from './contenders/contender';
import { spread, type Spread } from './summary';
import { SAFE_HITS } from './workloads';
import { createRng, ZipfSampler } from './zipf';

/** ns per hit of one contender in the tight loop, over rounds. */
export interface TightLoopResult {
  id: string;
  label: string;
  nsPerOp: Spread;
}

/** Cost of one step a near-cache hit may take, measured alone (ns, median of rounds). */
export interface AnatomyRow {
  step: string;
  nsPerOp: Spread;
}

/** What the hit-path section adds to its workload table. */
export interface HitPathResult {
  tightLoop: TightLoopResult[];
  anatomy: AnatomyRow[];
}

/** ns per hit of the cheapest safe-hit baseline in the tight loop (Infinity when none ran). */
export function cheapestSafeHitNs(h: HitPathResult): number {
  return Math.min(...h.tightLoop.filter((t) => (SAFE_HITS as readonly string[]).includes(t.id)).map((t) => t.nsPerOp.median).filter(Number.isFinite));
}

const CHUNK = 10_000;

/**
 * Sequential `await get(i)` over a precomputed Zipf stream: no latency timing per operation and
 * one call in flight, so what is measured is the cost of a hit itself (plus the one promise
 * every store's async get pays). Yields to the event loop every {@link CHUNK} operations so
 * the near cache's tracker connections keep being served.
 */
async function tightLoop(c: Contender, stream: Int32Array): Promise<number> {
  const t0 = performance.now();
  for (let base = 0; base < stream.length; base += CHUNK) {
    const end = Math.min(stream.length, base + CHUNK);
    for (let k = base; k < end; k++) await c.get(stream[k]!);
    await yieldToEventLoop();
  }
  return ((performance.now() - t0) * 1e6) / stream.length;
}

/** Median over `rounds` of the ns per call of `fn` run `n` times in a synchronous loop. */
function timeSync(rounds: number, n: number, fn: (k: number) => unknown): Spread {
  const out: number[] = [];
  let sink = 0;
  for (let r = 0; r < rounds + 1; r++) {
    const t0 = performance.now();
    for (let k = 0; k < n; k++) if (fn(k)) sink++;
    const ns = ((performance.now() - t0) * 1e6) / n;
    if (r > 0) out.push(ns); // the first pass warms the JIT
  }
  if (sink < 0) throw new Error('unreachable');
  return spread(out);
}

/**
 * The steps a hit may take, measured one by one, to show where a near-cache hit's time goes:
 * the id format check, a SHA-256 of the id's secret (sessioncache's Redis key; a hit that
 * computes it pays more than all the rest), a clock read (the SDK times every operation), an
 * lru-cache get, and an async call.
 */
async function anatomy(rounds: number, n: number): Promise<AnatomyRow[]> {
  const ids = Array.from({ length: 1024 }, () => `${randomBytes(8).toString('base64url')}.${randomBytes(32).toString('base64url')}`);
  const lru = new LRUCache<string, object>({ max: 2048 });
  for (const id of ids) lru.set(id, Object.freeze({ id }));
  const rows: AnatomyRow[] = [
    { step: 'id format check (isSessionId: length + regex)', nsPerOp: timeSync(rounds, n, (k) => isSessionId(ids[k & 1023])) },
    {
      step: "SHA-256 of the id's secret, base64url (the session's Redis key: a miss or a write needs it)",
      nsPerOp: timeSync(rounds, n / 4, (k) => createHash('sha256').update(ids[k & 1023]!.slice(12)).digest().subarray(0, 24).toString('base64url')),
    },
    { step: 'performance.now()', nsPerOp: timeSync(rounds, n, () => performance.now()) },
    { step: 'lru-cache get (string key, 1,024 entries)', nsPerOp: timeSync(rounds, n, (k) => lru.get(ids[k & 1023]!)) },
  ];
  const asyncGet = async (k: number): Promise<unknown> => lru.get(ids[k & 1023]!);
  const out: number[] = [];
  for (let r = 0; r < rounds + 1; r++) {
    const t0 = performance.now();
    for (let k = 0; k < n; k++) await asyncGet(k);
    if (r > 0) out.push(((performance.now() - t0) * 1e6) / n);
  }
  rows.push({ step: 'await of an async function returning an lru-cache get', nsPerOp: spread(out) });
  return rows;
}

/** Runs the tight loop over the contenders (alternating, `rounds` times) and the anatomy. */
export async function runHitPath(contenders: readonly Contender[], sessions: number, zipfS: number, ops: number, rounds: number, seed: number): Promise<HitPathResult> {
  const z = new ZipfSampler(sessions, zipfS, createRng(seed));
  const stream = new Int32Array(ops);
  for (let k = 0; k < ops; k++) stream[k] = z.next();
  const samples = contenders.map(() => [] as number[]);
  for (const c of contenders) await tightLoop(c, stream.subarray(0, Math.min(ops, 20_000))); // warm the JIT
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < contenders.length; k++) samples[k]!.push(await tightLoop(contenders[k]!, stream));
  }
  return {
    tightLoop: contenders.map((c, k) => ({ id: c.id, label: c.label, nsPerOp: spread(samples[k]!) })),
    anatomy: await anatomy(rounds, 200_000),
  };
}
