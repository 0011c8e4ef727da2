/**
 * Resharding: the slot of live sessions moves to another master (CLUSTER SETSLOT IMPORTING /
 * MIGRATING, MIGRATE, SETSLOT NODE, as redis-cli --cluster reshard does) while the SDK holds
 * the old slot map. Reads and writes must follow the MOVED redirection, and near caches must
 * stop trusting what they read from the old owner (nearcache.md §3, pitfall 6).
 */
import type { DevCluster, DevClusterNode } from '@sessioncache/devcluster';
import { SessionCache, type ConnectOptions, type Session } from '@sessioncache/sdk';
import { onNode, ownerOf, slotOfSession, startFaultCluster, waitFor } from './support/cluster';

/** Moves `slot` with its keys from `from` to `to`, and tells every master. */
async function moveSlot(slot: number, from: DevClusterNode, to: DevClusterNode, masters: readonly DevClusterNode[]): Promise<void> {
  await onNode(to, (dst) => dst.cluster('SETSLOT', slot, 'IMPORTING', from.id));
  await onNode(from, async (src) => {
    await src.cluster('SETSLOT', slot, 'MIGRATING', to.id);
    for (;;) {
      const keys = (await src.cluster('GETKEYSINSLOT', slot, 100)) as string[];
      if (keys.length === 0) break;
      await src.migrate('127.0.0.1', to.port, '', 0, 5000, 'KEYS', ...keys);
    }
  });
  for (const m of masters) await onNode(m, (r) => r.cluster('SETSLOT', slot, 'NODE', to.id));
}

describe('a slot moved to another master while the SDK has the old slot map', () => {
  let cluster: DevCluster | undefined;
  const open: SessionCache[] = [];
  beforeAll(async () => {
    cluster = await startFaultCluster(2000);
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    await cluster?.stop();
  });

  async function setUp(extra: Partial<ConnectOptions>): Promise<{ writer: SessionCache; reader: SessionCache; s: Session }> {
    const opts = { redis: { cluster: cluster!.seedNodes }, ...extra };
    const writer = await SessionCache.connect(opts);
    const reader = await SessionCache.connect(opts);
    open.push(writer, reader);
    const s = await writer.create({ data: { n: 1 } });
    await reader.get(s.id);
    await reader.get(s.id); // cached by the reader
    const masters = await cluster!.masters();
    const from = ownerOf(masters, s.id);
    const to = masters.find((m) => m.port !== from.port)!;
    await moveSlot(slotOfSession(s.id), from, to, masters);
    return { writer, reader, s };
  }

  it('reads and writes follow the slot; the reader never serves the moved session from the old owner', async () => {
    const { writer, reader, s } = await setUp({});
    expect((await writer.update(s.id, { n: 2 })).data.n).toBe(2);
    await waitFor('the reader sees the write made on the new owner', async () => (await reader.get(s.id))?.data.n === 2, 5000);
    expect((await writer.get(s.id))?.data.n).toBe(2);
    expect(await writer.destroy(s.id)).toBe(true);
    await waitFor('the reader sees the destroy', async () => (await reader.get(s.id)) === null, 5000);
  });

  // Was a bug, fixed: a durable write (script + WAIT) went out as an ioredis pipeline, which
  // does not follow a MOVED when WAIT succeeded, so it rejected with RedisCommandError "MOVED".
  // DurableWriter now follows MOVED (and ASK) itself and refreshes the cluster's slot map.
  it('with durability on, a write to the moved slot follows the redirection', async () => {
    const { writer, s } = await setUp({ durability: { replicas: 1, timeoutMs: 1000 } });
    expect((await writer.update(s.id, { n: 2 })).data.n).toBe(2);
  });
});
