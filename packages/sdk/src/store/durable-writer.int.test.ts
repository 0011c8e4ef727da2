import { StandaloneRedis } from '@sessioncache/devcluster';
import { DurabilityError } from '../errors';
import { clientList, connect, eventually, masters, onNode, ownerOf, seeds, slotOfSession, track, useSharedCluster } from '../test-support/harness';
import { SessionCache } from '../session-cache';
import { DURABLE_CONNECTION_NAME } from './durable-writer';

useSharedCluster();

/** Ids of the durable-write connections open on `node` now. */
async function durableIds(node: { host: string; port: number }): Promise<string[]> {
  return (await clientList(node)).filter((c) => c.name === DURABLE_CONNECTION_NAME).map((c) => c.id!);
}

describe('durable writes on dedicated connections', () => {
  it('succeed with replicas 1, on at most durability.connections connections per master, never the shared one', async () => {
    const cache = await connect({ durability: { replicas: 1, timeoutMs: 2000, connections: 2 }, nearCache: { enabled: false } });
    const all = await masters();
    const before = new Map(await Promise.all(all.map(async (m) => [m.port, new Set(await durableIds(m))] as const)));

    const created = await Promise.all(Array.from({ length: 30 }, (_, i) => cache.create({ data: { n: i } })));
    const updated = await Promise.all(created.map((s, i) => cache.update(s.id, { n: i + 100 })));
    expect(updated.map((s) => s.data.n)).toEqual(created.map((_, i) => i + 100));
    for (const [i, s] of created.slice(0, 5).entries()) expect((await cache.get(s.id))?.data.n).toBe(i + 100);
    expect(await cache.destroy(created[0]!.id)).toBe(true);
    expect(await cache.get(created[0]!.id)).toBeNull();

    // 60 concurrent writes spread over the 3 masters: each master saw at most 2 new
    // durable-write connections, and every master got some.
    const perMaster = await Promise.all(all.map(async (m) => (await durableIds(m)).filter((id) => !before.get(m.port)!.has(id)).length));
    for (const n of perMaster) {
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThanOrEqual(2);
    }
  });

  it('with more replicas than exist, a write rejects with DurabilityError while reads of the same shard are served', async () => {
    const seed = await connect();
    const s = await seed.create({ data: { n: 1 } });
    const all = await masters();
    const owner = ownerOf(all, s.id);
    // Other sessions on the same master.
    const neighbours: string[] = [];
    while (neighbours.length < 5) {
      const t = await seed.create({ data: { n: 0 } });
      if (ownerOf(all, t.id).port === owner.port) neighbours.push(t.id);
    }

    const cache = await connect({ durability: { replicas: 2, timeoutMs: 4000 }, nearCache: { enabled: false } });
    let settled = false;
    const pending = cache.update(s.id, { n: 2 }).then(
      (v) => {
        settled = true;
        return v;
      },
      (err: unknown) => {
        settled = true;
        return err;
      },
    );
    // The write has reached the master and its WAIT is blocked there (1 replica of 2).
    await eventually(async () => (await clientList(owner)).some((c) => c.name === DURABLE_CONNECTION_NAME && c.cmd === 'wait'), 3000);

    // Reads of that shard go on the shared connection: they are answered while WAIT blocks.
    for (const id of neighbours) expect((await cache.get(id))?.data.n).toBe(0);
    expect((await cache.get(s.id))?.data.n).toBe(2); // the write is on the master already
    expect((await cache.getMany([s.id, ...neighbours])).map((x) => x?.data.n)).toEqual([2, 0, 0, 0, 0, 0]);
    expect(settled).toBe(false);

    const err = await pending;
    expect(err).toBeInstanceOf(DurabilityError);
    expect(err).toMatchObject({ code: 'SC_ERR_DURABILITY', required: 2 });
    expect((err as DurabilityError).acknowledged).toBeLessThan(2);
  });

  it('follows ASK while the slot is migrating', async () => {
    const seed = await connect();
    const s = await seed.create({ data: { n: 1 } });
    const slot = slotOfSession(s.id);
    const all = await masters();
    const from = ownerOf(all, s.id);
    const to = all.find((n) => n.port !== from.port)!;
    const cache = await connect({ durability: { replicas: 1, timeoutMs: 2000 }, nearCache: { enabled: false } });
    try {
      await onNode(to, (r) => r.cluster('SETSLOT', slot, 'IMPORTING', from.id));
      await onNode(from, (r) => r.cluster('SETSLOT', slot, 'MIGRATING', to.id));
      const keys = (await onNode(from, (r) => r.cluster('GETKEYSINSLOT', slot, 100))) as string[];
      expect(keys.length).toBeGreaterThan(0);
      await onNode(from, (r) => r.migrate(to.host, to.port, '', 0, 5000, 'KEYS', ...keys));
      // The old owner no longer has the session: it answers ASK, the writer asks the new one.
      const asks = async (): Promise<number> => Number(/errorstat_ASK:count=(\d+)/.exec(String(await onNode(from, (r) => r.info('errorstats'))))?.[1] ?? 0);
      const asksBefore = await asks();
      expect((await cache.update(s.id, { n: 2 })).data.n).toBe(2);
      expect(await asks()).toBeGreaterThan(asksBefore);
      expect(await onNode(from, (r) => r.cluster('COUNTKEYSINSLOT', slot))).toBe(0);
      expect(await onNode(to, (r) => r.cluster('COUNTKEYSINSLOT', slot))).toBe(keys.length);
      expect((await cache.get(s.id))?.data.n).toBe(2);
    } finally {
      await onNode(to, (r) => r.cluster('SETSLOT', slot, 'STABLE'));
      await onNode(from, (r) => r.cluster('SETSLOT', slot, 'STABLE'));
    }
  });

  it('close() leaves no dedicated connection open on any master', async () => {
    const all = await masters();
    const before = new Set((await Promise.all(all.map(durableIds))).flat());
    const cache = track(await SessionCache.connect({ redis: { cluster: seeds() }, durability: { replicas: 1, timeoutMs: 2000 } }));
    await Promise.all(Array.from({ length: 30 }, (_, i) => cache.create({ data: { n: i } })));
    const opened = (await Promise.all(all.map(durableIds))).flat().filter((id) => !before.has(id));
    expect(opened.length).toBeGreaterThanOrEqual(all.length);
    await cache.close();
    await eventually(async () => {
      const now = new Set((await Promise.all(all.map(durableIds))).flat());
      return opened.every((id) => !now.has(id));
    }, 3000);
  });

  it('standalone: the writes go on duplicates of the client, rejected with DurabilityError without a replica, and closed by close()', async () => {
    const server = await StandaloneRedis.start();
    track({ close: () => server.stop() });
    const node = { host: '127.0.0.1', port: server.port };
    const cache = await SessionCache.connect({ redis: { standalone: server.address }, durability: { replicas: 1, timeoutMs: 100 } });
    try {
      const err = await cache.create({ data: { n: 1 } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DurabilityError);
      expect(err).toMatchObject({ acknowledged: 0, required: 1 });
      expect((await durableIds(node)).length).toBe(1);
    } finally {
      await cache.close();
    }
    await eventually(async () => (await durableIds(node)).length === 0, 3000);
  });
});
