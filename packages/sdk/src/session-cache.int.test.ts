import Redis from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import {
  InvalidSessionIdError,
  PayloadTooLargeError,
  SessionLimitError,
  SessionNotFoundError,
  VersionConflictError,
} from './errors';
import { generateSessionId, parseSessionId } from './ids';
import { StandaloneRedis } from '@sessioncache/devcluster';
import { allKeys, connect, masters, onEveryMaster, raw, track, useSharedCluster } from './test-support/harness';
import { SessionCache } from './session-cache';

useSharedCluster();

/** Counts every command the cache's Redis client sends. */
function countCommands(cache: SessionCache): () => number {
  const client = cache.redisClient as unknown as { sendCommand: (...a: unknown[]) => unknown };
  const spy = jest.spyOn(client, 'sendCommand');
  return () => spy.mock.calls.length;
}

/** Every command seen by every master while `fn` runs (MONITOR). */
async function monitored(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const monitors = await Promise.all(
    (await masters()).map(async (m) => {
      const r = new Redis(m.port, m.host);
      const mon = await r.monitor();
      mon.on('monitor', (_time: string, args: string[]) => lines.push(args.join(' ')));
      r.disconnect();
      return mon;
    }),
  );
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    for (const m of monitors) m.disconnect();
  }
  return lines;
}

describe('ids', () => {
  it('issues URL-safe ids with 256 random bits; Redis never sees them (MONITOR, keys)', async () => {
    const cache = await connect();
    let id = '';
    const lines = await monitored(async () => {
      const s = await cache.create({ userId: 'alice', data: { n: 1 } });
      id = s.id;
      await cache.get(id);
      await cache.update(id, { n: 2 });
      await cache.touch(id, { force: true });
      await cache.regenerate(id);
    });
    expect(id).toMatch(/^[A-Za-z0-9_-]{11}\.[A-Za-z0-9_-]{43}$/);
    const secret = id.split('.')[1]!;
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.filter((l) => l.includes(secret) || l.includes(id))).toEqual([]);
    const keys = await allKeys();
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((k) => k.includes(secret))).toEqual([]);
  });

  it.each([
    ['malformed', 'not-an-id'],
    ['truncated', generateSessionId().id.slice(0, 30)],
    ['oversized', 'A'.repeat(257)],
    ['non-string', 42 as unknown as string],
    ['undefined', undefined as unknown as string],
  ])('a %s id reads as null and every write throws InvalidSessionIdError, without a Redis call', async (_, bad) => {
    const cache = await connect();
    const calls = countCommands(cache);
    expect(await cache.get(bad)).toBeNull();
    await expect(cache.update(bad, { a: 1 })).rejects.toBeInstanceOf(InvalidSessionIdError);
    await expect(cache.touch(bad)).rejects.toBeInstanceOf(InvalidSessionIdError);
    await expect(cache.destroy(bad)).rejects.toBeInstanceOf(InvalidSessionIdError);
    await expect(cache.regenerate(bad)).rejects.toBeInstanceOf(InvalidSessionIdError);
    await expect(cache.update(bad, { a: 1 })).rejects.toMatchObject({ code: 'SC_ERR_INVALID_SESSION_ID' });
    expect(calls()).toBe(0);
  });

  it('an unknown but well-formed id reads as null', async () => {
    const cache = await connect();
    expect(await cache.get(generateSessionId().id)).toBeNull();
    await expect(cache.update(generateSessionId().id, { a: 1 })).rejects.toBeInstanceOf(SessionNotFoundError);
    expect(await cache.touch(generateSessionId().id)).toBe(false);
    expect(await cache.destroy(generateSessionId().id)).toBe(false);
  });
});

describe('layout', () => {
  it("keeps every key of a session (and its user's index) in one slot", async () => {
    const cache = await connect();
    const s = await cache.create({ userId: 'bob', data: { a: 1 } });
    await cache.destroy((await cache.create({ userId: 'bob' })).id);
    const keys = await allKeys();
    const p = parseSessionId(s.id)!;
    const mine = keys.filter((k) => k.includes(`{${p.tag}}`));
    expect(mine.length).toBeGreaterThanOrEqual(3); // session, second session's tombstone, user index
    expect(new Set(mine.map((k) => calculateSlot(k))).size).toBe(1);
  });

  it('reloads its scripts after SCRIPT FLUSH (EVALSHA, then EVAL on NOSCRIPT)', async () => {
    const cache = await connect({ nearCache: { enabled: false } });
    const s = await cache.create({ data: { a: 1 } });
    await onEveryMaster((r) => r.script('FLUSH'));
    expect((await cache.get(s.id))?.data).toEqual({ a: 1 });
    expect((await cache.update(s.id, { a: 2 })).data).toEqual({ a: 2 });
  });
});

