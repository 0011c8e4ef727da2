import { SessionCacheContender } from './contenders/sessioncache';
import type { WorkloadResult } from './results';
import { spread } from './summary';
import { log, type Suite } from './suite';
import { MIXED } from './workloads';
import { ZipfSampler } from './zipf';

/** Near cache of the scale section: bounded by bytes (the default 64 MiB), not by entries. */
const SCALE_NEAR = { maxEntries: 10_000_000 };
/** Most sessions primed per size: about what 64 MiB holds at 1 KB, hottest last. */
const PRIME_MAX = 50_000;

/**
 * Scale: the mixed workload over populations from 10,000 to 1,000,000 sessions, one near
 * cache per size (own key prefix, so they do not invalidate each other), rounds alternating
 * between sizes. Shows whether throughput stays flat and the near cache's bytes stay under
 * maxBytes as the population outgrows it.
 */
export async function runScale(suite: Suite): Promise<WorkloadResult> {
  const { opts } = suite;
  const payload = suite.payload(1024);
  const sizes = opts.scaleSessions;
  const contenders: SessionCacheContender[] = [];
  try {
    for (const n of sizes) {
      const c = new SessionCacheContender({
        id: `scale-${n}`,
        label: `${n.toLocaleString('en-US')} sessions`,
        seeds: suite.seeds,
        keyPrefix: `scale${n}:`,
        nearCache: SCALE_NEAR,
        description: `sessioncache near cache (maxEntries unbounded, maxBytes 64 MiB default) over ${n} sessions`,
      });
      contenders.push(c);
      const t0 = performance.now();
      await c.populate(n, payload);
      log(`scale: populated ${n} sessions in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await suite.prime(c, Math.min(n, PRIME_MAX));
    }
    const memory = contenders.map(() => [] as Array<{ bytes: number; entries: number; maxBytes: number }>);
    return await suite.alternate(
      {
        id: 'scale',
        section: 'scale',
        title: `Scale: mixed Zipf(${opts.zipfS}) workload over ${sizes.map((n) => n.toLocaleString('en-US')).join(' / ')} sessions of 1 KB, near cache bounded by maxBytes (64 MiB)`,
        description: 'One sessioncache per population size; throughput should stay flat while the near cache stays under maxBytes.',
        sessions: Math.max(...sizes),
        payloadBytes: 1024,
        mix: MIXED,
        picker: 'zipf',
        heads: [],
      },
      contenders,
      {
        pickers: sizes.map((n) => suite.picker('zipf', n)),
        afterRound: (k) => memory[k]!.push(contenders[k]!.memory()),
        extra: (k) => {
          const entries = spread(memory[k]!.map((m) => m.entries));
          return {
            sessions: sizes[k],
            nearBytes: spread(memory[k]!.map((m) => m.bytes)),
            nearEntries: entries,
            maxBytes: memory[k]![0]?.maxBytes,
            // The best hit rate a cache holding that many entries could reach under this Zipf.
            idealHitRate: new ZipfSampler(sizes[k]!, opts.zipfS, () => 0).headMass(Math.round(entries.median)),
          };
        },
      },
    );
  } finally {
    for (const c of contenders) await c.close();
  }
}
