/**
 * End to end over real HTTP: two instances of each example app (Express and Fastify), each
 * with its own SessionCache and near cache, sharing the integration cluster, driven like a
 * browser would. What a user of the app would notice: login issues a new cookie and kills the
 * old one, a session follows the user from instance to instance, logout and "log out
 * everywhere" take effect on the other instance at once, rolling extends the expiry, expired
 * and tampered sessions are gone, and a Redis outage answers a quick 503.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { flushCluster, StandaloneRedis } from '@sessioncache/devcluster';
import { Browser } from './support/browser';
import { clusterSeeds, SECRET, startInstance, type Framework, type Instance } from './support/example-apps';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const COOKIE: Record<Framework, string> = { express: 'connect.sid', fastify: 'sid' };

/** Signs a cookie value as each framework does (HMAC-SHA256, base64 without padding). */
function sign(framework: Framework, value: string): string {
  const mac = createHmac('sha256', SECRET).update(value).digest('base64').replace(/=+$/, '');
  return framework === 'express' ? `s:${value}.${mac}` : `${value}.${mac}`;
}

/** The session id inside a signed cookie value. */
function idOf(framework: Framework, cookie: string): string {
  const v = framework === 'express' ? cookie.slice(2) : cookie;
  return v.slice(0, v.lastIndexOf('.'));
}

let open: Instance[] = [];

async function two(framework: Framework, app: { maxAgeMs?: number; rolling?: boolean } = {}): Promise<[Instance, Instance]> {
  const [a, b] = await Promise.all([startInstance(framework, app), startInstance(framework, app)]);
  open.push(a, b);
  return [a, b];
}

beforeEach(async () => {
  await flushCluster(clusterSeeds());
});

afterEach(async () => {
  const all = open;
  open = [];
  await Promise.all(all.map((i) => i.close().catch(() => undefined)));
});

