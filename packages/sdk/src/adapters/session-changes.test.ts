import session from 'express-session';
import { changedAttributes, freshCookie, sessionAttributes, storedCookie } from './session-changes';

describe('stored cookie', () => {
  it("stores express-session's Cookie as plain data with ISO dates and without undefined fields", () => {
    // The @types declare no constructor arguments; express-session's Cookie takes its options.
    const c = new (session.Cookie as unknown as new (o: object) => session.Cookie)({ maxAge: 60_000, httpOnly: true, sameSite: 'strict', path: '/' });
    const stored = storedCookie(c)!;
    expect(stored).toEqual({ originalMaxAge: 60_000, expires: c.expires!.toISOString(), httpOnly: true, sameSite: 'strict', path: '/' });
    expect(Object.values(stored)).not.toContain(undefined);
  });

  it("drops @fastify/session's originalExpires and keeps the rest", () => {
    const expires = new Date(Date.now() + 5000);
    const fastifyLike = { toJSON: () => ({ expires, originalMaxAge: 5000, originalExpires: new Date(0), sameSite: 'lax', secure: false, path: '/', httpOnly: true, domain: null, partitioned: undefined }) };
    expect(storedCookie(fastifyLike)).toEqual({ expires: expires.toISOString(), originalMaxAge: 5000, sameSite: 'lax', secure: false, path: '/', httpOnly: true, domain: null });
  });

  it('restarts the expiry of a fresh cookie from its max age', () => {
    const c = freshCookie({ originalMaxAge: 1000, expires: new Date(0), path: '/' }, 10_000);
    expect(c).toEqual({ originalMaxAge: 1000, expires: new Date(11_000).toISOString(), path: '/' });
    expect(freshCookie({ originalMaxAge: null, path: '/' })).toEqual({ originalMaxAge: null, path: '/' });
  });
});

describe('session attributes', () => {
  it('takes own enumerable string keys, skips undefined, and leaves symbols and non-enumerables out', () => {
    const s: Record<string | symbol, unknown> = { a: 1, b: undefined, cookie: { path: '/' } };
    s[Symbol('x')] = 1;
    Object.defineProperty(s, 'id', { value: 'secret', enumerable: false });
    expect(sessionAttributes(s)).toEqual({ a: 1, cookie: { path: '/' } });
  });
});

describe('changed attributes', () => {
  const cookie = (expiresMs: number, extra: Record<string, unknown> = {}) => ({ originalMaxAge: 60_000, expires: new Date(expiresMs).toISOString(), path: '/', ...extra });
  const t0 = 1_700_000_000_000;

  it('is undefined when nothing changed', () => {
    expect(changedAttributes({ a: 1, cookie: cookie(t0) }, { a: 1, cookie: cookie(t0) }, 0.1)).toBeUndefined();
  });

  it('holds exactly the changed and removed attributes', () => {
    expect(changedAttributes({ a: 1, b: [1], c: 'x', cookie: cookie(t0) }, { a: 1, b: [1, 2], d: true, cookie: cookie(t0) }, 0.1)).toEqual({ b: [1, 2], c: undefined, d: true });
  });

  it('ignores a cookie expiry that moved less than touchFraction of its max age, alone', () => {
    expect(changedAttributes({ cookie: cookie(t0) }, { cookie: cookie(t0 + 5_999) }, 0.1)).toBeUndefined();
    expect(changedAttributes({ cookie: cookie(t0) }, { cookie: cookie(t0 + 6_000) }, 0.1)).toEqual({ cookie: cookie(t0 + 6_000) });
  });

  it('writes the cookie along with any other change, and whenever its other settings change', () => {
    expect(changedAttributes({ a: 1, cookie: cookie(t0) }, { a: 2, cookie: cookie(t0 + 10) }, 0.1)).toEqual({ a: 2, cookie: cookie(t0 + 10) });
    expect(changedAttributes({ cookie: cookie(t0) }, { cookie: cookie(t0, { sameSite: 'strict' }) }, 0.1)).toEqual({ cookie: cookie(t0, { sameSite: 'strict' }) });
  });

  it('treats any change of a fixed expiry (no max age) as a change', () => {
    const fixed = (ms: number) => ({ originalMaxAge: null, expires: new Date(ms).toISOString() });
    expect(changedAttributes({ cookie: fixed(t0) }, { cookie: fixed(t0 + 1) }, 0.1)).toEqual({ cookie: fixed(t0 + 1) });
  });
});
