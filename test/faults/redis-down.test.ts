/**
 * Redis down at start-up, down during operation (every node of the cluster killed), and back.
 * What a user must see: a clear, typed error at once (no hang, no crash), memory that stays
 * flat however hard the application keeps calling, and automatic recovery without
 * reconnecting by hand once Redis is back.
 *
 * Figures: .sessioncache/reliability/figures.json (`redis-down/...`), see docs/reliability.md.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { StandaloneRedis, type DevCluster } from '@sessioncache/devcluster';
import { RedisUnavailableError, SessionCache, SessionCacheError, type ConnectOptions } from '@sessioncache/sdk';
import { freePort, sleep, startFaultCluster, waitFor } from './support/cluster';
import { quantile, recordFigures, round } from './support/figures';
import { memoryMiB, ProcessWatch } from './support/process-watch';

const CONNECT_TIMEOUT_MS = 1000;
const COMMAND_TIMEOUT_MS = 300;
/** Slack over the configured timeouts before "fails fast" is considered broken. */
const SLACK_MS = 1000;

/** Sockets and timers the process holds right now, by type (Node's own accounting). */
function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

describe('Redis down at start-up', () => {
  it.each([
    ['a cluster', async () => ({ cluster: [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`] })],
    ['a standalone Redis', async () => ({ standalone: `127.0.0.1:${await freePort()}` })],
  ])('connect to %s that is down rejects with RedisUnavailableError within connectTimeoutMs, and leaks nothing', async (_, target) => {
    const watch = new ProcessWatch();
    try {
      const redis = (await target()) as ConnectOptions['redis'];
      const baseline = resources();
      const took: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const err = await SessionCache.connect({ redis, connectTimeoutMs: CONNECT_TIMEOUT_MS }).then(
          (c) => c.close().then(() => new Error('connected to nothing?')),
          (e: unknown) => e,
        );
        took.push(performance.now() - t0);
        expect(err).toBeInstanceOf(RedisUnavailableError);
        expect((err as RedisUnavailableError).code).toBe('SC_ERR_REDIS_UNAVAILABLE');
        expect((err as Error).message).toMatch(/not ready after 1000 ms/);
      }
      for (const ms of took) expect(ms).toBeLessThan(CONNECT_TIMEOUT_MS + SLACK_MS);
      // Every failed connect closed its sockets and timers: nothing accumulates.
      await waitFor('resources back to the baseline', () => {
        const now = resources();
        return (now.TCPWrap ?? 0) <= (baseline.TCPWrap ?? 0) && (now.Timeout ?? 0) <= (baseline.Timeout ?? 0) + 1;
      }, 3000).catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify({ baseline, now: resources() })}`);
      });
      recordFigures(`redis-down/start-up ${'cluster' in redis ? 'cluster' : 'standalone'}`, {
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
        rejectedAfterMs: took.map((x) => round(x)),
      });
      expect(watch.rejections).toEqual([]);
    } finally {
      watch.stop();
    }
  });
});

/**
 * Drives `workers` concurrent callers for `ms` against `cache` (gets of `ids`, updates, creates),
 * recording each call's result code and how long it took to settle.
 */
async function hammer(cache: SessionCache, ids: readonly string[], workers: number, ms: number): Promise<{ codes: Record<string, number>; settleMs: number[]; untyped: unknown[]; maxInFlight: number }> {
  const codes: Record<string, number> = {};
  const settleMs: number[] = [];
  const untyped: unknown[] = [];
  let maxInFlight = 0;
  const until = performance.now() + ms;
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; performance.now() < until; i++) {
      const id = ids[(w + i) % ids.length]!;
      const op = i % 3;
      const t0 = performance.now();
      await (op === 0 ? cache.get(id) : op === 1 ? cache.update(id, { i }) : cache.create({ data: { i } })).then(
        () => {
          codes.ok = (codes.ok ?? 0) + 1;
        },
        (e: unknown) => {
          if (e instanceof SessionCacheError) codes[e.code] = (codes[e.code] ?? 0) + 1;
          else untyped.push(e);
        },
      );
      if (settleMs.length < 20_000) settleMs.push(performance.now() - t0);
      maxInFlight = Math.max(maxInFlight, cache.stats().inFlight);
      await yieldToLoop();
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return { codes, settleMs: settleMs.sort((a, b) => a - b), untyped, maxInFlight };
}

