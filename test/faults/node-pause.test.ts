/**
 * A master frozen with SIGSTOP (its sockets stay open, it answers nothing: what a long stall,
 * a stuck VM or a black-holed network looks like) for longer than commandTimeoutMs but
 * shorter than cluster-node-timeout, so no failover happens.
 *
 * Calls to its shard must fail fast with typed errors while calls to the other shards go on,
 * near caches must stop trusting it, everything must recover after SIGCONT, and hammering the
 * frozen shard must not pile up work without bound. The scenario runs once (beforeAll); each
 * `it` checks one promise.
 *
 * Figures: .sessioncache/reliability/figures.json (`node-pause`), see docs/reliability.md.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { DevCluster, DevClusterNode } from '@sessioncache/devcluster';
import { SessionCache, SessionCacheError, type ConnectOptions, type Session } from '@sessioncache/sdk';
import { ownerOf, sleep, startFaultCluster, waitFor } from './support/cluster';
import { quantile, recordFigures, round } from './support/figures';
import { memoryMiB, ProcessWatch } from './support/process-watch';

/** Long enough that the pause never triggers a failover. */
const NODE_TIMEOUT_MS = 6000;
const PAUSE_MS = 4000;
const COMMAND_TIMEOUT_MS = 300;
const MAX_IN_FLIGHT = 500;
/** "Fail fast": every call settles within commandTimeoutMs plus this slack (a correctness bound). */
const SETTLE_SLACK_MS = 700;
/** The near cache PINGs each master every 1 s and gives up after 1 s without an answer. */
const NEAR_CACHE_DETECTION_BOUND_MS = 2000 + 1000;

/** Commands waiting for a reply in the client's per-node queues (ioredis internals, read only). */
function pendingCommands(cache: SessionCache): number {
  const client = cache.redisClient as unknown as { nodes?: () => Array<{ commandQueue: { length: number } }> };
  return (client.nodes?.() ?? []).reduce((n, node) => n + node.commandQueue.length, 0);
}

interface Outcome {
  probeCodes: Record<string, number>;
  probes: number;
  settleMs: number[];
  healthyOk: number;
  healthyTried: number;
  hammerCodes: Record<string, number>;
  untyped: unknown[];
  maxSdkInFlight: number;
  maxPendingCommands: number;
  pendingAfterRecovery: number;
  nearCacheDetectedMs: number;
  hitsOnFrozen: number;
  recovered: { reads: boolean; writes: boolean; tracking: boolean; caching: boolean; afterResumeMs: number };
  rejections: unknown[];
}

