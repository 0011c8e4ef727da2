import type { Writable } from 'node:stream';
import type { Cluster } from 'ioredis';
import { connect, eventually, useSharedCluster } from '../test-support/harness';

useSharedCluster();

/** Counts the socket-level writes (`_write` / `_writev` calls) on every data connection. */
function countWrites(client: Cluster): { writes: () => number; restore: () => void } {
  let n = 0;
  const undo: Array<() => void> = [];
  for (const node of client.nodes()) {
    const stream = (node as unknown as { stream?: Writable & { _writev?: (...a: unknown[]) => void } }).stream;
    if (!stream) continue;
    for (const name of ['_write', '_writev'] as const) {
      const orig = stream[name];
      if (typeof orig !== 'function') continue;
      stream[name] = function (this: Writable, ...args: unknown[]) {
        n++;
        return (orig as (...a: unknown[]) => void).apply(this, args);
      } as never;
      undo.push(() => {
        stream[name] = orig as never;
      });
    }
  }
  return { writes: () => n, restore: () => undo.forEach((f) => f()) };
}

describe('write coalescing on the data connections', () => {
  it('sends the commands issued in one turn of the event loop with one socket write per node, and they all succeed', async () => {
    const cache = await connect({ nearCache: { enabled: false } });
    const sessions = await Promise.all(Array.from({ length: 120 }, (_, i) => cache.create({ data: { i } })));
    const client = cache.redisClient as Cluster;
    const masters = client.nodes('master').length;
    const counter = countWrites(client);
    try {
      const got = await Promise.all(sessions.map((s) => cache.get(s.id))); // 120 commands, one turn
      expect(got.map((s) => s?.data.i)).toEqual(sessions.map((s) => s.data.i));
      // Without coalescing each command is its own write (120); corked, each node gets one.
      expect(counter.writes()).toBeLessThanOrEqual(masters);
      expect(counter.writes()).toBeGreaterThan(0);
    } finally {
      counter.restore();
    }
  });

  it('keeps coalescing after a connection drops (the new socket is wrapped too)', async () => {
    const cache = await connect({ nearCache: { enabled: false } });
    const sessions = await Promise.all(Array.from({ length: 30 }, (_, i) => cache.create({ data: { i } })));
    const client = cache.redisClient as Cluster;
    const node = client.nodes('master').find((n) => n.status === 'ready')!;
    const addr = `${node.options.host}:${node.options.port}`;
    const before = (node as unknown as { stream: Writable }).stream;
    before.destroy(); // the connection drops; ioredis connects again with a new socket
    await eventually(async () => (await Promise.all(sessions.map((s) => cache.get(s.id).catch(() => null)))).every((g) => g !== null), 10_000);
    const now = client.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === addr && n.status === 'ready')!;
    const after = (now as unknown as { stream: Writable }).stream;
    expect(after).not.toBe(before);
    expect(after.write.name).toBe('coalescedWrite');
  });
});
