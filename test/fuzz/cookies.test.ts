/**
 * Property-based fuzzing of session cookies through both framework adapters (express-session
 * and @fastify/session on sessioncache): any Cookie header, random values, and mutations of a
 * real signed cookie. Never a server error, never somebody else's session (only a cookie whose
 * value decodes to the real one is signed in), and an anonymous request writes nothing to
 * Redis (no key appears).
 *
 * Runs: FUZZ_RUNS (default 200 per framework).
 */
import fc from 'fast-check';
import { SessionCache } from '@sessioncache/sdk';
import { allKeys, seeds, track, useSharedCluster } from '../../packages/sdk/src/test-support/harness';
import { recordFigures } from '../faults/support/figures';
import { COOKIE, expressApp, fastifyApp, type TinyApp } from '../security/support/apps';

useSharedCluster();

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SECRET = 'cookie-fuzz-secret-0123456789abcdef-0123';
/** What fetch lets through a header: printable ASCII. */
const headerChar = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const headerText = (maxLength: number) => fc.string({ unit: headerChar, maxLength });

function decoded(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** The first `sid=` value of a Cookie header (what cookie parsers take). */
function sidValue(header: string): string | undefined {
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === COOKIE) return part.slice(i + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return undefined;
}

const counts: Record<string, number> = {};
afterAll(() => recordFigures('fuzz/cookies (integration)', { runsPerFramework: RUNS, cases: counts }));

describe.each([
  ['express', expressApp],
  ['fastify', fastifyApp],
] as const)('%s: fuzzed Cookie headers', (framework, make) => {
  let app: TinyApp | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('never a 5xx, never someone else’s session, and an anonymous request writes nothing', async () => {
    app = await make(track(await SessionCache.connect({ redis: { cluster: seeds() } })), [SECRET]);
    const real = (await app.request('POST', '/login')).setCookie!;
    const realValue = decoded(real.slice(COOKIE.length + 1));
    const keys = (await allKeys()).sort();
    const cookie = fc.oneof(
      headerText(200),
      headerText(120).map((v) => `${COOKIE}=${v}`),
      fc.tuple(fc.nat(real.length - COOKIE.length - 2), headerChar).map(([i, c]) => {
        const at = COOKIE.length + 1 + i;
        return real.slice(0, at) + c + real.slice(at + 1);
      }),
      fc.tuple(headerText(20), headerText(20)).map(([a, b]) => `${a}${real}${b}`),
      fc.tuple(headerText(30), fc.constantFrom('; ', ';', ', ')).map(([x, sep]) => `${COOKIE}=${x}${sep}${real}`),
      // The real cookie among others: must still sign in (the positive control).
      fc.tuple(fc.string({ unit: fc.constantFrom(...'abcdefghij'), minLength: 1, maxLength: 8 }), fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 20 }), fc.boolean()).map(([name, v, first]) =>
        first ? `${real}; ${name}=${v}` : `${name}=${v}; ${real}`,
      ),
    );
    let signedIn = 0;
    await fc.assert(
      fc.asyncProperty(cookie, async (header) => {
        const res = await app!.request('GET', '/me', header);
        expect(res.status).toBeLessThan(500);
        if (res.body.user === 'alice') {
          signedIn++;
          expect(decoded(sidValue(header) ?? '')).toBe(realValue);
        } else {
          expect(res.body.user ?? null).toBeNull();
        }
        // Reading with a bad cookie creates nothing (saveUninitialized: false, strict ids).
        expect((await allKeys()).sort()).toEqual(keys);
      }),
      { numRuns: RUNS },
    );
    // Sanity: the real cookie still works, and some generated headers carried it unchanged.
    expect((await app.request('GET', '/me', real)).body.user).toBe('alice');
    expect(signedIn).toBeGreaterThan(0);
    counts[framework] = RUNS;
  });
});