describe('timeouts (real Redis TTLs)', () => {
  it('an idle session expires after idleTimeoutSec without access, an accessed one lives on', async () => {
    const cache = await connect({ touchFraction: 0 });
    const idle = await cache.create({ data: { x: 1 }, idleTimeoutSec: 1, absoluteTimeoutSec: 10 });
    const busy = await cache.create({ data: { x: 2 }, idleTimeoutSec: 1, absoluteTimeoutSec: 10 });
    const r = raw();
    const ttl = await r.pttl(cache.store.keys.session(parseSessionId(idle.id)!.tag, parseSessionId(idle.id)!.hash));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1000);
    for (let i = 0; i < 5; i++) {
      await new Promise((res) => setTimeout(res, 300));
      expect(await cache.touch(busy.id)).toBe(true);
    }
    expect(await cache.get(idle.id)).toBeNull();
    expect((await cache.get(busy.id))?.data).toEqual({ x: 2 });
  });

  it('a session touched all the time still dies at absoluteTimeoutSec', async () => {
    const cache = await connect({ touchFraction: 0 });
    const s = await cache.create({ idleTimeoutSec: 1, absoluteTimeoutSec: 2 });
    expect(s.absoluteExpiresAt - s.createdAt).toBe(2000);
    const t0 = Date.now();
    let aliveUntil = 0;
    while (Date.now() - t0 < 3000) {
      if (await cache.touch(s.id, { force: true })) aliveUntil = Date.now();
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(aliveUntil - t0).toBeGreaterThan(1000);
    expect(aliveUntil - t0).toBeLessThan(2600);
    expect(await cache.get(s.id)).toBeNull();
  });

  it('per-cache timeouts apply and the TTL is min(idle, absolute remaining)', async () => {
    const cache = await connect({ idleTimeoutSec: 100, absoluteTimeoutSec: 150 });
    const s = await cache.create();
    expect(s.idleExpiresAt - s.lastAccessAt).toBe(100_000);
    expect(s.absoluteExpiresAt - s.createdAt).toBe(150_000);
    const p = parseSessionId(s.id)!;
    const ttl = await raw().pttl(cache.store.keys.session(p.tag, p.hash));
    expect(ttl).toBeGreaterThan(99_000);
    expect(ttl).toBeLessThanOrEqual(100_000);
  });
});

describe('writes', () => {
  it('update sends only the changed attributes, removes undefined ones and bumps the version', async () => {
    const cache = await connect();
    const s = await cache.create({ data: { keep: 'k'.repeat(100), change: 1, drop: true } });
    expect(s.version).toBe(1);
    let after: Awaited<ReturnType<SessionCache['update']>> | undefined;
    const lines = await monitored(async () => {
      after = await cache.update(s.id, { change: 2, drop: undefined, added: [1, 2] });
    });
    const evals = lines.filter((l) => /^evalsha|^eval /i.test(l));
    expect(evals.some((l) => l.includes('d:change') && l.includes('d:drop') && l.includes('d:added'))).toBe(true);
    expect(evals.some((l) => l.includes('d:keep') || l.includes('kkkkkkkk'))).toBe(false);
    expect(after!.version).toBe(2);
    expect(after!.data).toEqual({ keep: 'k'.repeat(100), change: 2, added: [1, 2] });
    expect((await cache.get(s.id))!.data).toEqual(after!.data);
  });

  it('expectedVersion: a stale version throws VersionConflictError and writes nothing', async () => {
    const cache = await connect();
    const s = await cache.create({ data: { n: 1 } });
    const v2 = await cache.update(s.id, { n: 2 }, { expectedVersion: 1 });
    expect(v2.version).toBe(2);
    const err = await cache.update(s.id, { n: 99, other: 1 }, { expectedVersion: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VersionConflictError);
    expect(err).toMatchObject({ code: 'SC_ERR_VERSION_CONFLICT', expectedVersion: 1, actualVersion: 2 });
    const now = await cache.get(s.id);
    expect(now).toMatchObject({ version: 2, data: { n: 2 } });
  });

  it('two instances updating different attributes concurrently (200 each) lose none', async () => {
    const a = await connect();
    const b = await connect();
    const s = await a.create({ data: {} });
    const run = async (cache: SessionCache, prefix: string) => {
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(Array.from({ length: 20 }, (_, j) => cache.update(s.id, { [`${prefix}${batch * 20 + j}`]: batch * 20 + j })));
      }
    };
    await Promise.all([run(a, 'a'), run(b, 'b')]);
    const final = (await a.get(s.id))!;
    expect(Object.keys(final.data)).toHaveLength(400);
    expect(final.version).toBe(401);
    for (let i = 0; i < 200; i++) {
      expect(final.data[`a${i}`]).toBe(i);
      expect(final.data[`b${i}`]).toBe(i);
    }
  });

  it('returned sessions are frozen: callers cannot corrupt what others read', async () => {
    const cache = await connect();
    const s = await cache.create({ data: { cart: { items: [1] } } });
    const got = (await cache.get(s.id))!;
    expect(Object.isFrozen(got)).toBe(true);
    expect(() => {
      (got.data.cart as { items: number[] }).items.push(2);
    }).toThrow(TypeError);
    expect((await cache.get(s.id))!.data).toEqual({ cart: { items: [1] } });
  });
});

