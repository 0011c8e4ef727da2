/**
 * Property-based fuzzing (fast-check) of the SDK against the real integration cluster:
 * arbitrary ids to every operation, arbitrary patches and create inputs, and arbitrary
 * corruption of what Redis holds (envelopes and metadata written raw). The promises: no crash
 * and no untyped error; a malformed id never reaches Redis; a rejected write writes nothing
 * (checked in Redis: the session's raw hash, the key set, the script-call counters); a corrupt
 * stored session reads as missing, counted and logged by fingerprint.
 *
 * Runs: FUZZ_RUNS (default 200 per property here; docs/reliability.md quotes FUZZ_RUNS=2000).
 * The pure properties (parsers, codec, options) are in packages/sdk/src/fuzz.test.ts.
 */
import { Cluster } from 'ioredis';
import fc from 'fast-check';
import { parseInfo } from '@sessioncache/devcluster';
import { SessionCacheError, type Session } from '@sessioncache/sdk';
import { Codec } from '../../packages/sdk/src/codec';
import { checkSessionId } from '../../packages/sdk/src/ids';
import { allKeys, connect, flush, onEveryMaster, raw, sessionKey, tombstoneKey, useSharedCluster } from '../../packages/sdk/src/test-support/harness';
import { recordFigures } from '../faults/support/figures';

useSharedCluster();

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const params = { numRuns: RUNS };
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const ranCases: Record<string, number> = {};

afterAll(() => recordFigures('fuzz/sdk-inputs (integration)', { runsPerProperty: RUNS, cases: ranCases }));

/** Scripts Redis has run so far, over every master (what any SDK call would have sent). */
async function scriptCalls(): Promise<number> {
  const stats = await onEveryMaster(async (r) => parseInfo(String(await r.info('commandstats'))));
  const calls = (line: string | undefined): number => Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0);
  return stats.reduce((n, s) => n + calls(s.cmdstat_evalsha) + calls(s.cmdstat_eval), 0);
}

const anyId = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.constantFrom('', '.', 'null', '../../etc/passwd', 's%3Aabc', `${'A'.repeat(11)}.${'A'.repeat(43)}`),
  fc
    .tuple(fc.string({ unit: fc.constantFrom(...B64URL), minLength: 11, maxLength: 11 }), fc.string({ unit: fc.constantFrom(...B64URL), minLength: 43, maxLength: 43 }))
    .map(([t, s]) => `${t}.${s}`),
  fc.anything(),
);

/** Calls `fn`, which may resolve; a rejection must be a SessionCacheError with one of `codes`. */
async function typed<T>(fn: () => Promise<T>, codes: readonly string[]): Promise<T | SessionCacheError> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof SessionCacheError)) throw new Error(`untyped error: ${String(err)}`, { cause: err });
    if (!codes.includes(err.code)) throw new Error(`unexpected ${err.code}: ${err.message}`, { cause: err });
    return err;
  }
}

