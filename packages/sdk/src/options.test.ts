import { InvalidOptionsError } from './errors';
import { DEFAULT_OPTIONS, resolveOptions, type SessionCacheOptions } from './options';

const base: SessionCacheOptions = { redis: { cluster: ['127.0.0.1:7000'] } };

describe('resolveOptions', () => {
  it('applies the documented defaults', () => {
    const o = resolveOptions(base);
    expect(o).toMatchObject({
      keyPrefix: DEFAULT_OPTIONS.keyPrefix,
      idleTimeoutSec: 1800,
      absoluteTimeoutSec: 28800,
      commandTimeoutMs: 500,
      maxPayloadBytes: 1024 * 1024,
      onLimit: 'evict-oldest',
      durability: { replicas: 0, timeoutMs: 200, connections: 2 },
      nearCache: { enabled: true, invalidation: 'tracking', maxEntries: 10_000, maxTtlMs: 60_000, fallbackTtlMs: 1000 },
    });
    expect(o.redis).toEqual({ cluster: [{ host: '127.0.0.1', port: 7000 }], options: undefined });
    expect(Object.isFrozen(DEFAULT_OPTIONS)).toBe(true);
  });

  it('accepts seeds as a comma-separated string, a standalone node and cells', () => {
    expect(resolveOptions({ redis: { cluster: '127.0.0.1:1, 127.0.0.1:2' } }).redis).toMatchObject({ cluster: [{ port: 1 }, { port: 2 }] });
    expect(resolveOptions({ redis: { standalone: { host: 'localhost', port: 6380 } } }).redis).toMatchObject({ standalone: { host: 'localhost', port: 6380 } });
    const cells = resolveOptions({ redis: { cells: [{ name: 'a', standalone: '127.0.0.1:1' }, { name: 'b', cluster: ['127.0.0.1:2'], weight: 2 }] } }).redis;
    expect(cells).toMatchObject({ cells: [{ name: 'a' }, { name: 'b', weight: 2 }] });
  });

  it.each<[string, Partial<SessionCacheOptions> | Record<string, unknown>, RegExp]>([
    ['negative idle timeout', { idleTimeoutSec: -1 }, /idleTimeoutSec/],
    ['zero absolute timeout', { absoluteTimeoutSec: 0 }, /absoluteTimeoutSec/],
    ['absolute shorter than idle', { idleTimeoutSec: 600, absoluteTimeoutSec: 60 }, /absoluteTimeoutSec.*shorter than idleTimeoutSec/],
    ['unknown invalidation mode', { nearCache: { invalidation: 'magic' as never } }, /nearCache.invalidation/],
    ['unknown onLimit', { onLimit: 'drop' as never }, /onLimit/],
    ['fractional timeout', { commandTimeoutMs: 1.5 }, /commandTimeoutMs/],
    ['non-number', { maxPayloadBytes: '1mb' as never }, /maxPayloadBytes/],
    ['braces in the prefix', { keyPrefix: 'a{b}' }, /keyPrefix/],
    ['unknown option', { idleTimeout: 5 }, /idleTimeout/],
    ['unknown near-cache option', { nearCache: { size: 5 } as never }, /nearCache.size/],
    ['short user tag secret', { userTagSecret: 'short' }, /userTagSecret/],
    ['bad sidecar URL', { metrics: { sidecar: 'not a url' } }, /metrics.sidecar/],
    ['bad worker name', { metrics: { worker: 'a b' } }, /metrics.worker/],
    ['touch fraction out of range', { touchFraction: 2 }, /touchFraction/],
    ['a near cache index too large to allocate', { nearCache: { maxEntries: 100_000_000 } }, /nearCache.maxEntries/],
    ['no durable-write connection', { durability: { replicas: 1, connections: 0 } }, /durability.connections/],
    ['too many durable-write connections', { durability: { replicas: 1, connections: 65 } }, /durability.connections/],
  ])('rejects %s with a TypeError naming the option', (_, extra, re) => {
    const run = (): unknown => resolveOptions({ ...base, ...(extra as object) });
    expect(run).toThrow(TypeError);
    expect(run).toThrow(InvalidOptionsError);
    expect(run).toThrow(re);
  });

  it.each<[string, unknown, RegExp]>([
    ['missing redis', undefined, /redis/],
    ['empty node list', { cluster: [] }, /redis.cluster/],
    ['empty string list', { cluster: ' , ' }, /redis.cluster/],
    ['bad address', { cluster: ['localhost'] }, /redis.cluster\[0\]/],
    ['port out of range', { standalone: '127.0.0.1:70000' }, /redis.standalone/],
    ['both modes', { cluster: ['127.0.0.1:1'], standalone: '127.0.0.1:2' }, /exactly one/],
    ['no cells', { cells: [] }, /redis.cells/],
    ['a cell without a target', { cells: [{ name: 'a' }] }, /redis.cells\[0\]/],
  ])('rejects a redis option with %s', (_, redis, re) => {
    expect(() => resolveOptions({ redis } as SessionCacheOptions)).toThrow(re);
  });

  it('rejects a non-object', () => {
    expect(() => resolveOptions(null as never)).toThrow(/options/);
  });
});