describe('logout safety', () => {
  it('after destroy the id never comes back, even with updates racing the destroy', async () => {
    const a = await connect();
    const b = await connect();
    for (let round = 0; round < 5; round++) {
      const s = await a.create({ data: { n: 0 } });
      let stop = false;
      const results: string[] = [];
      const updater = (async () => {
        let i = 0;
        while (!stop) {
          results.push(await b.update(s.id, { n: ++i }).then(() => 'ok', (e: { code: string }) => e.code));
        }
      })();
      const readers = Array.from({ length: 4 }, async () => {
        const seen: boolean[] = [];
        while (!stop) {
          seen.push((await b.get(s.id)) !== null);
          await new Promise((r) => setImmediate(r)); // near-cache hits never yield by themselves
        }
        return seen;
      });
      await new Promise((r) => setTimeout(r, 30));
      expect(await a.destroy(s.id)).toBe(true);
      const afterDestroy = results.length;
      await new Promise((r) => setTimeout(r, 60));
      stop = true;
      await updater;
      await Promise.all(readers);
      expect(await a.get(s.id)).toBeNull();
      expect(await b.get(s.id)).toBeNull();
      // Every update sent after the destroy was acknowledged failed: none revived the session.
      expect(results.slice(afterDestroy + 1).every((r) => r === 'SC_ERR_SESSION_NOT_FOUND')).toBe(true);
      const p = parseSessionId(s.id)!;
      expect(await raw().exists(a.store.keys.session(p.tag, p.hash))).toBe(0);
      expect(await raw().exists(a.store.keys.tombstone(p.tag, p.hash))).toBe(1);
      // A whole-session save (the adapters' set) racing the logout is refused by the tombstone.
      expect(await a.store.upsert(p, { data: { n: 1 }, idleTimeoutSec: 60, absoluteTimeoutSec: 60 })).toBe('tombstoned');
      expect(await b.get(s.id)).toBeNull();
    }
  });
});

describe('regenerate', () => {
  it('issues a new id with the same data and user and kills the old id at once', async () => {
    const cache = await connect();
    const s = await cache.create({ userId: 'carol', data: { theme: 'dark' } });
    const r = await cache.regenerate(s.id);
    expect(r.id).not.toBe(s.id);
    expect(r).toMatchObject({ userId: 'carol', data: { theme: 'dark' }, version: s.version + 1, createdAt: s.createdAt });
    expect(await cache.get(s.id)).toBeNull();
    await expect(cache.update(s.id, { x: 1 })).rejects.toBeInstanceOf(SessionNotFoundError);
    expect((await cache.get(r.id))!.data).toEqual({ theme: 'dark' });
    expect((await cache.listByUser('carol')).map((i) => i.handle)).toEqual([parseSessionId(r.id)!.hash]);
  });

  it('binds a user across slots (anonymous -> user slot), old id dead', async () => {
    const a = await connect();
    const b = await connect();
    const anon = await a.create({ data: { cart: [1, 2] } });
    expect((await b.get(anon.id))!.data).toEqual({ cart: [1, 2] });
    const logged = await a.regenerate(anon.id, { userId: 'dave' });
    const k = (id: string) => calculateSlot(a.store.keys.session(parseSessionId(id)!.tag, parseSessionId(id)!.hash));
    expect(k(logged.id)).not.toBe(k(anon.id));
    expect(logged).toMatchObject({ userId: 'dave', data: { cart: [1, 2] } });
    expect(await a.get(anon.id)).toBeNull();
    expect(await b.get(anon.id)).toBeNull();
    expect((await b.get(logged.id))!.userId).toBe('dave');
    expect(await a.listByUser('dave')).toHaveLength(1);
  });
});

