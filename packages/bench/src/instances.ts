import type { SessionCacheContender } from './contenders/sessioncache';
import { summarize, type ContenderResult, type WorkloadResult } from './results';
import { runRound, type RoundResult } from './runner';
import { spread } from './summary';
import { log, type Suite } from './suite';
import { MIXED } from './workloads';

/** Sessions each new instance reads (coldest first) before its warm-up: most of the Zipf mass. */
const PRIME_PER_INSTANCE = { full: 5_000, quick: 2_000 };

/**
 * Fan-out: 1 to 8 sessioncache instances in this process share one population (one key
 * prefix) and split the 64 operations in flight between them, as replicas behind a load
 * balancer do. With BCAST tracking every write reaches every instance, so the cost per
 * operation grows with the instance count, and each instance caches and misses on its own.
 *
 * Instance counts run one after the other (each count's instances are closed before the
 * next connect: idle instances on the prefix would otherwise receive, and charge to the
 * measured ones, every invalidation); rounds alternate only within one count.
 */
export async function runInstances(suite: Suite): Promise<WorkloadResult> {
  const { opts } = suite;
  const n = opts.sessions;
  const pop = await suite.sharedPopulation(n);
  const results: ContenderResult[] = [];
  for (const k of opts.instances) {
    const instances: SessionCacheContender[] = [];
    try {
      for (let j = 0; j < k; j++) {
        const c = suite.instanceOn(pop, n, `instance-${j}`, `instance ${j}`);
        await c.open();
        instances.push(c);
        await suite.prime(c, Math.min(n, PRIME_PER_INSTANCE[opts.quick ? 'quick' : 'full']));
      }
      const pick = suite.picker('zipf', n);
      const spec = (ms: number) => ({
        mix: MIXED,
        pick,
        rng: suite.rng,
        durationMs: ms,
        inflight: opts.inflight,
        contenders: instances,
        redisPids: suite.redisPids,
      });
      if (opts.warmMs > 0) await runRound(spec(opts.warmMs));
      const rounds: RoundResult[] = [];
      const perWrite: number[] = [];
      for (let r = 0; r < opts.rounds; r++) {
        const before = instances.reduce((s, c) => s + c.invalidations(), 0);
        const round = await runRound(spec(opts.roundMs));
        const received = instances.reduce((s, c) => s + c.invalidations(), 0) - before;
        rounds.push(round);
        perWrite.push(received / Math.max(1, round.opCounts.update));
      }
      const summary = summarize(rounds);
      log(`instances: ${k} -> ${Math.round(summary.opsPerSec.median)} ops/s, hit rate ${(summary.hitRate.median * 100).toFixed(1)}%`);
      results.push({
        id: `instances-${k}`,
        label: `${k} instance${k > 1 ? 's' : ''}`,
        kind: 'sessioncache',
        description: `${k} SessionCache instances (near cache sized to the population) sharing ${opts.inflight} operations in flight`,
        rounds,
        summary,
        extra: { instances: k, invalidationsPerUpdate: spread(perWrite) },
      });
    } finally {
      for (const c of instances) await c.close();
    }
  }
  return {
    id: 'instances',
    section: 'instances',
    title: `Fan-out: 1 to ${Math.max(...opts.instances)} sessioncache instances sharing the cluster, mixed Zipf(${opts.zipfS}) over ${n} sessions of 1 KB, ${opts.inflight} in flight in total`,
    description: 'Every write is invalidated in every instance (BCAST); each instance warms and misses on its own.',
    sessions: n,
    payloadBytes: 1024,
    mix: MIXED,
    picker: 'zipf',
    contenders: results,
    ratios: [],
    notes: ['Instance counts run one after another (rounds alternate within a count): idle instances on the same prefix would otherwise process the measured ones\' invalidations.'],
  };
}
