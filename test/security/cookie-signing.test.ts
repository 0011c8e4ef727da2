/**
 * Cookie signing with rotation, through the framework adapters. The adapters do not sign
 * cookies themselves: express-session and @fastify/session do, with `secret` given as a list
 * (the first signs, all verify). What sessioncache must keep: a rotation never logs anybody
 * out while both secrets are listed, new cookies carry the new signature, a retired secret
 * stops working, and a tampered signature is an anonymous visitor (docs/security.md).
 *
 * Timing-safe comparison is the frameworks': @fastify/cookie's signer compares with
 * crypto.timingSafeEqual; express-session 1.x (cookie-signature 1.0.7) compares SHA-1 digests
 * of the expected and given values, which hides the timing of the MAC itself.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { SessionCache } from '@sessioncache/sdk';
import { seeds, track, useSharedCluster } from '../../packages/sdk/src/test-support/harness';
import { COOKIE, expressApp, fastifyApp, type TinyApp } from './support/apps';

/** The signature format both frameworks use (cookie-signature): `value.base64(HMAC-SHA256)` without padding. */
const signature = {
  sign: (value: string, secret: string): string => `${value}.${createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, '')}`,
  unsign(signed: string, secret: string): string | false {
    const value = signed.slice(0, signed.lastIndexOf('.'));
    const a = Buffer.from(signature.sign(value, secret));
    const b = Buffer.from(signed);
    return a.length === b.length && timingSafeEqual(a, b) ? value : false;
  },
};

useSharedCluster();

const OLD = 'old-cookie-secret-0123456789abcdef-0123';
const NEW = 'new-cookie-secret-fedcba9876543210-4567';

/** The signed value inside `sid=<value>` (express prefixes `s:`; @fastify/session does not). */
function signedValue(app: TinyApp, pair: string): string {
  const v = decodeURIComponent(pair.slice(COOKIE.length + 1));
  return app.framework === 'express' ? v.slice(2) : v;
}

describe.each([
  ['express', expressApp],
  ['fastify', fastifyApp],
] as const)('%s: cookie signing with secret rotation', (_, make) => {
  const apps: TinyApp[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  async function app(secrets: string[]): Promise<TinyApp> {
    const a = await make(track(await SessionCache.connect({ redis: { cluster: seeds() } })), secrets);
    apps.push(a);
    return a;
  }

  it('keeps users signed in through a rotation, re-signs with the new secret, and drops the retired one', async () => {
    const before = await app([OLD]);
    const login = await before.request('POST', '/login');
    const oldCookie = login.setCookie!;
    expect(signature.unsign(signedValue(before, oldCookie), OLD)).not.toBe(false);

    // Step 1: every instance lists [NEW, OLD]: old cookies still work, responses carry NEW.
    const during = await app([NEW, OLD]);
    const seen = await during.request('POST', '/visit', oldCookie);
    expect(seen.body.user).toBe('alice');
    const newCookie = seen.setCookie!;
    expect(newCookie).toBeDefined();
    expect(signature.unsign(signedValue(during, newCookie), NEW)).not.toBe(false);
    expect(signature.unsign(signedValue(during, newCookie), OLD)).toBe(false);

    // Step 2, once cookies signed with OLD have expired (maxAge): OLD is dropped.
    const after = await app([NEW]);
    expect((await after.request('GET', '/me', newCookie)).body.user).toBe('alice');
    expect((await after.request('GET', '/me', oldCookie)).body.user).toBeNull();
  });

  it('a cookie with a forged or altered signature is an anonymous visitor, never an error', async () => {
    const a = await app([NEW]);
    const real = (await a.request('POST', '/login')).setCookie!;
    const value = signedValue(a, real);
    const unsigned = value.slice(0, value.lastIndexOf('.'));
    const prefix = a.framework === 'express' ? 's:' : '';
    const forged = [
      `${COOKIE}=${encodeURIComponent(prefix + signature.sign(unsigned, 'guessed-secret-0123456789abcdef0123'))}`,
      `${COOKIE}=${encodeURIComponent(prefix + unsigned)}`,
      `${COOKIE}=${encodeURIComponent(prefix + unsigned + '.')}`,
      `${COOKIE}=${encodeURIComponent(prefix + value.slice(0, -1) + (value.endsWith('A') ? 'B' : 'A'))}`,
    ];
    for (const cookie of forged) {
      const res = await a.request('GET', '/me', cookie);
      expect({ cookie, status: res.status, user: res.body.user }).toEqual({ cookie, status: 200, user: null });
    }
    expect((await a.request('GET', '/me', real)).body.user).toBe('alice');
  });
});