describe('per user', () => {
  it('listByUser returns exactly the live sessions; expired and destroyed ones are pruned', async () => {
    const cache = await connect();
    const s1 = await cache.create({ userId: 'erin', data: { d: 1 } });
    const s2 = await cache.create({ userId: 'erin' });
    const short = await cache.create({ userId: 'erin', idleTimeoutSec: 1, absoluteTimeoutSec: 1 });
    await cache.create({ userId: 'frank' });
    expect((await cache.listByUser('erin')).length).toBe(3);
    await cache.destroy(s2.id);
    await new Promise((r) => setTimeout(r, 1200));
    const list = await cache.listByUser('erin', { current: s1.id, withData: true });
    expect(list.map((i) => i.handle)).toEqual([parseSessionId(s1.id)!.hash]);
    expect(list[0]).toMatchObject({ userId: 'erin', current: true, data: { d: 1 }, version: 1 });
    expect(list.some((i) => i.handle === parseSessionId(short.id)!.hash)).toBe(false);
    const p = parseSessionId(s1.id)!;
    expect(await raw().zcard(cache.store.keys.userIndex(p.tag))).toBe(1);
    expect(await cache.listByUser('nobody')).toEqual([]);
  });

  it('destroyAllForUser removes all the others atomically and returns how many', async () => {
    const a = await connect();
    const b = await connect();
    const sessions = await Promise.all(Array.from({ length: 6 }, () => a.create({ userId: 'gina' })));
    const other = await a.create({ userId: 'hank' });
    await Promise.all(sessions.map((s) => b.get(s.id))); // cached on b
    const keep = sessions[2]!;
    expect(await a.destroyAllForUser('gina', { except: keep.id })).toBe(5);
    for (const s of sessions) {
      const expected = s.id === keep.id;
      expect((await a.get(s.id)) !== null).toBe(expected);
    }
    expect(await b.get(other.id)).not.toBeNull();
    expect(await a.destroyAllForUser('gina')).toBe(1);
    expect(await a.listByUser('gina')).toEqual([]);
  });

  it('destroyByHandle ends one listed session', async () => {
    const cache = await connect();
    const s1 = await cache.create({ userId: 'ivy' });
    const s2 = await cache.create({ userId: 'ivy' });
    const listed = await cache.listByUser('ivy', { current: s1.id });
    expect(listed).toHaveLength(2);
    const first = listed.find((i) => i.current)!;
    expect(await cache.destroyByHandle('ivy', first.handle)).toBe(true);
    expect(await cache.destroyByHandle('ivy', first.handle)).toBe(false);
    expect(await cache.get(s1.id)).toBeNull();
    expect(await cache.get(s2.id)).not.toBeNull();
  });

  it.each(['evict-oldest', 'reject'] as const)('maxSessionsPerUser 5 with onLimit %s holds under 50 concurrent creates', async (onLimit) => {
    const cache = await connect({ maxSessionsPerUser: 5, onLimit });
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => cache.create({ userId: 'jack' })));
    const created = results.filter((r) => r.status === 'fulfilled') as Array<PromiseFulfilledResult<{ id: string }>>;
    const live = await Promise.all(created.map((r) => cache.get(r.value.id)));
    expect(live.filter(Boolean)).toHaveLength(5);
    expect(await cache.listByUser('jack')).toHaveLength(5);
    if (onLimit === 'reject') {
      expect(created).toHaveLength(5);
      const rejected = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      expect(rejected).toHaveLength(45);
      expect(rejected.every((r) => r.reason instanceof SessionLimitError)).toBe(true);
    } else {
      expect(created).toHaveLength(50);
    }
  });
});