describe('a master paused (SIGSTOP) longer than commandTimeoutMs, shorter than the node timeout', () => {
  let cluster: DevCluster | undefined;
  const open: SessionCache[] = [];
  let victim: DevClusterNode | undefined;
  let result: Outcome;

  async function connect(extra: Partial<ConnectOptions> = {}): Promise<SessionCache> {
    const c = await SessionCache.connect({ redis: { cluster: cluster!.seedNodes }, commandTimeoutMs: COMMAND_TIMEOUT_MS, ...extra });
    open.push(c);
    return c;
  }

  beforeAll(async () => {
    cluster = await startFaultCluster(NODE_TIMEOUT_MS);
    const watch = new ProcessWatch();
    try {
      const direct = await connect({ nearCache: { enabled: false }, maxInFlight: MAX_IN_FLIGHT });
      const cached = await connect();
      const sessions = await Promise.all(Array.from({ length: 90 }, (_, i) => direct.create({ data: { n: i } })));
      const masters = await cluster.masters();
      victim = masters[0]!;
      const onVictim = (s: Session): boolean => ownerOf(masters, s.id).port === victim!.port;
      const frozen = sessions.filter(onVictim);
      const healthy = sessions.filter((s) => !onVictim(s));
      for (const s of sessions) await cached.get(s.id);
      const lost = (): number => cached.stats().nearCache.flushes.subscriber_lost + cached.stats().nearCache.flushes.connection_lost;
      const lostBefore = lost();
      const memBefore = memoryMiB();

      await cluster.pause(victim);
      const pausedAt = performance.now();

      // 1. Reads and writes of the frozen shard, all at once.
      const settleMs: number[] = [];
      const probeCodes: Record<string, number> = {};
      const probes = frozen.slice(0, 4).flatMap((s) => [() => direct.get(s.id), () => direct.update(s.id, { n: -1 }), () => direct.touch(s.id, { force: true })]);
      await Promise.all(
        probes.map(async (call) => {
          const t0 = performance.now();
          const err = await call().then(
            () => undefined,
            (e: unknown) => e,
          );
          settleMs.push(performance.now() - t0);
          const code = err === undefined ? 'ok' : err instanceof SessionCacheError ? err.code : 'untyped';
          probeCodes[code] = (probeCodes[code] ?? 0) + 1;
        }),
      );

      // 2. The other shards meanwhile.
      let healthyOk = 0;
      for (const s of healthy.slice(0, 10)) {
        const ok = await direct
          .get(s.id)
          .then((r) => r?.data.n === s.data.n && direct.update(s.id, { during: 'pause' }).then(() => true))
          .catch(() => false);
        if (ok) healthyOk++;
      }

      // 3. Hammering the frozen shard with twice maxInFlight concurrent callers for 1.5 s.
      let maxSdkInFlight = 0;
      let maxPendingCommands = 0;
      const hammerCodes: Record<string, number> = {};
      const untyped: unknown[] = [];
      const sampler = setInterval(() => {
        maxSdkInFlight = Math.max(maxSdkInFlight, direct.stats().inFlight);
        maxPendingCommands = Math.max(maxPendingCommands, pendingCommands(direct));
      }, 10);
      const hammerUntil = performance.now() + 1500;
      const hammer = async (): Promise<void> => {
        while (performance.now() < hammerUntil) {
          const s = frozen[Math.floor(Math.random() * frozen.length)]!;
          await direct.get(s.id).then(
            () => undefined,
            (e: unknown) => {
              if (e instanceof SessionCacheError) hammerCodes[e.code] = (hammerCodes[e.code] ?? 0) + 1;
              else untyped.push(e);
            },
          );
          // Refusals come back without I/O: yield so timers and sockets keep running.
          await yieldToLoop();
        }
      };
      await Promise.all(Array.from({ length: 2 * MAX_IN_FLIGHT }, hammer));
      clearInterval(sampler);
      const memPaused = memoryMiB();

      // 4. The near cache notices (missed PINGs) and stops serving the frozen shard from memory.
      await waitFor('the near cache drops the frozen master', () => lost() > lostBefore, NEAR_CACHE_DETECTION_BOUND_MS).catch(() => undefined);
      const nearCacheDetectedMs = performance.now() - pausedAt;
      const hits = cached.stats().nearCache.hits;
      await Promise.all(frozen.map((s) => cached.get(s.id).catch(() => null)));
      const hitsOnFrozen = cached.stats().nearCache.hits - hits;

      const remaining = PAUSE_MS - (performance.now() - pausedAt);
      if (remaining > 0) await sleep(remaining);
      await cluster.resume(victim);
      const resumedAt = performance.now();

      // 5. Recovery.
      const probe = frozen[0]!;
      const recovered = { reads: false, writes: false, tracking: false, caching: false, afterResumeMs: NaN };
      recovered.reads = await waitFor('reads of the resumed shard succeed', async () => (await direct.get(probe.id))?.id === probe.id, 10_000).then(
        () => true,
        () => false,
      );
      recovered.afterResumeMs = performance.now() - resumedAt;
      recovered.writes = await direct.update(probe.id, { after: 'resume' }).then(
        () => true,
        () => false,
      );
      recovered.tracking = await waitFor('near-cache tracking re-armed on every master', () => {
        const t = cached.stats().nearCache.trackedNodes;
        return t.armed === t.total && t.total === 3;
      }).then(
        () => true,
        () => false,
      );
      recovered.caching = await waitFor('the resumed shard is cached again', async () => {
        const h = cached.stats().nearCache.hits;
        const s = await cached.get(probe.id);
        return s?.data.after === 'resume' && cached.stats().nearCache.hits > h;
      }).then(
        () => true,
        () => false,
      );

      result = {
        probeCodes,
        probes: probes.length,
        settleMs,
        healthyOk,
        healthyTried: Math.min(10, healthy.length),
        hammerCodes,
        untyped,
        maxSdkInFlight,
        maxPendingCommands,
        pendingAfterRecovery: pendingCommands(direct),
        nearCacheDetectedMs,
        hitsOnFrozen,
        recovered,
        rejections: watch.rejections,
      };
      const sorted = [...settleMs].sort((x, y) => x - y);
      recordFigures('node-pause', {
        nodeTimeoutMs: NODE_TIMEOUT_MS,
        pauseMs: PAUSE_MS,
        commandTimeoutMs: COMMAND_TIMEOUT_MS,
        maxInFlightOption: MAX_IN_FLIGHT,
        failFastSettleMs: { p50: round(quantile(sorted, 0.5)), max: round(sorted[sorted.length - 1] ?? NaN) },
        hammerOutcomes: hammerCodes,
        maxSdkInFlight,
        maxPendingClientCommands: maxPendingCommands,
        pendingClientCommandsAfterRecovery: result.pendingAfterRecovery,
        nearCacheDetectedMs: round(nearCacheDetectedMs),
        recoveredAfterResumeMs: round(recovered.afterResumeMs),
        heapMiB: { before: round(memBefore.heapUsed), paused: round(memPaused.heapUsed) },
      });
    } finally {
      watch.stop();
    }
  }, 120_000);

  afterAll(async () => {
    if (victim) await cluster?.resume(victim).catch(() => undefined);
    await Promise.all(open.map((c) => c.close().catch(() => undefined)));
    await cluster?.stop();
  });

  it('calls to the frozen shard fail fast, with RedisTimeoutError', () => {
    expect(result.probeCodes).toEqual({ SC_ERR_REDIS_TIMEOUT: result.probes });
    for (const ms of result.settleMs) expect(ms).toBeLessThan(COMMAND_TIMEOUT_MS + SETTLE_SLACK_MS);
  });

  it('the other shards keep serving reads and writes meanwhile', () => {
    expect(result.healthyTried).toBeGreaterThan(5);
    expect(result.healthyOk).toBe(result.healthyTried);
  });

  it('past maxInFlight, calls are refused at once with RedisUnavailableError; nothing untyped, no rejection escapes', () => {
    expect(result.untyped).toEqual([]);
    expect(result.rejections).toEqual([]);
    expect(Object.keys(result.hammerCodes).sort()).toEqual(['SC_ERR_REDIS_TIMEOUT', 'SC_ERR_REDIS_UNAVAILABLE']);
    expect(result.maxSdkInFlight).toBeLessThanOrEqual(MAX_IN_FLIGHT);
  });

  // A call that times out leaves its command in ioredis' queue for the frozen node (a reply can
  // only be matched in order). The SDK used to stop counting it at the timeout, so the commands
  // held in memory grew with load x outage length (2,500+ after 1.5 s here). maxInFlight now
  // counts each command until ioredis settles it.
  it('the commands held for the frozen node stay within maxInFlight, however long it is frozen', () => {
    expect(result.maxPendingCommands).toBeLessThanOrEqual(MAX_IN_FLIGHT + 20);
  });

  it('the near cache stops serving the frozen master within its PING bound', () => {
    expect(result.nearCacheDetectedMs).toBeLessThan(NEAR_CACHE_DETECTION_BOUND_MS);
    expect(result.hitsOnFrozen).toBe(0);
  });

  it('after SIGCONT: reads, writes, invalidation and caching all come back', () => {
    expect(result.recovered).toMatchObject({ reads: true, writes: true, tracking: true, caching: true });
    // Every command held for the frozen node was answered once it resumed: none left behind.
    expect(result.pendingAfterRecovery).toBe(0);
  });
});