describe('fuzz against Redis: ids', () => {
  it('any id: reads give null, writes give InvalidSessionIdError or "not found"; malformed ids never reach Redis', async () => {
    const cache = await connect({ logger: { warn: () => undefined } });
    const keysBefore = new Set(await allKeys());
    const destroyedWellFormed = new Set<string>();
    let malformedCalls = 0;
    await fc.assert(
      fc.asyncProperty(anyId, async (v) => {
        const id = v as string;
        const malformed = checkSessionId(v) !== undefined;
        const before = malformed ? await scriptCalls() : 0;
        expect(await cache.get(id)).toBeNull();
        expect(await cache.getMany([id])).toEqual([null]);
        const codes = ['SC_ERR_INVALID_SESSION_ID', 'SC_ERR_SESSION_NOT_FOUND'];
        for (const r of [await typed(() => cache.update(id, { x: 1 }), codes), await typed(() => cache.regenerate(id), codes)]) {
          expect(r).toBeInstanceOf(SessionCacheError);
          expect((r as SessionCacheError).code).toBe(malformed ? 'SC_ERR_INVALID_SESSION_ID' : 'SC_ERR_SESSION_NOT_FOUND');
        }
        for (const r of [await typed(() => cache.touch(id), codes), await typed(() => cache.destroy(id), codes)]) {
          if (malformed) expect((r as SessionCacheError).code).toBe('SC_ERR_INVALID_SESSION_ID');
          else expect(r).toBe(false);
        }
        if (malformed) {
          malformedCalls++;
          expect(await scriptCalls()).toBe(before);
        } else destroyedWellFormed.add(id);
      }),
      params,
    );
    // The only keys written: the tombstones `destroy` leaves on well-formed ids (by design, so
    // a save racing a logout cannot revive the id).
    const tombstones = new Set([...destroyedWellFormed].map(tombstoneKey));
    const added = (await allKeys()).filter((k) => !keysBefore.has(k));
    expect(added.filter((k) => !tombstones.has(k))).toEqual([]);
    expect(malformedCalls).toBeGreaterThan(RUNS / 4);
    ranCases.ids = RUNS;
  });

  it('any user id: per-user calls return nothing or InvalidArgumentError, and write nothing', async () => {
    const cache = await connect();
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 300 }), fc.anything()), async (u) => {
        const list = await typed(() => cache.listByUser(u as string), ['SC_ERR_INVALID_ARGUMENT']);
        if (!(list instanceof SessionCacheError)) expect(list).toEqual([]);
        const n = await typed(() => cache.destroyAllForUser(u as string), ['SC_ERR_INVALID_ARGUMENT']);
        if (!(n instanceof SessionCacheError)) expect(n).toBe(0);
      }),
      params,
    );
    expect(await allKeys()).toEqual([]);
    ranCases.userIds = RUNS;
  });
});

const attributeName = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'prototype', '', 'x'.repeat(257), 'd:x', 'v'));
const attributeValue = fc.oneof(
  { weight: 5, arbitrary: fc.anything({ maxDepth: 3 }) },
  fc.constant(undefined),
  fc.func(fc.anything()),
  fc.constant(Symbol('s')),
  fc.bigInt(),
  fc.date(),
  fc.string({ minLength: 3000, maxLength: 6000 }),
  fc.constant(new Map([['k', 1]])),
  fc.constant(new (class Point {
    x = 1;
  })()),
);
const patch = fc.oneof({ weight: 8, arbitrary: fc.dictionary(attributeName, attributeValue, { maxKeys: 5 }) }, fc.anything());