describe('payloads', () => {
  it('dates, nested objects, Buffers, unicode and large numbers round-trip', async () => {
    const cache = await connect();
    const data = {
      when: new Date(1700000000123),
      nested: { deep: { list: [1, 'two', { three: 3 }] } },
      bytes: Buffer.from([0, 1, 254, 255]),
      text: 'héllo wörld 你好 😀',
      big: 2n ** 80n,
      maxSafe: Number.MAX_SAFE_INTEGER,
      tiny: 5e-324,
    };
    const s = await cache.create({ data });
    const other = await connect();
    for (const c of [cache, other, cache]) {
      const got = (await c.get(s.id))!;
      expect(got.data).toEqual(data);
      expect(got.data.when).toBeInstanceOf(Date);
      expect(Buffer.isBuffer(got.data.bytes)).toBe(true);
      // Mutating a Date or Buffer we were handed must not reach the next reader.
      (got.data.when as Date).setTime(0);
      (got.data.bytes as Buffer)[0] = 9;
    }
    expect((await cache.get(s.id))!.data).toEqual(data);
  });

  it('a payload over maxPayloadBytes is refused with PayloadTooLargeError before any Redis call', async () => {
    const cache = await connect({ maxPayloadBytes: 10_000 });
    const s = await cache.create({ data: { a: 'x'.repeat(6000) } });
    const calls = countCommands(cache);
    await expect(cache.create({ data: { big: 'x'.repeat(10_001) } })).rejects.toBeInstanceOf(PayloadTooLargeError);
    await expect(cache.update(s.id, { big: 'x'.repeat(10_001) })).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(calls()).toBe(0);
    // The sum of old and new attributes is checked in Redis; nothing is written.
    await expect(cache.update(s.id, { b: 'y'.repeat(6000) })).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect((await cache.get(s.id))!.data).toEqual({ a: 'x'.repeat(6000) });
    expect((await cache.update(s.id, { a: undefined, b: 'y'.repeat(6000) })).data).toEqual({ b: 'y'.repeat(6000) });
    const big = await connect();
    await expect(big.create({ data: { big: 'x'.repeat(1024 * 1024 + 1) } })).rejects.toMatchObject({ code: 'SC_ERR_PAYLOAD_TOO_LARGE' });
  });

  it('a corrupt value in Redis reads as null, is counted, and never throws', async () => {
    const warnings: string[] = [];
    const cache = await connect({ logger: { warn: (m) => warnings.push(m) } });
    const s = await cache.create({ data: { good: 1 } });
    const p = parseSessionId(s.id)!;
    const key = cache.store.keys.session(p.tag, p.hash);
    const r = raw();
    for (const garbage of [Buffer.from('garbage'), Buffer.from([1, 0, 0, 0xc1]), Buffer.from([9, 9, 9])]) {
      await r.hset(key, 'd:good', garbage);
      await new Promise((res) => setTimeout(res, 20)); // let the invalidation drop our cached copy
      expect(await cache.get(s.id)).toBeNull();
    }
    await r.hset(key, 'v', 'not-a-number');
    expect(await cache.get(s.id)).toBeNull();
    expect(cache.stats().decodeFailures).toBe(4);
    expect(cache.stats().errors.SC_ERR_DECODE).toBe(4);
    expect(warnings.length).toBe(4);
    expect(warnings.join('\n')).not.toContain(s.id);
  });
});

describe('getMany', () => {
  it('returns sessions in input order with one pipeline per master and near-cache hits from memory', async () => {
    const a = await connect();
    const b = await connect();
    const created = await Promise.all(Array.from({ length: 40 }, (_, i) => a.create({ data: { i } })));
    const destroyed = created[5]!;
    await a.destroy(destroyed.id);
    const ids = [...created.map((s) => s.id), 'malformed', generateSessionId().id];
    const spy = jest.spyOn(b.redisClient, 'pipeline');
    const got = await b.getMany(ids);
    expect(got.map((s) => (s ? s.data.i : null))).toEqual([...created.map((_, i) => (i === 5 ? null : i)), null, null]);
    expect(spy.mock.calls.length).toBeGreaterThan(0);
    expect(spy.mock.calls.length).toBeLessThanOrEqual((await masters()).length);
    // Second time: everything live is a near-cache hit, no pipeline at all for them.
    spy.mockClear();
    const again = await b.getMany(created.map((s) => s.id).filter((id) => id !== destroyed.id));
    expect(again.every((s) => s !== null)).toBe(true);
    expect(spy.mock.calls.length).toBe(0);
    expect(b.stats().operations.get_many).toEqual({ ok: 2 });
  });
});

describe('standalone Redis', () => {
  it('works for development with { standalone }', async () => {
    const server = await StandaloneRedis.start();
    track({ close: () => server.stop() });
    const cache = track(await SessionCache.connect({ redis: { standalone: server.address } }));
    const s = await cache.create({ userId: 'kim', data: { a: 1 } });
    expect((await cache.get(s.id))!.data).toEqual({ a: 1 });
    const r = await cache.regenerate(s.id);
    expect(await cache.get(s.id)).toBeNull();
    expect((await cache.update(r.id, { a: 2 })).version).toBe(3);
    expect(await cache.listByUser('kim')).toHaveLength(1);
    expect(await cache.destroyAllForUser('kim')).toBe(1);
    expect(cache.stats().nearCache.mode).toBe('tracking');
  });
});
