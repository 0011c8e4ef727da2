import { SessionCache } from '@sessioncache/sdk';
import { waitFor } from '../../faults/support/cluster';

/**
 * Runs every public operation of the SDK through instance `a`, and checks that instance `b`
 * serves from its near cache and sees `a`'s writes (invalidation works), so a restricted
 * connection (ACL, TLS) is proven for all of it, not for a PING.
 */
export async function exerciseEveryOperation(a: SessionCache, b: SessionCache): Promise<void> {
  const s = await a.create({ data: { n: 1, note: 'hello' } });
  expect((await b.get(s.id))?.data.n).toBe(1);
  const hits = b.stats().nearCache.hits;
  expect((await b.get(s.id))?.data.n).toBe(1);
  expect(b.stats().nearCache.hits).toBe(hits + 1);
  await a.update(s.id, { n: 2, note: undefined });
  await waitFor('b sees the update', async () => (await b.get(s.id))?.data.n === 2, 5000);
  expect(await a.touch(s.id, { force: true })).toBe(true);
  const same = await a.regenerate(s.id); // same slot: one MOVE script
  expect(await a.get(s.id)).toBeNull();
  const bound = await a.regenerate(same.id, { userId: 'alice' }); // across slots
  await a.create({ userId: 'alice', data: { device: 'phone' } });
  const listed = await a.listByUser('alice', { withData: true, current: bound.id });
  expect(listed).toHaveLength(2);
  expect(await a.destroyByHandle('alice', listed.find((x) => !x.current)!.handle)).toBe(true);
  expect((await a.getMany([bound.id, same.id])).map((x) => x?.data.n ?? null)).toEqual([2, null]);
  await a.create({ userId: 'alice' });
  expect(await a.destroyAllForUser('alice', { except: bound.id })).toBe(1);
  expect(await a.destroy(bound.id)).toBe(true);
  await waitFor('b sees the destroy', async () => (await b.get(bound.id)) === null, 5000);
}
