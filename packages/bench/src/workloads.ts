import type { BenchOptions, Section } from './options';
import type { ContenderId, WorkloadDef } from './suite';

/** The session mix of the product brief: 90% get, 8% touch, 2% update. */
export const MIXED = Object.freeze({ get: 0.9, touch: 0.08, update: 0.02 });
const READS = Object.freeze({ get: 1, touch: 0, update: 0 });
const WRITE_HEAVY = Object.freeze({ get: 0.5, touch: 0, update: 0.5 });

const REMOTE: readonly ContenderId[] = ['sc-near', 'sc-near-default', 'sc-nonear', 'ioredis', 'connect-redis', 'node-redis-csc'];
/** The in-memory "safe hit" baselines a near-cache hit is held to. */
export const SAFE_HITS: readonly ContenderId[] = ['lru-clone', 'lru-msgpack', 'lru-frozen'];

/** Workloads of the micro sections (everything but scale, instances, lag and http). */
export function microWorkloads(opts: BenchOptions): Partial<Record<Section, WorkloadDef[]>> {
  const n = opts.sessions;
  const zipf = `Zipf(${opts.zipfS})`;
  return {
    mixed: [
      {
        id: 'mixed-1k',
        section: 'mixed',
        title: `Mixed: ${zipf} over ${n} sessions of 1 KB, 90% get / 8% touch / 2% update, ${opts.inflight} in flight`,
        description: 'The product workload of issues 4 and 9: most requests read a hot session, a few extend or change it.',
        sessions: n,
        payloadBytes: 1024,
        mix: MIXED,
        picker: 'zipf',
        contenders: [...REMOTE, 'lru-none', ...SAFE_HITS],
        heads: ['sc-near', 'sc-near-default'],
      },
    ],
    concurrency: [1, 8].map(
      (inflight): WorkloadDef => ({
        id: `mixed-1k-c${inflight}`,
        section: 'concurrency',
        title: `Mixed at ${inflight} in flight: ${zipf} over ${n} sessions of 1 KB, 90% get / 8% touch / 2% update`,
        description:
          'The mixed workload with fewer operations in flight. A write drops the session from every near cache, and every read of it waits for the one re-read from Redis: with many operations in flight on a Zipf population, the hottest sessions collect many waiters per write ("misses per update").',
        sessions: n,
        payloadBytes: 1024,
        mix: MIXED,
        picker: 'zipf',
        inflight,
        contenders: ['sc-near', 'ioredis', 'connect-redis'],
        heads: ['sc-near'],
      }),
    ),
    uniform: [
      {
        id: 'uniform-1k',
        section: 'uniform',
        title: `Uniform reads over ${n} sessions of 1 KB (little locality), ${opts.inflight} in flight`,
        description: 'Every session equally likely: a near cache smaller than the population mostly misses.',
        sessions: n,
        payloadBytes: 1024,
        mix: READS,
        picker: 'uniform',
        contenders: [...REMOTE, 'lru-none', 'lru-frozen'],
        heads: ['sc-near', 'sc-near-default'],
      },
    ],
    'write-heavy': [
      {
        id: 'write-heavy-1k',
        section: 'write-heavy',
        title: `Write-heavy: ${zipf} over ${n} sessions of 1 KB, 50% get / 50% update, ${opts.inflight} in flight`,
        description: 'Half the operations write: every write invalidates, so the near cache helps little and must not hurt much.',
        sessions: n,
        payloadBytes: 1024,
        mix: WRITE_HEAVY,
        picker: 'zipf',
        contenders: ['sc-near', 'sc-nonear', 'ioredis', 'connect-redis', 'node-redis-csc', 'lru-none'],
        heads: ['sc-near'],
      },
    ],
    large: [
      {
        id: 'mixed-16k',
        section: 'large',
        title: `Mixed with 16 KB sessions: ${zipf} over ${opts.largeSessions} sessions, 90% get / 8% touch / 2% update, ${opts.inflight} in flight`,
        description: 'Large sessions: decoding and copying dominate, and the default 64 MiB near cache holds only part of the population.',
        sessions: opts.largeSessions,
        payloadBytes: 16 * 1024,
        mix: MIXED,
        picker: 'zipf',
        contenders: [...REMOTE, 'lru-none', ...SAFE_HITS],
        heads: ['sc-near', 'sc-near-default'],
      },
    ],
    'hit-path': [
      {
        id: 'hits-1k',
        section: 'hit-path',
        title: `Near-cache hits: 100% get, ${zipf} over ${n} resident sessions of 1 KB, ${opts.inflight} in flight`,
        description: 'Every read is a hit (the near cache holds the population): the cost of a hit against the cheapest safe hits.',
        sessions: n,
        payloadBytes: 1024,
        mix: READS,
        picker: 'zipf',
        contenders: ['sc-near', 'lru-none', ...SAFE_HITS],
        heads: ['sc-near'],
      },
    ],
    'redis-path': [
      ...(['create', 'get', 'update', 'touch'] as const).map(
        (op): WorkloadDef => ({
          id: `redis-${op}`,
          section: 'redis-path',
          title: `Redis path, ${op}: sessioncache without near cache vs raw ioredis, uniform over ${n} sessions of 1 KB`,
          description: `Issue 3: the SDK's Redis path (one Lua call) against the raw ioredis ${
            { create: 'SET PX', get: 'GET + msgpack decode', update: 'SET PX of the re-encoded blob', touch: 'PEXPIRE' }[op]
          } it must stay within 1.3x of.`,
          sessions: n,
          payloadBytes: 1024,
          mix: { get: op === 'get' ? 1 : 0, touch: op === 'touch' ? 1 : 0, update: op === 'update' ? 1 : 0, create: op === 'create' ? 1 : 0 },
          picker: 'uniform',
          contenders: ['sc-nonear', 'ioredis'],
          heads: ['sc-nonear'],
        }),
      ),
      {
        id: 'redis-get-miss',
        section: 'redis-path',
        title: `Near-cache misses: get in a cyclic scan over ${n} sessions of 1 KB (an LRU of 10,000 entries never hits)`,
        description: 'Every read misses the near cache (default size) and goes to Redis, then installs its reply: the miss path against raw ioredis GET.',
        sessions: n,
        payloadBytes: 1024,
        mix: READS,
        picker: 'cyclic',
        contenders: ['sc-near-default', 'sc-nonear', 'ioredis'],
        heads: ['sc-near-default', 'sc-nonear'],
      },
    ],
  };
}
