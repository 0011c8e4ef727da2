import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import calculateSlot from 'cluster-key-slot';
import Redis, { Cluster } from 'ioredis';
import { DevCluster, StandaloneRedis } from '@sessioncache/devcluster';
import { parseSessionId } from '../ids';
import { SessionCache } from '../session-cache';
import { connect, eventually, seeds, sleep, track, useSharedCluster } from '../test-support/harness';

useSharedCluster();

function keyOf(cache: SessionCache, id: string): string {
  const p = parseSessionId(id)!;
  return cache.store.keys.session(p.tag, p.hash);
}

/** The master serving a session, as `{ host, port, nodeKey }`. */
function nodeOf(cache: SessionCache, id: string): { host: string; port: number; nodeKey: string } {
  const nodeKey = (cache.redisClient as Cluster).slots[calculateSlot(keyOf(cache, id))]![0]!;
  const i = nodeKey.lastIndexOf(':');
  return { host: nodeKey.slice(0, i), port: Number(nodeKey.slice(i + 1)), nodeKey };
}

/** Runs one command on one node. */
async function onNode<T>(node: { host: string; port: number }, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(node.port, node.host);
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

/** Counts the script calls (EVALSHA/EVAL) the cache sends to Redis. */
function countReads(cache: SessionCache): () => number {
  const spy = jest.spyOn(cache.redisClient as unknown as { sendCommand: (c: { name: string }) => unknown }, 'sendCommand');
  return () => spy.mock.calls.filter(([c]) => c.name === 'evalsha' || c.name === 'eval').length;
}

const inv = (c: SessionCache): number => c.stats().nearCache.invalidations;

/**
 * Makes the node serving `id` drop its invalidations for `cache` from now on (the connection
 * stays healthy, so nothing else notices): simulates invalidations that never arrive.
 */
function dropInvalidations(cache: SessionCache, id: string): void {
  cache.nearCache.trackers.get(nodeOf(cache, id).nodeKey)!.subscriber!.removeAllListeners('messageBuffer');
}

describe('near cache: hits, bounds, single flight', () => {
  it('serves hot sessions from memory without a Redis call, frozen', async () => {
    const cache = await connect();
    const s = await cache.create({ data: { n: 1, nested: { a: [1] } } });
    expect(cache.stats().nearCache.mode).toBe('tracking');
    // The create's own invalidation arrives shortly after its reply; a read before it would be dropped.
    await eventually(() => inv(cache) > 0);
    await cache.get(s.id); // miss, installs
    const reads = countReads(cache);
    for (let i = 0; i < 100; i++) expect((await cache.get(s.id))!.data).toEqual({ n: 1, nested: { a: [1] } });
    expect(reads()).toBe(0);
    const st = cache.stats().nearCache;
    expect(st.hits).toBe(100);
    expect(st.misses).toBe(1);
    expect(st.hitRate).toBeCloseTo(100 / 101);
    expect(st.entries).toBe(1);
    expect(st.bytes).toBeGreaterThan(0);
    const hit = (await cache.get(s.id))!;
    expect(Object.isFrozen(hit.data.nested)).toBe(true);
    expect(() => ((hit.data.nested as { a: number[] }).a[0] = 5)).toThrow(TypeError);
    expect(cache.stats().latency.near.count).toBeGreaterThan(100);
  });

  it('100 concurrent gets of one cold id make one Redis read', async () => {
    const a = await connect();
    const b = await connect();
    const s = await a.create({ data: { x: 1 } });
    const reads = countReads(b);
    const all = await Promise.all(Array.from({ length: 100 }, () => b.get(s.id)));
    expect(all.every((x) => x?.data.x === 1)).toBe(true);
    expect(reads()).toBe(1);
  });

  it('is bounded by maxEntries and maxBytes, evicting least recently used', async () => {
    const a = await connect({ nearCache: { maxEntries: 20 } });
    const ids = await Promise.all(Array.from({ length: 60 }, (_, i) => a.create({ data: { i } })));
    for (const s of ids) await a.get(s.id);
    let st = a.stats().nearCache;
    expect(st.entries).toBe(20);
    expect(st.evictions.capacity).toBe(40);
    const b = await connect({ nearCache: { maxBytes: 8 * 1024 } });
    for (const s of ids) await b.get(s.id);
    st = b.stats().nearCache;
    expect(st.bytes).toBeLessThanOrEqual(8 * 1024);
    expect(st.entries).toBeGreaterThan(5);
    expect(st.entries).toBeLessThan(60);
  });

  it('never keeps an entry past the Redis TTL, even with invalidations held back', async () => {
    const a = await connect();
    const b = await connect();
    const s = await a.create({ data: { x: 1 }, idleTimeoutSec: 1, absoluteTimeoutSec: 1 });
    expect(await b.get(s.id)).not.toBeNull();
    dropInvalidations(b, s.id); // the expiry invalidation never reaches b
    await sleep(1100);
    expect(await b.get(s.id)).toBeNull();
  });
});

describe('near cache: invalidation across instances', () => {
  it('once an update, destroy or destroyAllForUser on A reaches B, B never returns the old data', async () => {
    const a = await connect();
    const b = await connect();
    const s = await a.create({ userId: 'u1', data: { v: 1 } });
    const other = await a.create({ userId: 'u1', data: { v: 1 } });
    await b.get(s.id);
    await b.get(other.id);
    // update
    let before = inv(b);
    await a.update(s.id, { v: 2 });
    await eventually(() => inv(b) > before);
    expect((await b.get(s.id))!.data.v).toBe(2);
    // destroy: a reader loop on b racing the destroy on a
    await b.get(s.id);
    before = inv(b);
    let stop = false;
    const seenAfterInvalidation: boolean[] = [];
    const loop = (async () => {
      while (!stop) {
        const arrived = inv(b) > before;
        const got = await b.get(s.id);
        if (arrived) seenAfterInvalidation.push(got !== null);
        // Near-cache hits resolve without I/O: yield so timers and sockets get their turn.
        await new Promise((r) => setImmediate(r));
      }
    })();
    await sleep(20);
    await a.destroy(s.id);
    await eventually(() => inv(b) > before);
    await sleep(50);
    stop = true;
    await loop;
    expect(seenAfterInvalidation.length).toBeGreaterThan(0);
    expect(seenAfterInvalidation.filter(Boolean)).toEqual([]);
    // destroyAllForUser
    expect((await b.get(other.id))!.data.v).toBe(1);
    before = inv(b);
    expect(await a.destroyAllForUser('u1')).toBe(1);
    await eventually(() => inv(b) > before);
    expect(await b.get(other.id)).toBeNull();
  });

  it('rule 1: a read in flight does not install its reply when an invalidation overtook it', async () => {
    const a = await connect();
    const b = await connect();
    const s = await a.create({ data: { v: 1 } });
    await eventually(() => inv(b) > 0); // the create's own invalidation, out of the way
    const client = b.redisClient as unknown as { sendCommand: (c: unknown) => Promise<unknown> };
    const original = client.sendCommand.bind(client);
    let hold = true;
    jest.spyOn(client, 'sendCommand').mockImplementation((command: unknown) => {
      const p = original(command);
      const name = (command as { name: string }).name;
      if (name !== 'evalsha' && name !== 'eval') return p; // EVALSHA may fail NOSCRIPT, then EVAL
      // The read has been answered (v: 1) but b has not seen the reply yet: now another client
      // writes and its invalidation reaches b first.
      return p.then(async (reply) => {
        if (!hold) return reply;
        hold = false;
        const before = inv(b);
        await a.update(s.id, { v: 2 });
        await eventually(() => inv(b) > before);
        return reply;
      });
    });
    expect((await b.get(s.id))!.data.v).toBe(1); // the old reply is returned to its caller...
    expect((await b.get(s.id))!.data.v).toBe(2); // ...but never cached
    expect(b.stats().nearCache.misses).toBe(2);
  });

  it('rule 4: own writes are visible at once, even with invalidations held back', async () => {
    const a = await connect();
    const s = await a.create({ userId: 'u4', data: { v: 1 } });
    await a.get(s.id);
    dropInvalidations(a, s.id);
    await a.update(s.id, { v: 2 });
    expect((await a.get(s.id))!.data.v).toBe(2);
    const r = await a.regenerate(s.id);
    expect(await a.get(s.id)).toBeNull();
    await a.get(r.id);
    await a.destroy(r.id);
    expect(await a.get(r.id)).toBeNull();
  });

  it('rule 2: the subscriber or tracking connection killed drops that node and re-arms before caching again', async () => {
    const a = await connect();
    const b = await connect();
    const s = await a.create({ data: { v: 1 } });
    const node = nodeOf(b, s.id);
    for (const which of ['subscriber', 'tracker'] as const) {
      await b.get(s.id);
      const tracker = b.nearCache.trackers.get(node.nodeKey)!;
      const ids = (await tracker.clientIds())!;
      const flushesBefore = b.stats().nearCache.flushes;
      const epoch = tracker.epoch;
      await onNode(node, (r) => r.client('KILL', 'ID', String(ids[which])));
      await eventually(() => tracker.epoch > epoch);
      const f = b.stats().nearCache.flushes;
      expect(f.subscriber_lost + f.connection_lost).toBeGreaterThan(flushesBefore.subscriber_lost + flushesBefore.connection_lost);
      // The write's invalidation may be lost while the node is untrusted: b must not serve v.
      const v = ((await b.get(s.id))!.data.v as number) + 1;
      await a.update(s.id, { v });
      expect((await b.get(s.id))!.data.v).toBe(v);
      // Re-armed: invalidations flow again.
      await eventually(() => tracker.armed, 10_000);
      await b.get(s.id);
      const before = inv(b);
      await a.update(s.id, { v: v + 1 });
      await eventually(() => inv(b) > before);
      expect((await b.get(s.id))!.data.v).toBe(v + 1);
    }
  });

  it('rule 2: a data connection killed loses nothing (tracking does not live on data connections)', async () => {
    const a = await connect();
    const b = await connect();
    const s = await a.create({ data: { v: 1 } });
    await b.get(s.id);
    const node = nodeOf(b, s.id);
    const killed = await onNode(node, (r) => r.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes') as Promise<number>);
    expect(killed).toBeGreaterThan(0);
    const before = inv(b);
    await a.update(s.id, { v: 2 });
    await eventually(async () => inv(b) > before || ((await b.get(s.id))?.data.v === 2));
    expect((await b.get(s.id))!.data.v).toBe(2);
  });

  it('rule 3: FLUSHALL drops what came from that node', async () => {
    const a = await connect();
    const b = await connect();
    const s = await a.create({ data: { v: 1 } });
    await b.get(s.id);
    const node = nodeOf(b, s.id);
    await onNode(node, (r) => r.flushall());
    await eventually(() => b.stats().nearCache.flushes.flushall > 0);
    expect(await b.get(s.id)).toBeNull();
  });

  it('touching on every read by 3 instances does not invalidate on every request', async () => {
    const caches = await Promise.all([connect({ touchFraction: 0.25 }), connect({ touchFraction: 0.25 }), connect({ touchFraction: 0.25 })]);
    const s = await caches[0]!.create({ data: { v: 1 }, idleTimeoutSec: 2, absoluteTimeoutSec: 60 });
    const start = caches.map(inv);
    let reads = 0;
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      for (const c of caches) {
        expect(await c.get(s.id)).not.toBeNull(); // lives well past its 2 s idle timeout
        expect(await c.touch(s.id)).toBe(true);
        reads++;
      }
      await sleep(20);
    }
    const received = caches.map((c, i) => inv(c) - start[i]!);
    // One refresh per 0.5 s (2 s x 0.25) at most, seen by every instance: about 8 each.
    expect(reads).toBeGreaterThan(150);
    for (const n of received) expect(n).toBeLessThan(20);
    expect(caches[0]!.stats().nearCache.hitRate).toBeGreaterThan(0.8);
  });
});

describe('near cache: invalidation lag metric', () => {
  it('times exactly one sample per acknowledged own write, from its ack to its invalidation', async () => {
    const a = await connect();
    const s = await a.create({ data: { n: 0 } });
    for (let i = 1; i <= 20; i++) await a.update(s.id, { n: i });
    await a.destroy(s.id);
    // 1 create + 20 updates + 1 destroy, each invalidated exactly once.
    await eventually(() => a.stats().nearCache.invalidationLag.count === 22).catch((e) => {
      throw new Error(`${(e as Error).message}: ${a.stats().nearCache.invalidationLag.count} samples, ${a.stats().nearCache.invalidations} invalidations`);
    });
    const lag = a.stats().nearCache.invalidationLag;
    expect(lag.p99).not.toBeNull();
    // A failed write leaves no sample behind.
    await expect(a.update(s.id, { n: 99 })).rejects.toMatchObject({ code: 'SC_ERR_SESSION_NOT_FOUND' });
    await sleep(50);
    expect(a.stats().nearCache.invalidationLag.count).toBe(22);
  });
});

describe('near cache: two processes', () => {
  let child: ChildProcess | undefined;
  const call = (msg: object): Promise<{ ok: boolean; value?: unknown; error?: string }> =>
    new Promise((resolve) => {
      child!.once('message', (m) => resolve(m as { ok: boolean; value?: unknown }));
      child!.send(msg);
    });
  afterEach(async () => {
    if (child && child.exitCode === null) {
      await call({ op: 'close' }).catch(() => undefined);
      child.kill('SIGKILL');
    }
    child = undefined;
  });

  it('an update and a destroy in this process reach the near cache of another process', async () => {
    const dist = path.join(__dirname, '..', '..', 'dist', 'index.js');
    if (!fs.existsSync(dist)) throw new Error('build @sessioncache/sdk first (npx turbo run build)');
    child = fork(path.join(__dirname, '..', 'test-support', 'child-cache.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    expect((await call({ op: 'connect', options: { redis: { cluster: seeds() } } })).ok).toBe(true);
    const a = await connect();
    const s = await a.create({ data: { v: 1 } });
    expect(await call({ op: 'get', id: s.id })).toMatchObject({ value: { data: { v: 1 } } });
    expect(await call({ op: 'get', id: s.id })).toMatchObject({ value: { data: { v: 1 } } });
    const stats = async () => (await call({ op: 'stats' })).value as { hits: number; invalidations: number };
    expect((await stats()).hits).toBe(1);
    let before = (await stats()).invalidations;
    await a.update(s.id, { v: 2 });
    await eventually(async () => (await stats()).invalidations > before);
    expect(await call({ op: 'get', id: s.id })).toMatchObject({ value: { data: { v: 2 } } });
    before = (await stats()).invalidations;
    await a.destroy(s.id);
    await eventually(async () => (await stats()).invalidations > before);
    expect(await call({ op: 'get', id: s.id })).toMatchObject({ value: null });
  });
});

describe('near cache: without CLIENT TRACKING', () => {
  it('rule 5: a server refusing CLIENT TRACKING (ACL) gives TTL-only mode; staleness stays within fallbackTtlMs', async () => {
    const server = await StandaloneRedis.start();
    track({ close: () => server.stop() });
    await onNode({ host: '127.0.0.1', port: server.port }, (r) =>
      r.call('ACL', 'SETUSER', 'app', 'on', '>app-password-123', '~*', '&*', '+@all', '-client|tracking'),
    );
    const warnings: string[] = [];
    const opts = {
      redis: { standalone: server.address, options: { username: 'app', password: 'app-password-123' } },
      nearCache: { fallbackTtlMs: 300 },
      logger: { warn: (m: string) => warnings.push(m) },
    };
    const a = track(await SessionCache.connect(opts));
    const b = track(await SessionCache.connect(opts));
    expect(b.stats().nearCache.mode).toBe('ttl-only');
    expect(b.stats().nearCache.flushes.tracking_unavailable).toBe(1);
    expect(warnings.some((w) => /TTL-only/.test(w))).toBe(true);
    const s = await a.create({ data: { v: 1 } });
    await b.get(s.id);
    const reads = countReads(b);
    expect((await b.get(s.id))!.data.v).toBe(1); // still a near-cache hit
    expect(reads()).toBe(0);
    await a.update(s.id, { v: 2 });
    await sleep(350);
    expect((await b.get(s.id))!.data.v).toBe(2);
  });
});

describe('near cache: master failover', () => {
  let cluster: DevCluster;
  beforeAll(async () => {
    cluster = await DevCluster.start({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('rule 2: drops what came from a killed master, re-arms on the promoted replica, stays correct', async () => {
    const opts = { redis: { cluster: cluster.seedNodes }, commandTimeoutMs: 1000 };
    const a = track(await SessionCache.connect(opts));
    const b = track(await SessionCache.connect(opts));
    const sessions = await Promise.all(Array.from({ length: 30 }, (_, i) => a.create({ data: { v: i } })));
    for (const s of sessions) await b.get(s.id);
    expect(b.stats().nearCache.entries).toBe(30);
    const victimKey = nodeOf(b, sessions[0]!.id).nodeKey;
    const victimPort = Number(victimKey.split(':')[1]);
    const onVictim = sessions.filter((s) => nodeOf(b, s.id).nodeKey === victimKey);
    await cluster.kill(victimPort);
    await eventually(() => b.stats().nearCache.entries <= 30 - onVictim.length, 10_000);
    const promoted = await cluster.waitForFailover(victimPort);
    // Reads work again once the client has the new slot map (within node timeout + a few seconds).
    await eventually(async () => (await b.get(onVictim[0]!.id).catch(() => undefined)) !== undefined, 15_000, 100);
    await eventually(() => b.nearCache.trackers.get(`127.0.0.1:${promoted.port}`)?.armed === true, 15_000, 100);
    expect(b.stats().nearCache.flushes.topology_change + b.stats().nearCache.flushes.connection_lost + b.stats().nearCache.flushes.subscriber_lost).toBeGreaterThan(0);
    // Without persistence the victim's sessions may be lost or not (replication is async);
    // whatever b returns must match Redis, and invalidation works on the new master.
    const survivor = (await Promise.all(onVictim.map(async (s) => ((await a.get(s.id).catch(() => null)) ? s : undefined)))).find(Boolean);
    if (survivor) {
      await b.get(survivor.id);
      await a.update(survivor.id, { v: 'after-failover' });
      await eventually(async () => (await b.get(survivor.id))?.data.v === 'after-failover', 5000);
    }
    const elsewhere = sessions.find((s) => nodeOf(b, s.id).nodeKey !== victimKey)!;
    await a.update(elsewhere.id, { v: 'moved-on' });
    await eventually(async () => (await b.get(elsewhere.id))?.data.v === 'moved-on', 5000);
  });
});
