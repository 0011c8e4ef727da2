import * as net from 'node:net';
import { DevCluster, parseSeeds } from '@sessioncache/devcluster';
import Redis, { Cluster } from 'ioredis';
import { ClusterProbe, type NodeStatus } from './cluster-probe';

const shared = () => parseSeeds(process.env.REDIS_CLUSTER_NODES ?? '');

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function byNode(probe: ClusterProbe): Map<string, NodeStatus> {
  return new Map(probe.nodes().map((n) => [n.node, n]));
}

describe('ClusterProbe against the shared cluster', () => {
  let probe: ClusterProbe;
  afterEach(async () => {
    await probe?.close();
  });

  it('discovers every node from one seed and reads PING, INFO, CLUSTER INFO and roles', async () => {
    const seeds = shared();
    const pings: string[] = [];
    probe = new ClusterProbe({ seeds: [seeds[0]!], intervalMs: 5000, timeoutMs: 1000, onPing: (node) => pings.push(node) });
    await probe.probeOnce();
    const nodes = probe.nodes();
    expect(nodes.map((n) => n.node).sort()).toEqual(seeds.map((s) => `${s.host}:${s.port}`).sort());
    expect(nodes.every((n) => n.up)).toBe(true);
    expect(nodes.filter((n) => n.info?.role === 'master')).toHaveLength(3);
    expect(nodes.filter((n) => n.info?.role === 'replica')).toHaveLength(3);
    for (const n of nodes) {
      expect(n.cluster).toMatchObject({ state: 'ok', slotsAssigned: 16384, slotsOk: 16384, slotsPfail: 0, slotsFail: 0, knownNodes: 6 });
      expect(n.info!.usedMemoryBytes).toBeGreaterThan(0);
      expect(n.info!.connectedClients).toBeGreaterThanOrEqual(1); // the probe itself
      expect(n.pingSeconds).toBeGreaterThan(0);
    }
    expect(new Set(pings)).toEqual(new Set(nodes.map((n) => n.node)));
    expect(probe.readiness()).toMatchObject({ ready: true, nodes: 6, nodesUp: 6 });
  });

  it('mirrors the keyspace hits and misses of the node that served the reads, and tracking clients', async () => {
    const seeds = shared();
    const cluster = new Cluster(seeds);
    const trackedConn: Redis[] = [];
    probe = new ClusterProbe({ seeds, intervalMs: 5000, timeoutMs: 1000 });
    try {
      await cluster.set('{sc-probe}hit', 'v');
      const slot = (await cluster.call('CLUSTER', 'KEYSLOT', '{sc-probe}hit')) as number;
      const owner = cluster.slots[slot]![0]!; // master address of the slot, host:port
      await probe.probeOnce();
      const before = byNode(probe).get(owner)!.info!;
      for (let i = 0; i < 7; i++) await cluster.get('{sc-probe}hit');
      for (let i = 0; i < 4; i++) await cluster.get('{sc-probe}missing');

      // A near cache's invalidation setup: a tracking connection redirecting to a subscriber.
      const { host, port } = { host: owner.split(':')[0]!, port: Number(owner.split(':')[1]) };
      const sub = new Redis({ host, port });
      const data = new Redis({ host, port });
      trackedConn.push(sub, data);
      const subId = (await sub.client('ID')) as number;
      await data.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(subId), 'BCAST', 'PREFIX', 'sc-probe');

      await probe.probeOnce();
      const after = byNode(probe).get(owner)!.info!;
      expect(after.keyspaceHits! - before.keyspaceHits!).toBe(7);
      expect(after.keyspaceMisses! - before.keyspaceMisses!).toBe(4);
      expect(after.trackingClients).toBeGreaterThanOrEqual(1);
    } finally {
      cluster.disconnect();
      for (const c of trackedConn) c.disconnect();
    }
  });

  it('finds the cluster through a live seed when another seed is dead, and ignores the dead one', async () => {
    const dead = { host: '127.0.0.1', port: await closedPort() };
    probe = new ClusterProbe({ seeds: [dead, shared()[1]!], intervalMs: 5000, timeoutMs: 500 });
    await probe.probeOnce();
    expect(probe.nodes()).toHaveLength(6);
    expect(byNode(probe).has(`127.0.0.1:${dead.port}`)).toBe(false);
    expect(probe.readiness().ready).toBe(true);
  });

  it('reports unreachable seeds as down and is not ready, without hanging', async () => {
    const dead = [{ host: '127.0.0.1', port: await closedPort() }];
    probe = new ClusterProbe({ seeds: dead, intervalMs: 5000, timeoutMs: 300 });
    expect(probe.readiness()).toMatchObject({ ready: false, reason: 'no probe cycle has completed yet' });
    await probe.probeOnce();
    expect(probe.nodes()).toEqual([expect.objectContaining({ node: `127.0.0.1:${dead[0]!.port}`, up: false, error: expect.any(String) })]);
    expect(probe.readiness()).toMatchObject({ ready: false, reason: 'no Redis node is reachable', nodes: 1, nodesUp: 0 });
  });
});

describe('ClusterProbe follows topology changes (own cluster)', () => {
  let cluster: DevCluster;
  let probe: ClusterProbe;
  const removed: string[] = [];

  beforeAll(async () => {
    cluster = await DevCluster.start({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 });
    probe = new ClusterProbe({
      seeds: [cluster.seedNodes[0]!],
      intervalMs: 5000,
      timeoutMs: 500,
      onNodeRemoved: (node) => removed.push(node),
    });
  }, 60_000);
  afterAll(async () => {
    await probe?.close();
    await cluster?.stop();
  });

  it('sees a failover: the old master down, its replica promoted, the cluster still ok', async () => {
    await probe.probeOnce();
    expect(probe.nodes().filter((n) => n.up)).toHaveLength(6);
    const [master] = await cluster.masters();
    await cluster.kill(master!);
    const promoted = await cluster.waitForFailover(master!);
    await cluster.waitForOk();
    await probe.probeOnce();
    const nodes = byNode(probe);
    expect(nodes.get(master!.address)).toMatchObject({ up: false });
    expect(nodes.get(promoted.address)!.info!.role).toBe('master');
    expect(probe.readiness()).toMatchObject({ ready: true, nodes: 6, nodesUp: 5 });

    // The dead node is forgotten by the cluster: it leaves the probe's topology and metrics.
    const live = cluster.seedNodes.filter((s) => s.port !== master!.port);
    await Promise.all(
      live.map(async (s) => {
        const c = new Redis({ ...s, lazyConnect: true });
        try {
          await c.connect();
          await c.call('CLUSTER', 'FORGET', master!.id);
        } finally {
          c.disconnect();
        }
      }),
    );
    await probe.probeOnce();
    expect(byNode(probe).has(master!.address)).toBe(false);
    expect(probe.nodes()).toHaveLength(5);
    expect(removed).toEqual([master!.address]);
  }, 60_000);

  it('marks a paused (SIGSTOP) node down within the cycle and up again when it resumes', async () => {
    const [replica] = await cluster.replicas();
    await cluster.pause(replica!);
    try {
      await probe.probeOnce();
      expect(byNode(probe).get(replica!.address)).toMatchObject({ up: false, error: expect.stringMatching(/timed? ?out/i) });
    } finally {
      await cluster.resume(replica!);
    }
    await probe.probeOnce();
    expect(byNode(probe).get(replica!.address)).toMatchObject({ up: true });
  }, 60_000);
});
