/**
 * A production-like cluster connection: TLS with client certificates to every node, the
 * least-privilege ACL user of docs/security.md, and `durability: { replicas: 1 }` (WAIT).
 *
 * Each node of a dev cluster gets a TLS listener at runtime (CONFIG SET tls-port); the cluster
 * keeps announcing its plain ports, so the SDK maps them to the TLS ports with ioredis'
 * `natMap` (in production the nodes announce their TLS ports with `tls-cluster yes`, and no map
 * is needed). The SDK must open every connection, data and invalidation, on the TLS ports, as
 * the restricted user, and Redis must deny it nothing.
 */
import Redis from 'ioredis';
import { DevCluster } from '@sessioncache/devcluster';
import { SessionCache } from '@sessioncache/sdk';
import { freePort } from '../faults/support/cluster';
import { exerciseEveryOperation } from './support/exercise';
import { aclDenials, clientTls, enableTls, makeCertificates, SDK_ACL_RULES, sessioncacheServerPorts, setUser, type TestCertificates } from './support/redis-security';

const PASSWORD = 'cluster-acl-password-2c81d0f4';

describe('a cluster over TLS, as the least-privilege ACL user, with WAIT', () => {
  let certs: TestCertificates;
  let cluster: DevCluster;
  const admins = new Map<number, Redis>();
  const tlsPortOf = new Map<number, number>();
  const open: SessionCache[] = [];

  beforeAll(async () => {
    certs = makeCertificates();
    cluster = await DevCluster.start({ masters: 3, replicas: 1, nodeTimeoutMs: 2000 });
    for (const node of await cluster.status()) {
      const admin = new Redis(node.port);
      admins.set(node.port, admin);
      const tlsPort = await freePort();
      tlsPortOf.set(node.port, tlsPort);
      await enableTls(admin, certs, tlsPort);
      await setUser(admin, 'sessioncache', PASSWORD, SDK_ACL_RULES);
      await admin.call('ACL', 'LOG', 'RESET');
    }
  }, 60_000);
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    for (const a of admins.values()) a.disconnect();
    await cluster?.stop();
    certs?.remove();
  });

  it('runs every operation with acknowledged replication; all connections are TLS; no denial', async () => {
    const natMap = Object.fromEntries([...tlsPortOf].map(([plain, tls]) => [`127.0.0.1:${plain}`, { host: '127.0.0.1', port: tls }]));
    const seeds = [...tlsPortOf.values()].map((port) => ({ host: '127.0.0.1', port }));
    const connect = async (): Promise<SessionCache> => {
      const c = await SessionCache.connect({
        redis: { cluster: seeds, options: { natMap, redisOptions: { tls: clientTls(certs), username: 'sessioncache', password: PASSWORD } } },
        durability: { replicas: 1, timeoutMs: 1000 },
      });
      open.push(c);
      return c;
    };
    const a = await connect();
    const b = await connect();
    expect(b.stats().nearCache.mode).toBe('tracking');
    expect(b.stats().nearCache.trackedNodes).toEqual({ armed: 3, total: 3 });
    await exerciseEveryOperation(a, b);
    // Writes on every shard, each acknowledged by its replica (DurabilityError otherwise).
    const many = await Promise.all(Array.from({ length: 30 }, (_, i) => a.create({ data: { i } })));
    await Promise.all(many.map((s) => a.update(s.id, { i: -1 })));
    await new Promise((r) => setTimeout(r, 1200)); // a round of near-cache PINGs
    const masters = new Set((await cluster.masters()).map((m) => m.port));
    for (const [plain, admin] of admins) {
      expect({ node: plain, denials: await aclDenials(admin) }).toEqual({ node: plain, denials: [] });
      const conns = await sessioncacheServerPorts(admin);
      expect(conns.filter((c) => c.port !== tlsPortOf.get(plain))).toEqual([]);
      // Masters carry invalidation connections and durable-write (WAIT) connections of both
      // instances, and a data connection once ioredis sent it a command (it connects lazily:
      // with every write on the durable connections, a master may have served no read).
      if (masters.has(plain)) {
        const names = new Set(conns.map((c) => c.name));
        expect([...names].filter((n) => !['sessioncache', 'sessioncache:invalidations', 'sessioncache:tracking', 'sessioncache-durable'].includes(n))).toEqual([]);
        for (const n of ['sessioncache:invalidations', 'sessioncache:tracking', 'sessioncache-durable']) expect(names).toContain(n);
      }
    }
  });
});