describe.each(['express', 'fastify'] as const)('%s example app, two instances', (framework) => {
  const cookieName = COOKIE[framework];

  it('login regenerates the session: a new cookie, the old one dead, the anonymous cart carried over', async () => {
    const [a, b] = await two(framework);
    const user = new Browser();
    expect((await user.post(`${a.url}/cart`, { sku: 'apple', qty: 2 })).status).toBe(201);
    const before = user.cookies.get(cookieName)!;
    expect(before).toBeDefined();

    const login = await user.post(`${a.url}/login`, { username: 'alice' });
    expect(login.status).toBe(200);
    const after = user.cookies.get(cookieName)!;
    expect(idOf(framework, after)).not.toBe(idOf(framework, before));
    expect((await user.get(`${b.url}/cart`)).body).toEqual({ items: [{ sku: 'apple', qty: 2 }] });
    expect((await user.get(`${b.url}/profile`)).body).toMatchObject({ user: { name: 'alice' } });

    // Whoever holds the pre-login cookie (session fixation) has nothing: not the login, not the cart.
    const attacker = new Browser();
    attacker.cookies.set(cookieName, before);
    expect((await attacker.get(`${a.url}/profile`)).status).toBe(401);
    expect((await attacker.get(`${b.url}/cart`)).body).toEqual({ items: [] });
  });

  it('a session follows the user across instances, and writes on one are read on the other', async () => {
    const [a, b] = await two(framework);
    const user = new Browser();
    await user.post(`${a.url}/login`, { username: 'bob' });
    await user.post(`${b.url}/cart`, { sku: 'pear', qty: 1 });
    expect((await user.get(`${a.url}/cart`)).body).toEqual({ items: [{ sku: 'pear', qty: 1 }] });
    await user.post(`${a.url}/cart`, { sku: 'pear', qty: 3 });
    await user.post(`${a.url}/cart`, { sku: 'fig', qty: 1 });
    expect((await user.get(`${b.url}/cart`)).body).toEqual({
      items: [
        { sku: 'pear', qty: 4 },
        { sku: 'fig', qty: 1 },
      ],
    });
    // Reads are served from each instance's near cache once warm.
    const hitsBefore = b.cache.stats().nearCache.hits;
    for (let i = 0; i < 5; i++) expect((await user.get(`${b.url}/profile`)).status).toBe(200);
    expect(b.cache.stats().nearCache.hits).toBeGreaterThan(hitsBefore);
  });

  it('logout on A kills the cookie on B at once', async () => {
    const [a, b] = await two(framework);
    const user = new Browser();
    await user.post(`${a.url}/login`, { username: 'carol' });
    const stolen = user.clone();
    // B holds the session in its near cache...
    expect((await user.get(`${b.url}/profile`)).status).toBe(200);
    expect((await user.get(`${b.url}/profile`)).status).toBe(200);
    expect((await user.post(`${a.url}/logout`)).status).toBe(204);
    // ...and still refuses the cookie right after A's logout answered.
    expect((await stolen.get(`${b.url}/profile`)).status).toBe(401);
    expect((await stolen.get(`${a.url}/profile`)).status).toBe(401);
    expect(user.cookies.has(cookieName)).toBe(false);
  });

  it('log out everywhere ends all of the user’s sessions on every instance, and only theirs', async () => {
    const [a, b] = await two(framework);
    const laptop = new Browser();
    const phone = new Browser();
    const other = new Browser();
    await laptop.post(`${a.url}/login`, { username: 'dave' });
    await phone.post(`${b.url}/login`, { username: 'dave' });
    await other.post(`${a.url}/login`, { username: 'erin' });

    const listed = await laptop.get(`${b.url}/sessions`);
    expect(listed.status).toBe(200);
    const sessions = (listed.body as { sessions: Array<{ handle: string; current: boolean }> }).sessions;
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    expect(JSON.stringify(sessions)).not.toContain(idOf(framework, laptop.cookies.get(cookieName)!));

    const laptopCookie = laptop.clone();
    const res = await laptop.post(`${a.url}/logout-everywhere`);
    expect(res.body).toEqual({ destroyed: 2 });
    expect((await laptopCookie.get(`${b.url}/profile`)).status).toBe(401);
    expect((await phone.get(`${b.url}/profile`)).status).toBe(401);
    expect((await phone.get(`${a.url}/profile`)).status).toBe(401);
    expect((await other.get(`${b.url}/profile`)).status).toBe(200);
  });

  it('"sign out my other devices" keeps the current session; one device can be ended by its handle', async () => {
    const [a, b] = await two(framework);
    const [d1, d2, d3] = [new Browser(), new Browser(), new Browser()];
    for (const d of [d1, d2, d3]) await d.post(`${a.url}/login`, { username: 'frank' });
    const list = ((await d1.get(`${b.url}/sessions`)).body as { sessions: Array<{ handle: string; current: boolean }> }).sessions;
    const d2Handle = list.find((s) => !s.current)!.handle;
    expect((await d1.delete(`${b.url}/sessions/${d2Handle}`)).status).toBe(204);
    const remaining = ((await d1.get(`${a.url}/sessions`)).body as { sessions: unknown[] }).sessions;
    expect(remaining).toHaveLength(2);

    expect((await d1.post(`${b.url}/logout-everywhere`, { keepCurrent: true })).body).toEqual({ destroyed: 1 });
    expect((await d1.get(`${a.url}/profile`)).status).toBe(200);
    const alive = await Promise.all([d2, d3].map(async (d) => (await d.get(`${a.url}/profile`)).status));
    expect(alive).toEqual([401, 401]);
  });

  it('rolling extends the expiry: an active session outlives its first max age', async () => {
    const [a, b] = await two(framework, { maxAgeMs: 3000, rolling: true });
    const user = new Browser();
    const login = await user.post(`${a.url}/login`, { username: 'gina' });
    const firstExpiry = login.setCookies.find((c) => c.name === cookieName)!.expires!;
    await sleep(1500);
    const mid = await user.get(`${b.url}/profile`);
    expect(mid.status).toBe(200);
    const laterExpiry = mid.setCookies.find((c) => c.name === cookieName)?.expires;
    expect(laterExpiry!.getTime()).toBeGreaterThan(firstExpiry.getTime());
    await sleep(2000); // past the first expiry, within the extended one
    expect((await user.get(`${a.url}/profile`)).status).toBe(200);
  });

  it('an expired session is gone, from Redis too', async () => {
    const [a, b] = await two(framework, { maxAgeMs: 2000 });
    const user = new Browser();
    await user.post(`${a.url}/login`, { username: 'hank' });
    expect((await user.get(`${b.url}/profile`)).status).toBe(200);
    const id = idOf(framework, user.cookies.get(cookieName)!);
    await sleep(3000);
    expect((await user.get(`${a.url}/profile`)).status).toBe(401);
    expect((await user.get(`${b.url}/profile`)).status).toBe(401);
    expect(await a.cache.get(id)).toBeNull();
  });

  it('a tampered or forged cookie is rejected, never a crash, and the real one keeps working', async () => {
    const [a] = await two(framework);
    const user = new Browser();
    await user.post(`${a.url}/login`, { username: 'ivy' });
    const real = user.cookies.get(cookieName)!;
    const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const forged = [
      flip(real, real.length - 3), // signature
      flip(real, framework === 'express' ? 4 : 2), // id, signature kept
      sign(framework, randomBytes(24).toString('base64url')), // well-signed unknown default-format id
      sign(framework, `${randomBytes(8).toString('base64url')}.${randomBytes(32).toString('base64url')}`), // unknown sessioncache-format id
      sign(framework, 'x'.repeat(2000)),
      sign(framework, '../../../etc/passwd'),
      'garbage',
    ];
    for (const value of forged) {
      const b = new Browser();
      b.cookies.set(cookieName, value);
      const res = await b.get(`${a.url}/profile`);
      expect([value.slice(0, 40), res.status]).toEqual([value.slice(0, 40), 401]);
    }
    expect((await user.get(`${a.url}/profile`)).status).toBe(200);
  });
});

describe('Redis down', () => {
  it.each(['express', 'fastify'] as const)('%s: answers a quick 503 instead of hanging, and sets no cookie for an unsaved session', async (framework) => {
    const redis = await StandaloneRedis.start();
    let app: Instance | undefined;
    try {
      app = await startInstance(framework, {}, { redis: { standalone: redis.address }, commandTimeoutMs: 300, connectTimeoutMs: 2000 });
      const user = new Browser();
      expect((await user.post(`${app.url}/login`, { username: 'jane' })).status).toBe(200);
      await redis.signal('SIGKILL');

      const profile = await user.get(`${app.url}/profile`);
      expect(profile.status).toBe(503);
      expect(profile.body).toMatchObject({ error: 'session_store_unavailable' });

      // A new visitor whose first session cannot be stored: an error, not 201 plus a dead cookie.
      const visitor = new Browser();
      const cart = await visitor.post(`${app.url}/cart`, { sku: 'kiwi', qty: 1 });
      expect(cart.status).toBe(503);
      expect(cart.setCookies.map((c) => c.name)).not.toContain(COOKIE[framework]);
    } finally {
      await app?.close();
      await redis.stop();
    }
  });
});
