/**
 * The near cache's invalidation connections (`sessioncache:invalidations`, the RESP2
 * subscriber, and `sessioncache:tracking`, the connection that turned CLIENT TRACKING on) are
 * killed again and again on every master while instance A writes and instance B reads through
 * its near cache. Redis drops the invalidations of a dead connection silently, so this is where
 * a near cache serves stale sessions if it does not stop trusting the node (nearcache.md §3,
 * pitfalls 2 and 3).
 *
 * Stale, precisely: A is the only writer of each session and writes a counter n = 1, 2, 3...
 * one write at a time; `ackedAt[n]` is when A's update to n resolved. A read R by B that starts
 * at t0 and returns n_R is stale if some later value was acknowledged before R started
 * (n_R < acked(t0)); its staleness is t0 - ackedAt[n_R + 1], how long the newer value had
 * been acknowledged when R began. The near cache promises a bound on staleness, not zero: the
 * invalidation of a write reaches B a little after A's acknowledgement (the invalidation lag),
 * and a lost connection is noticed when its socket closes, or at the latest when a PING every
 * 1 s goes unanswered for 1 s. So: no read may be stale by more than STALENESS_BOUND_MS
 * (2 s of PING detection plus event-loop slack), far below maxTtlMs (60 s), which is what a
 * near cache that missed the loss would show.
 *
 * Runs on the shared integration cluster (connections are killed, nodes are not).
 * Figures: .sessioncache/reliability/figures.json (`invalidation-loss`).
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import Redis from 'ioredis';
import type { ConnectOptions } from '@sessioncache/sdk';
import { connect, masters, parseClientList, track, useSharedCluster } from '../../packages/sdk/src/test-support/harness';
import { sleep, waitFor } from './support/cluster';
import { quantile, recordFigures, round } from './support/figures';
import { ProcessWatch } from './support/process-watch';

const DURATION_MS = 8000;
const KILL_EVERY_MS = 200;
const SESSIONS = 300;
/** Writes per second by A: each session is rewritten every ~3 s, so a missed loss would show. */
const WRITES_PER_SECOND = 100;
const STALENESS_BOUND_MS = 2000 + 500;

interface Counter {
  readonly id: string;
  acked: number;
  attempted: number;
  /** ackedAt[n]: performance.now() when the write of n resolved (a hole where it failed). */
  readonly ackedAt: number[];
  busy: boolean;
}

useSharedCluster();

/** One plain connection per master of the shared cluster (the killer's), closed after the test. */
async function masterConnections(): Promise<Redis[]> {
  return (await masters()).map((m) => {
    const r = new Redis(m.port, m.host);
    track({ close: () => r.disconnect() });
    return r;
  });
}

/** Kills the invalidation connections named `name` (or every pub/sub client) on one master. */
async function killInvalidationConnections(r: Redis, how: 'invalidations' | 'tracking' | 'both' | 'pubsub'): Promise<number> {
  if (how === 'pubsub') return Number(await r.client('KILL', 'TYPE', 'pubsub'));
  const names = how === 'both' ? ['sessioncache:invalidations', 'sessioncache:tracking'] : [`sessioncache:${how}`];
  let killed = 0;
  for (const c of parseClientList(String(await r.client('LIST')))) {
    if (c.id && c.name && names.includes(c.name)) killed += Number(await r.client('KILL', 'ID', c.id).catch(() => 0));
  }
  return killed;
}

interface ScenarioResult {
  figures: Record<string, unknown>;
  stale: number[];
  reads: number;
  writes: number;
  kills: number;
  readErrors: number;
  phantoms: number;
  diverged: number;
  hitRate: number;
  trustLost: number;
  rejections: unknown[];
}

/**
 * A writes counters, B reads them through its near cache (options `near`), a killer kills
 * invalidation connections every KILL_EVERY_MS when `kill` is set. Returns what the checker saw.
 */