describe('fuzz against Redis: patches and create inputs', () => {
  it('update with any patch: applied (and read back the same) or refused with a typed error and nothing written', async () => {
    const cache = await connect({ maxPayloadBytes: 4096, logger: { warn: () => undefined } });
    const r = raw();
    let refused = 0;
    let applied = 0;
    await fc.assert(
      fc.asyncProperty(patch, async (p) => {
        const s = await cache.create({ data: { keep: 'me', n: 1 } });
        const before = await r.hgetallBuffer(sessionKey(s.id));
        const out = await typed(() => cache.update(s.id, p as Record<string, unknown>), ['SC_ERR_INVALID_ARGUMENT', 'SC_ERR_PAYLOAD_TOO_LARGE']);
        const after = await r.hgetallBuffer(sessionKey(s.id));
        if (out instanceof SessionCacheError) {
          refused++;
          expect(after).toEqual(before);
          return;
        }
        applied++;
        expect(out.version).toBe(2);
        const read = (await cache.get(s.id)) as Session;
        expect(read.version).toBe(2);
        expect(read.data).toEqual(out.data);
        for (const [k, v] of Object.entries(p as Record<string, unknown>)) if (v === undefined) expect(k in read.data).toBe(false);
      }),
      params,
    );
    expect(refused).toBeGreaterThan(0);
    expect(applied).toBeGreaterThan(0);
    ranCases.patches = RUNS;
  });

  it('create with any input: a session or a typed error, and a refused create writes nothing', async () => {
    const cache = await connect({ maxPayloadBytes: 4096, logger: { warn: () => undefined } });
    await flush();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.anything(), fc.record({ userId: fc.oneof(fc.string({ maxLength: 300 }), fc.anything()), data: patch, idleTimeoutSec: fc.oneof(fc.integer(), fc.anything()), absoluteTimeoutSec: fc.oneof(fc.integer(), fc.anything()) }, { requiredKeys: [] })),
        async (input) => {
          const before = (await allKeys()).length;
          const out = await typed(() => cache.create(input as never), ['SC_ERR_INVALID_ARGUMENT', 'SC_ERR_PAYLOAD_TOO_LARGE']);
          if (out instanceof SessionCacheError) expect((await allKeys()).length).toBe(before);
          else expect((await cache.get(out.id))?.id).toBe(out.id);
        },
      ),
      params,
    );
    ranCases.createInputs = RUNS;
  });

  // Found by this suite: msgpackr renames an own `__proto__` key to `__proto_` when it decodes
  // (its prototype-pollution guard), so a nested `__proto__` key (JSON.parse makes them) was
  // stored and silently came back under another name. The codec now refuses it at write.
  it('a nested __proto__ key is refused at write or reads back unchanged', async () => {
    const cache = await connect();
    const s = await cache.create();
    const prefs = JSON.parse('{"__proto__": {"isAdmin": true}, "theme": "dark"}') as Record<string, unknown>;
    const out = await cache.update(s.id, { prefs }).catch((e: unknown) => e);
    if (out instanceof SessionCacheError) {
      expect(out.code).toBe('SC_ERR_INVALID_ARGUMENT');
      return;
    }
    expect(Object.keys((await cache.get(s.id))!.data.prefs as object).sort()).toEqual(['__proto__', 'theme']);
  });
});

/** One way of corrupting what Redis holds for a session created with `{ a: 1, b: 'two' }`. */
const corruption = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), field: fc.constantFrom('d:a', 'd:b'), bytes: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant('flip' as const), field: fc.constantFrom('d:a', 'd:b'), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('truncate' as const), field: fc.constantFrom('d:a', 'd:b'), to: fc.nat(4) }),
  fc.record({ kind: fc.constant('meta' as const), field: fc.constantFrom('v', 'c', 'a', 'i', 'x', 'u'), value: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('-1', '0', '1e308', 'NaN', 'inf', '')) }),
  fc.record({ kind: fc.constant('meta' as const), field: fc.constant('z'), value: fc.oneof(fc.nat().map(String), fc.string({ maxLength: 20 }), fc.constantFrom('0', '-1', '1e308', 'nan', '1.5')) }),
  fc.record({ kind: fc.constant('drop' as const), field: fc.constantFrom('v', 'c', 'a', 'i', 'x', 'd:a') }),
  fc.record({ kind: fc.constant('add' as const), name: fc.oneof(fc.string({ maxLength: 12 }).map((n) => `d:${n}`), fc.constantFrom('d:__proto__', 'd:constructor', 'junk')), bytes: fc.uint8Array({ maxLength: 40 }) }),
);