describe('every node of the cluster killed during operation, then restarted', () => {
  let cluster: DevCluster | undefined;
  const open: SessionCache[] = [];
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close().catch(() => undefined)));
    await cluster?.stop();
  });

  it('answers typed errors at once, keeps memory flat while hammered, and recovers by itself', async () => {
    cluster = await startFaultCluster(1000);
    const watch = new ProcessWatch();
    try {
      const cache = await SessionCache.connect({ redis: { cluster: cluster.seedNodes }, commandTimeoutMs: COMMAND_TIMEOUT_MS, maxInFlight: 1000 });
      open.push(cache);
      const sessions = await Promise.all(Array.from({ length: 60 }, (_, i) => cache.create({ data: { i } })));
      const ids = sessions.map((s) => s.id);
      await cache.getMany(ids);
      await cache.getMany(ids); // now served from memory
      expect(cache.stats().nearCache.entries).toBe(ids.length);

      // Warm-up at the same intensity while Redis is up, so the baseline includes JIT and pools.
      await hammer(cache, ids, 200, 1000);
      const memUp = memoryMiB();

      const nodes = await cluster.status();
      await Promise.all(nodes.map((n) => cluster!.kill(n)));
      const downAt = performance.now();
      await waitFor('the near cache drops everything it read from the dead nodes', () => cache.stats().nearCache.entries === 0, 5000);
      const hits = cache.stats().nearCache.hits;

      const down = await hammer(cache, ids, 200, 4000);
      const memDown = memoryMiB();
      const hitsWhileDown = cache.stats().nearCache.hits - hits;
      const calls = Object.values(down.codes).reduce((a, b) => a + b, 0);

      await Promise.all(nodes.map((n) => cluster!.restart(n)));
      const backAt = performance.now();
      // No reconnect by hand: the same instance serves again, and caches again.
      const fresh = await waitFor('a create succeeds on the same instance', () => cache.create({ data: { back: true } }).catch(() => undefined), 20_000, 50);
      const recoveredMs = performance.now() - backAt;
      expect((await cache.get(fresh.id))?.data.back).toBe(true);
      // Without persistence the old sessions are gone: they read as null, not as errors.
      expect(await cache.get(ids[0]!)).toBeNull();
      await waitFor('near-cache tracking re-armed on every master', () => {
        const t = cache.stats().nearCache.trackedNodes;
        return t.total === 3 && t.armed === 3;
      }, 20_000);
      await cache.get(fresh.id);
      const h = cache.stats().nearCache.hits;
      await cache.get(fresh.id);
      expect(cache.stats().nearCache.hits).toBe(h + 1);

      recordFigures('redis-down/cluster killed and restarted', {
        commandTimeoutMs: COMMAND_TIMEOUT_MS,
        callsWhileDown: calls,
        secondsDown: round((backAt - downAt) / 1000),
        outcomesWhileDown: down.codes,
        settleWhileDownMs: { p50: round(quantile(down.settleMs, 0.5)), p99: round(quantile(down.settleMs, 0.99)), max: round(down.settleMs[down.settleMs.length - 1] ?? 0) },
        maxInFlight: down.maxInFlight,
        heapUsedMiB: { up: round(memUp.heapUsed), down: round(memDown.heapUsed) },
        rssMiB: { up: round(memUp.rss), down: round(memDown.rss) },
        recoveredAfterRestartMs: round(recoveredMs),
      });

      expect(down.untyped).toEqual([]);
      expect(calls).toBeGreaterThan(1000);
      expect(Object.keys(down.codes).filter((c) => c !== 'SC_ERR_REDIS_UNAVAILABLE' && c !== 'SC_ERR_REDIS_TIMEOUT')).toEqual([]);
      expect(quantile(down.settleMs, 0.99)).toBeLessThan(COMMAND_TIMEOUT_MS + SLACK_MS);
      expect(hitsWhileDown).toBe(0);
      expect(down.maxInFlight).toBeLessThanOrEqual(1000);
      expect(cache.stats().inFlight).toBe(0);
      // Flat: thousands of failed calls leave no more than a few MiB behind.
      expect(memDown.heapUsed - memUp.heapUsed).toBeLessThan(16);
      expect(watch.rejections).toEqual([]);
    } finally {
      watch.stop();
    }
  }, 120_000);
});

describe('a standalone Redis killed and restarted', () => {
  it('fails with RedisUnavailableError while down and serves again once back', async () => {
    const redis = await StandaloneRedis.start();
    let cache: SessionCache | undefined;
    try {
      cache = await SessionCache.connect({ redis: { standalone: redis.address }, commandTimeoutMs: COMMAND_TIMEOUT_MS });
      const s = await cache.create({ data: { v: 1 } });
      await redis.signal('SIGKILL');
      await expect(cache.get(s.id)).rejects.toBeInstanceOf(RedisUnavailableError);
      await expect(cache.update(s.id, { v: 2 })).rejects.toMatchObject({ code: 'SC_ERR_REDIS_UNAVAILABLE' });
      await expect(cache.create()).rejects.toMatchObject({ code: 'SC_ERR_REDIS_UNAVAILABLE' });
      await sleep(200);
      await redis.restart();
      const back = await waitFor('a create succeeds after the restart', () => cache!.create({ data: { v: 3 } }).catch(() => undefined), 10_000, 50);
      expect((await cache.get(back.id))?.data.v).toBe(3);
      await waitFor('tracking re-armed', () => cache!.stats().nearCache.trackedNodes.armed === 1);
    } finally {
      await cache?.close();
      await redis.stop();
    }
  });
});