async function runScenario(near: ConnectOptions['nearCache'], kill: boolean, durationMs: number): Promise<ScenarioResult> {
  const watch = new ProcessWatch();
  const admins = await masterConnections();
  const a = await connect();
  const b = await connect({ nearCache: near });
  try {
    const counters: Counter[] = [];
    for (let k = 0; k < SESSIONS; k += 50) {
      const created = await Promise.all(Array.from({ length: 50 }, () => a.create({ data: { n: 0 } })));
      for (const s of created) counters.push({ id: s.id, acked: 0, attempted: 0, ackedAt: [performance.now()], busy: false });
    }
    let stop = false;
    const stale: number[] = [];
    let reads = 0;
    let readErrors = 0;
    let phantoms = 0;
    let writes = 0;
    let writeErrors = 0;
    let kills = 0;

    const writer = async (): Promise<void> => {
      while (!stop) {
        const c = counters[Math.floor(Math.random() * counters.length)]!;
        if (!c.busy) {
          c.busy = true;
          const next = ++c.attempted;
          try {
            await a.update(c.id, { n: next });
            c.acked = next;
            c.ackedAt[next] = performance.now();
            writes++;
          } catch {
            writeErrors++;
          } finally {
            c.busy = false;
          }
        }
        await sleep(1000 / WRITES_PER_SECOND);
      }
    };
    const reader = async (): Promise<void> => {
      while (!stop) {
        const c = counters[Math.floor(Math.random() * counters.length)]!;
        const t0 = performance.now();
        const ackedAtStart = c.acked;
        try {
          const s = await b.get(c.id);
          const n = s!.data.n as number;
          reads++;
          if (n > c.attempted) phantoms++;
          // Stale: a newer value was acknowledged before the read started; how long before?
          if (n < ackedAtStart) {
            let k = n + 1;
            while (c.ackedAt[k] === undefined) k++; // a failed write has no acknowledgement
            stale.push(t0 - c.ackedAt[k]!);
          }
        } catch {
          readErrors++;
        }
        await yieldToLoop();
      }
    };
    const killer = async (): Promise<void> => {
      const ways = ['invalidations', 'tracking', 'both', 'pubsub'] as const;
      let k = 0;
      while (!stop) {
        await sleep(KILL_EVERY_MS);
        const r = admins[k % admins.length]!;
        kills += await killInvalidationConnections(r, ways[k % ways.length]!).catch(() => 0);
        k++;
      }
    };
    const running = [writer(), writer(), reader(), reader(), reader(), reader(), ...(kill ? [killer()] : [])];
    await sleep(durationMs);
    stop = true;
    await Promise.all(running);

    // Once the kills stop and tracking is armed again, B must converge to A's values.
    if (near?.invalidation !== 'none') {
      await waitFor('tracking re-armed on every master', () => {
        const t = b.stats().nearCache.trackedNodes;
        return t.total > 0 && t.armed === t.total;
      });
    }
    await sleep(near?.invalidation === 'none' ? (near.fallbackTtlMs ?? 1000) + 100 : 100);
    const final = await b.getMany(counters.map((c) => c.id));
    const diverged = counters.filter((c, i) => {
      const n = final[i]?.data.n;
      return n !== c.acked && n !== c.attempted;
    }).length;

    const st = b.stats().nearCache;
    stale.sort((x, y) => x - y);
    const lag = a.stats().nearCache.invalidationLag;
    return {
      stale,
      reads,
      writes,
      kills,
      readErrors,
      phantoms,
      diverged,
      hitRate: st.hitRate,
      trustLost: st.flushes.subscriber_lost + st.flushes.connection_lost,
      rejections: watch.rejections,
      figures: {
        durationMs,
        sessions: SESSIONS,
        connectionsKilled: kills,
        reads,
        readErrors,
        writes,
        writeErrors,
        hitRate: round(st.hitRate, 3),
        flushes: st.flushes,
        staleReads: stale.length,
        stalenessMs: { p50: round(quantile(stale, 0.5)), p99: round(quantile(stale, 0.99)), max: round(stale[stale.length - 1] ?? 0) },
        staleOver100ms: stale.filter((x) => x > 100).length,
        invalidationLagMs: { p50: round((lag.p50 ?? 0) * 1000, 2), p99: round((lag.p99 ?? 0) * 1000, 2) },
        boundMs: STALENESS_BOUND_MS,
      },
    };
  } finally {
    watch.stop();
  }
}

describe('invalidation connections killed repeatedly under load', () => {
  it(`no read by B is stale by more than ${STALENESS_BOUND_MS} ms, and B converges once the kills stop`, async () => {
    const r = await runScenario({}, true, DURATION_MS);
    recordFigures('invalidation-loss', r.figures);
    expect(r.kills).toBeGreaterThan(DURATION_MS / KILL_EVERY_MS / 2);
    expect(r.reads).toBeGreaterThan(5000);
    expect(r.writes).toBeGreaterThan(200);
    // The near cache was really in use, and really lost trust again and again.
    expect(r.hitRate).toBeGreaterThan(0.5);
    expect(r.trustLost).toBeGreaterThan(10);
    expect(r.phantoms).toBe(0);
    expect(r.stale.filter((x) => x > STALENESS_BOUND_MS)).toEqual([]);
    expect(r.diverged).toBe(0);
    expect(r.readErrors).toBe(0);
    expect(r.rejections).toEqual([]);
  }, 60_000);

  it('control: the same checker flags a near cache that keeps entries past the bound (TTL-only, 4 s)', async () => {
    // Without invalidation, an entry lives fallbackTtlMs whatever A writes: stale reads far
    // past the bound are expected, and the checker must see them (else it could not fail).
    const r = await runScenario({ invalidation: 'none', fallbackTtlMs: 4000 }, false, 6000);
    recordFigures('invalidation-loss/control-ttl-only', r.figures);
    expect(r.stale.filter((x) => x > STALENESS_BOUND_MS).length).toBeGreaterThan(0);
    expect(r.phantoms).toBe(0);
    expect(r.diverged).toBe(0);
  }, 60_000);
});
