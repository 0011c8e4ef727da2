import Redis from 'ioredis';
import { parseClusterNodes, parseInfo, parseSeeds } from '@sessioncache/devcluster';
import { SessionCache } from '@sessioncache/sdk';

/**
 * Runs last (test/jest/sequencer.js): after every suite of the integration run has used the
 * shared cluster, no master may have answered CROSSSLOT to anything, and nothing used RENAME.
 * It also drives every SDK operation itself, so it checks something when run alone.
 */
describe('cluster hygiene after the whole integration run', () => {
  const seeds = parseSeeds(process.env.REDIS_CLUSTER_NODES ?? '');

  async function onMasters<T>(fn: (r: Redis) => Promise<T>): Promise<T[]> {
    const probe = new Redis(seeds[0]!.port, seeds[0]!.host);
    const nodes = parseClusterNodes(String(await probe.cluster('NODES')));
    probe.disconnect();
    return Promise.all(
      nodes
        .filter((n) => n.role === 'master' && !n.failed && n.slots.length > 0)
        .map(async (n) => {
          const r = new Redis(n.port, n.host);
          try {
            return await fn(r);
          } finally {
            r.disconnect();
          }
        }),
    );
  }

  it('every operation of the SDK, then zero CROSSSLOT errors and no RENAME on any master', async () => {
    const cache = await SessionCache.connect({ redis: { cluster: seeds }, maxSessionsPerUser: 3 });
    try {
      const users = ['hy-a', 'hy-b', 'hy-c'];
      for (const u of users) {
        const s = await cache.create({ data: { n: 1 } });
        const l = await cache.regenerate(s.id, { userId: u });
        await cache.update(l.id, { n: 2 });
        await cache.touch(l.id, { force: true });
        await cache.regenerate(l.id);
        for (let i = 0; i < 4; i++) await cache.create({ userId: u });
        await cache.listByUser(u, { withData: true });
        const [first] = await cache.listByUser(u);
        await cache.destroyByHandle(u, first!.handle);
        await cache.getMany((await Promise.all([cache.create(), cache.create()])).map((x) => x.id));
        await cache.destroyAllForUser(u);
      }
    } finally {
      await cache.close();
    }
    const stats = await onMasters(async (r) => ({
      errors: parseInfo(String(await r.info('errorstats'))),
      commands: parseInfo(String(await r.info('commandstats'))),
    }));
    expect(stats.length).toBeGreaterThanOrEqual(3);
    for (const { errors, commands } of stats) {
      expect(errors.errorstat_CROSSSLOT).toBeUndefined();
      expect(Object.keys(commands).filter((k) => /^cmdstat_(rename|renamenx)$/.test(k))).toEqual([]);
      // Sanity: the run really went through these masters.
      expect(commands.cmdstat_evalsha ?? commands.cmdstat_eval).toBeDefined();
    }
  });
});
