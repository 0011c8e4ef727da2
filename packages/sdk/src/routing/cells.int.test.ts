import Redis, { Cluster } from 'ioredis';
import { StandaloneRedis } from '@sessioncache/devcluster';
import { parseSessionId } from '../ids';
import type { CellOption } from '../options';
import { SessionCache } from '../session-cache';
import { CellRouter } from './ring';
import { seeds, track, useSharedCluster } from '../test-support/harness';

useSharedCluster();

async function standalone(): Promise<StandaloneRedis> {
  const s = await StandaloneRedis.start();
  track({ close: () => s.stop() });
  return s;
}

/** Which of the cells hold each session key (pipelined EXISTS). */
async function holders(cache: SessionCache, clients: Record<string, Redis | Cluster>, ids: string[]): Promise<string[][]> {
  const keys = ids.map((id) => {
    const p = parseSessionId(id)!;
    return cache.store.keys.session(p.tag, p.hash);
  });
  const out: string[][] = ids.map(() => []);
  for (const [name, client] of Object.entries(clients)) {
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      const res = await Promise.all(chunk.map((k) => client.exists(k)));
      res.forEach((n, j) => {
        if (n === 1) out[i + j]!.push(name);
      });
    }
  }
  return out;
}

describe('cells: a consistent-hash ring of clusters and standalone nodes', () => {
  it('adding a fourth cell loses no session: read-through migration, then rebalance', async () => {
    const [s1, s2, s4] = await Promise.all([standalone(), standalone(), standalone()]);
    const three: CellOption[] = [
      { name: 'alpha', standalone: s1.address },
      { name: 'beta', standalone: s2.address },
      { name: 'gamma', cluster: seeds() },
    ];
    const four: CellOption[] = [...three, { name: 'delta', standalone: s4.address }];
    const clients: Record<string, Redis | Cluster> = {
      alpha: new Redis(s1.port, '127.0.0.1'),
      beta: new Redis(s2.port, '127.0.0.1'),
      gamma: new Cluster(seeds()),
      delta: new Redis(s4.port, '127.0.0.1'),
    };
    for (const c of Object.values(clients)) track({ close: () => c.disconnect() });

    // This test is about placement, not latency: generous timeouts for a loaded CI machine.
    const before = track(await SessionCache.connect({ redis: { cells: three }, commandTimeoutMs: 5000 }));
    expect(before.cells().cells.sort()).toEqual(['alpha', 'beta', 'gamma']);
    const ids: string[] = [];
    for (let i = 0; i < 10_000; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, (_, j) => before.create({ data: { n: i + j }, ...((i + j) % 10 === 0 ? { userId: `user-${(i + j) % 300}` } : {}) })),
      );
      ids.push(...batch.map((s) => s.id));
    }
    const placed = await holders(before, clients, ids);
    expect(placed.every((h) => h.length === 1 && h[0] !== 'delta')).toBe(true);
    const perCell = (hs: string[][]): Record<string, number> => hs.reduce<Record<string, number>>((m, h) => ((m[h[0]!] = (m[h[0]!] ?? 0) + 1), m), {});
    const spread = perCell(placed);
    for (const name of ['alpha', 'beta', 'gamma']) expect(spread[name]).toBeGreaterThan(2800);

    // The ring changes: four cells, the previous three declared.
    const after = track(await SessionCache.connect({ redis: { cells: four, previousCells: three }, commandTimeoutMs: 5000 }));
    expect({ ...after.cells(), cells: after.cells().cells.sort() }).toEqual({ cells: ['alpha', 'beta', 'delta', 'gamma'], added: ['delta'], draining: [] });
    const router = CellRouter.fromCells(four);
    const owner = ids.map((id) => router.ownerOf(parseSessionId(id)!.tag));
    const toMove = owner.filter((o) => o === 'delta').length;
    expect(toMove / ids.length).toBeGreaterThan(0.2);
    expect(toMove / ids.length).toBeLessThan(0.3);

    // Half are read now (read-through migration), through get and getMany.
    const half = ids.slice(0, 5000);
    for (let i = 0; i < half.length; i += 500) {
      const got = await after.getMany(half.slice(i, i + 500));
      got.forEach((s, j) => expect(s?.data.n).toBe(i + j));
    }
    for (const id of ids.slice(5000, 5100)) expect(await after.get(id)).not.toBeNull();
    let now = await holders(after, clients, ids.slice(0, 5100));
    now.forEach((h, i) => expect(h).toEqual([owner[i]])); // moved ones are on delta, and only there

    // A user's sessions stay together, and per-user operations see all of them mid-change.
    const u = 'user-10';
    const list = await after.listByUser(u);
    expect(list.length).toBe(ids.filter((_, i) => i % 10 === 0 && i % 300 === 10).length);

    // The rest move with rebalance(); the old instance's reads keep working meanwhile.
    const progress: number[] = [];
    const result = await after.rebalance({ onProgress: (p) => progress.push(p.scanned) });
    expect(progress.length).toBeGreaterThan(0);
    expect(result.moved).toBe(owner.slice(5100).filter((o) => o === 'delta').length);
    now = await holders(after, clients, ids);
    now.forEach((h, i) => expect(h).toEqual([owner[i]]));
    const all = [];
    for (let i = 0; i < ids.length; i += 1000) all.push(...(await after.getMany(ids.slice(i, i + 1000))));
    expect(all.filter((s) => s === null)).toHaveLength(0);
    all.forEach((s, i) => expect(s!.data.n).toBe(i));
  });
});