describe('fuzz against Redis: corrupt stored sessions', () => {
  it('whatever Redis holds, reads never throw and a corrupt session reads as missing, logged by fingerprint only', async () => {
    const warnings: string[] = [];
    const logger = { warn: (m: string, c?: Record<string, unknown>) => void warnings.push(`${m} ${JSON.stringify(c)}`) };
    const direct = await connect({ nearCache: { enabled: false }, logger });
    const cached = await connect({ logger });
    const r: Cluster = raw();
    const codec = new Codec();
    let missing = 0;
    await fc.assert(
      fc.asyncProperty(corruption, async (c) => {
        const s = await direct.create({ data: { a: 1, b: 'two' } });
        await cached.get(s.id);
        const key = sessionKey(s.id);
        if (c.kind === 'replace') await r.hset(key, c.field, Buffer.from(c.bytes));
        else if (c.kind === 'flip' || c.kind === 'truncate') {
          const v = (await r.hgetBuffer(key, c.field))!;
          if (c.kind === 'flip') v[c.at % v.length]! ^= 1 << c.bit;
          await r.hset(key, c.field, c.kind === 'flip' ? v : v.subarray(0, c.to));
        } else if (c.kind === 'meta') await r.hset(key, c.field, c.value);
        else if (c.kind === 'drop') await r.hdel(key, c.field);
        else await r.hset(key, c.name, c.name === 'd:__proto__' ? codec.encode('__proto__', { isAdmin: true }) : Buffer.from(c.bytes));
        const got = await direct.get(s.id);
        if (got === null) missing++;
        else expect(Object.getPrototypeOf(got.data)).toBe(Object.prototype);
        expect(await direct.getMany([s.id, s.id])).toHaveLength(2);
        await cached.get(s.id); // whatever it still holds or reads, no throw
        const codes = ['SC_ERR_DECODE', 'SC_ERR_SESSION_NOT_FOUND', 'SC_ERR_PAYLOAD_TOO_LARGE', 'SC_ERR_INVALID_ARGUMENT'];
        await typed(() => direct.touch(s.id), codes);
        await typed(() => direct.update(s.id, { c: 3 }), codes);
        await typed(() => direct.regenerate(s.id), codes);
        await typed(() => direct.destroy(s.id), codes);
      }),
      params,
    );
    expect(missing).toBeGreaterThan(RUNS / 4);
    expect(direct.stats().decodeFailures).toBeGreaterThan(0);
    for (const w of warnings) expect(w).toMatch(/"session":"[A-Za-z0-9_-]{12}"/);
    ranCases.corruptStoredSessions = RUNS;
  });

  // Found by this suite: the size field `z` was not validated when a session was decoded, so a
  // non-numeric or negative `z` gave the near cache a NaN or negative entry size and lru-cache
  // threw a TypeError from `get`. decodeSession now refuses any `z` but a non-negative integer.
  it.each(['!', '-100000', '1.5', 'nan'])('a session whose size field is %j reads as missing through the near cache, not a TypeError', async (z) => {
    const cache = await connect({ logger: { warn: () => undefined } });
    const s = await cache.create({ data: { a: 1 } });
    await raw().hset(sessionKey(s.id), 'z', z);
    await expect(cache.get(s.id)).resolves.toBeNull();
  });

  /** Creates a session, corrupts `field`, and checks update and regenerate refuse it and write nothing. */
  async function refusedWritesWriteNothing(field: string, value: string | Buffer): Promise<void> {
    const cache = await connect({ nearCache: { enabled: false }, logger: { warn: () => undefined } });
    const r = raw();
    const s = await cache.create({ data: { a: 1, b: 'two' } });
    await r.hset(sessionKey(s.id), field, value);
    expect(await cache.get(s.id)).toBeNull();
    const keys = (await allKeys()).sort();
    const before = await r.hgetallBuffer(sessionKey(s.id));
    await expect(cache.update(s.id, { a: 2 })).rejects.toBeInstanceOf(SessionCacheError);
    expect(await r.hgetallBuffer(sessionKey(s.id))).toEqual(before);
    await expect(cache.regenerate(s.id)).rejects.toBeInstanceOf(SessionCacheError);
    expect((await allKeys()).sort()).toEqual(keys);
  }

  // Found by this suite (Lua's tonumber reads 'nan'/'inf' as numbers, the script failed
  // half-way and Redis kept what it had written); fixed in the SDK's Lua prelude.
  it.each(['nan', 'inf', '-nan'])("a write to a session whose idle timeout Lua would read as %j is refused and writes nothing", (v) => refusedWritesWriteNothing('i', v));

  // Found by this suite: `get` read a session with an attribute that does not decode as
  // missing, but `update` and `regenerate` on it still wrote (update stored the patch and bumped
  // the version; regenerate deleted the old session and left the new one behind), then rejected
  // with DecodeError. Now regenerate checks the session decodes before writing, and update puts
  // back what it wrote (a version-guarded undo script) before rejecting.
  it('a write refused because the stored session holds an attribute that does not decode writes nothing', () =>
    refusedWritesWriteNothing('d:b', Buffer.from([1, 0, 0, 0xc1])),
  );
});
