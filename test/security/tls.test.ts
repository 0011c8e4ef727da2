/**
 * TLS to Redis: a redis-server with a TLS port only (certificates made with openssl at test
 * time, client certificates required), the SDK connecting with `redis.options.tls`. Every
 * connection the SDK opens (data and near-cache invalidation) must be on the TLS port, and a
 * client that does not trust the server, or has no client certificate, must be refused with
 * a clear typed error. cluster-tls-acl.test.ts does the same on a cluster.
 */
import Redis from 'ioredis';
import { StandaloneRedis } from '@sessioncache/devcluster';
import { RedisUnavailableError, SessionCache, type ConnectOptions } from '@sessioncache/sdk';
import { freePort } from '../faults/support/cluster';
import { exerciseEveryOperation } from './support/exercise';
import { clientTls, enableTls, makeCertificates, sessioncacheServerPorts, type TestCertificates } from './support/redis-security';

describe('TLS to a standalone Redis that only listens on TLS', () => {
  let certs: TestCertificates;
  let server: StandaloneRedis;
  let admin: Redis;
  let tlsPort: number;
  const open: SessionCache[] = [];

  beforeAll(async () => {
    certs = makeCertificates();
    server = await StandaloneRedis.start();
    // The admin connection opened on the plain port survives `port 0`, which closes the listener.
    admin = new Redis(server.port);
    tlsPort = await freePort();
    await enableTls(admin, certs, tlsPort);
    await admin.config('SET', 'port', '0');
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    admin?.disconnect();
    await server?.stop();
    certs?.remove();
  });

  const target = (options: Record<string, unknown>): ConnectOptions['redis'] => ({ standalone: `127.0.0.1:${tlsPort}`, options }) as ConnectOptions['redis'];

  async function connect(options: Record<string, unknown>): Promise<SessionCache> {
    const c = await SessionCache.connect({ redis: target(options), connectTimeoutMs: 2000 });
    open.push(c);
    return c;
  }

  it('the plain port is closed: TLS is the only way in', async () => {
    const plain = new Redis({ port: server.port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    plain.on('error', () => undefined);
    await expect(plain.connect()).rejects.toThrow();
    plain.disconnect();
  });

  it('runs every operation over TLS with client certificates; every SDK connection is on the TLS port', async () => {
    const a = await connect({ tls: clientTls(certs) });
    const b = await connect({ tls: clientTls(certs) });
    expect(b.stats().nearCache.mode).toBe('tracking');
    await exerciseEveryOperation(a, b);
    const conns = await sessioncacheServerPorts(admin);
    // Data connections and both near-cache connections of both instances.
    expect(new Set(conns.map((c) => c.name))).toEqual(new Set(['sessioncache', 'sessioncache:invalidations', 'sessioncache:tracking']));
    expect(conns.filter((c) => c.port !== tlsPort)).toEqual([]);
  });

  it.each([
    ['does not trust the server certificate', (c: TestCertificates) => ({ tls: clientTls(c, c.otherCa) }), /certificate|self.signed|unable to (get|verify)/i],
    ['presents no client certificate', (c: TestCertificates) => ({ tls: { ca: clientTls(c).ca } }), /.+/],
    ['speaks plaintext to the TLS port', () => ({}), /.+/],
  ])('a client that %s is refused with RedisUnavailableError', async (_, options, reason) => {
    const err = await SessionCache.connect({ redis: target(options(certs)), connectTimeoutMs: 1500 }).then(
      async (c) => {
        await c.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toMatch(reason);
  });
});
