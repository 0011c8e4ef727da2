/**
 * Least privilege: the SDK works with a Redis user limited to its key prefix, the invalidation
 * channel and the commands it needs (SDK_ACL_RULES, the line docs/security.md documents), and
 * that user can do nothing else. Standalone here; cluster-tls-acl.test.ts runs the same user
 * over TLS on a cluster, with WAIT.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Redis from 'ioredis';
import { StandaloneRedis } from '@sessioncache/devcluster';
import { SessionCache, type ConnectOptions } from '@sessioncache/sdk';
import { exerciseEveryOperation } from './support/exercise';
import { aclDenials, SDK_ACL_RULES, setUser } from './support/redis-security';

const PASSWORD = 'acl-test-password-7f3a9c1e5b';

describe('a Redis user with only the documented ACL', () => {
  let server: StandaloneRedis;
  let admin: Redis;
  let app: Redis;
  const open: SessionCache[] = [];

  beforeAll(async () => {
    server = await StandaloneRedis.start();
    admin = new Redis(server.port);
    await setUser(admin, 'sessioncache', PASSWORD, SDK_ACL_RULES);
    await admin.set('other-app:secret', 'not yours');
    app = new Redis({ port: server.port, username: 'sessioncache', password: PASSWORD });
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    app?.disconnect();
    admin?.disconnect();
    await server?.stop();
  });

  async function connect(extra: Partial<ConnectOptions> = {}): Promise<SessionCache> {
    const c = await SessionCache.connect({ redis: { standalone: server.address, options: { username: 'sessioncache', password: PASSWORD } }, ...extra });
    open.push(c);
    return c;
  }

  it('runs every operation, with near-cache invalidation, and Redis denies it nothing', async () => {
    await admin.call('ACL', 'LOG', 'RESET');
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m) };
    const a = await connect({ logger });
    const b = await connect({ logger });
    expect(b.stats().nearCache.mode).toBe('tracking');
    expect(b.stats().nearCache.trackedNodes).toEqual({ armed: 1, total: 1 });
    await exerciseEveryOperation(a, b);
    // PING keeps the invalidation connections checked every second: let it run.
    await new Promise((r) => setTimeout(r, 1200));
    expect(await aclDenials(admin)).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it.each([
    ['read another prefix', (r: Redis) => r.get('other-app:secret')],
    ['write another prefix', (r: Redis) => r.set('other-app:x', '1')],
    ['read its own prefix outside scripts', (r: Redis) => r.get('sc:s:{x}:y')],
    ['list keys', (r: Redis) => r.keys('*')],
    ['scan keys', (r: Redis) => r.scan(0)],
    ['flush the database', (r: Redis) => r.flushall()],
    ['read the configuration', (r: Redis) => r.config('GET', 'requirepass')],
    ['watch every command', (r: Redis) => r.call('MONITOR')],
    ['list or kill clients', (r: Redis) => r.client('LIST')],
    ['change users', (r: Redis) => r.call('ACL', 'SETUSER', 'sessioncache', '+@all')],
    ['touch another prefix from a script', (r: Redis) => r.eval("return redis.call('GET', KEYS[1])", 1, 'other-app:secret')],
    ['subscribe to another channel', (r: Redis) => r.call('SUBSCRIBE', 'other-app:events')],
    ['run DEBUG', (r: Redis) => r.call('DEBUG', 'SLEEP', '0')],
  ])('cannot %s', async (_, act) => {
    await expect(act(app)).rejects.toThrow(/NOPERM|no permissions|can't run this command/);
  });

  it('docs/security.md documents exactly this ACL', () => {
    const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'security.md'), 'utf8');
    expect(doc).toContain(`ACL SETUSER sessioncache on >CHANGE-ME ${SDK_ACL_RULES}`);
  });
});
