/**
 * Property-based fuzzing (fast-check) of everything the SDK parses without I/O: session ids,
 * stored attribute envelopes (plain and AES-256-GCM), and option objects. The promise in every
 * case: no crash, only the documented typed error, and a strict parser (one spelling per id,
 * no tampered ciphertext accepted). The Redis-backed properties (ids and patches against a real
 * cluster, corrupt envelopes written raw into Redis, cookies) are in test/fuzz.
 *
 * Runs: FUZZ_RUNS (default 1000 per property; the figure in docs/reliability.md comes from
 * FUZZ_RUNS=20000). A failure prints the seed and the shrunk counterexample.
 */
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Codec } from './codec';
import { DecodeError, InvalidOptionsError } from './errors';
import { checkSessionId, generateSessionId, hashSecret, isSessionId, parseSessionId, SESSION_ID_LENGTH } from './ids';
import { resolveOptions, type SessionCacheOptions } from './options';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const params = { numRuns: RUNS };
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Strings shaped like ids: the right length and alphabet most of the time, then anything. */
const idLike = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc
    .tuple(fc.string({ unit: fc.constantFrom(...B64URL), minLength: 11, maxLength: 11 }), fc.string({ unit: fc.constantFrom(...B64URL), minLength: 43, maxLength: 43 }))
    .map(([t, s]) => `${t}.${s}`),
  fc.tuple(fc.nat(SESSION_ID_LENGTH - 1), fc.string({ minLength: 1, maxLength: 1, unit: 'binary' })).map(([i, c]) => {
    const id = generateSessionId().id;
    return id.slice(0, i) + c + id.slice(i + 1);
  }),
);

describe('fuzz: session ids', () => {
  it('never throws on any input, and the three checks always agree', () => {
    fc.assert(
      fc.property(fc.oneof(idLike, fc.anything()), (v) => {
        const why = checkSessionId(v);
        const parsed = parseSessionId(v);
        expect(isSessionId(v)).toBe(why === undefined);
        expect(parsed !== undefined).toBe(why === undefined);
        if (why !== undefined) expect(typeof why).toBe('string');
      }),
      params,
    );
  });

  it('accepts exactly one spelling per id: an accepted id re-encodes to itself', () => {
    fc.assert(
      fc.property(idLike, (v) => {
        const p = parseSessionId(v);
        if (!p) return;
        const [tag, secret] = v.split('.') as [string, string];
        expect(Buffer.from(tag, 'base64url').toString('base64url')).toBe(tag);
        expect(Buffer.from(secret, 'base64url').toString('base64url')).toBe(secret);
        expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
        expect(p.tag).toBe(tag);
        expect(p.hash).toBe(createHash('sha256').update(secret).digest().subarray(0, 24).toString('base64url'));
      }),
      params,
    );
  });

  it('every generated id is valid, and any one-character change gives an invalid or a different id', () => {
    fc.assert(
      fc.property(fc.nat(SESSION_ID_LENGTH - 1), fc.constantFrom(...B64URL, '.', '=', '+', '/', ' ', '\0', 'é'), (i, c) => {
        const id = generateSessionId().id;
        expect(parseSessionId(id)?.id).toBe(id);
        const mutated = id.slice(0, i) + c + id.slice(i + 1);
        if (mutated === id) return;
        const p = parseSessionId(mutated);
        if (p) expect(p.hash !== hashSecret(id.slice(12)) || p.tag !== id.slice(0, 11)).toBe(true);
      }),
      params,
    );
  });
});

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const plain = new Codec();
const encrypted = new Codec({ keys: [{ id: 1, key: keyA }] });
const rotated = new Codec({ keys: [{ id: 1, key: keyA }, { id: 2, key: keyB }] });

/** Calls `decode` and returns the error, which must be a DecodeError when there is one. */
function decodeError(codec: Codec, name: string, bytes: Buffer): DecodeError | undefined {
  try {
    codec.decode(name, bytes);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as DecodeError).code).toBe('SC_ERR_DECODE');
    return err as DecodeError;
  }
}

/** Plain data values as applications store them (JSON-like, plus Dates, Buffers and big ints). */
const sessionValue = fc.oneof(
  fc.jsonValue({ depthSize: 'small' }),
  fc.date({ noInvalidDate: true }),
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
);

/** JSON values whose objects hold no `__proto__` key (refused at encode: see below). */
function withoutProtoKeys(v: unknown): boolean {
  if (Array.isArray(v)) return v.every(withoutProtoKeys);
  if (v && typeof v === 'object' && !(v instanceof Date) && !Buffer.isBuffer(v)) {
    return Object.keys(v).every((k) => k !== '__proto__' && withoutProtoKeys((v as Record<string, unknown>)[k]));
  }
  return true;
}

describe('fuzz: stored envelopes', () => {
  it('a value holding a __proto__ key anywhere is refused at encode, any other value round-trips', () => {
    fc.assert(
      fc.property(fc.jsonValue({ depthSize: 'small' }), (value) => {
        for (const codec of [plain, encrypted]) {
          if (withoutProtoKeys(value)) expect(codec.decode('a', codec.encode('a', value))).toStrictEqual(normalise(value));
          else expect(() => codec.encode('a', value)).toThrow(/__proto__/);
        }
      }),
      params,
    );
    expect(() => plain.encode('a', [{ x: JSON.parse('{"__proto__": 1}') as unknown }])).toThrow(/__proto__/);
    expect(() => plain.encode('a', new Map([['__proto__', 1]]))).toThrow(/__proto__/);
  });

  it('decoding arbitrary bytes gives a value or a DecodeError, never another error, with or without keys', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), fc.uint8Array({ maxLength: 200 }), (name, bytes) => {
        for (const codec of [plain, encrypted, rotated]) decodeError(codec, name, Buffer.from(bytes));
      }),
      params,
    );
  });

  it('decoding envelopes with a valid header and garbage after it never throws anything but DecodeError', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1, 2, 255), fc.constantFrom(0, 1, 2, 3, 128), fc.constantFrom(0, 1, 2, 7), fc.uint8Array({ maxLength: 120 }), (version, flags, keyId, rest) => {
        const bytes = Buffer.concat([Buffer.from([version, flags, keyId]), Buffer.from(rest)]);
        for (const codec of [plain, encrypted, rotated]) decodeError(codec, 'a', bytes);
      }),
      params,
    );
  });

  it('plain and encrypted values round-trip (Dates, Buffers, big ints included)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 20 }), sessionValue.filter(withoutProtoKeys), (name, value) => {
        for (const codec of [plain, encrypted, rotated]) {
          const decoded = codec.decode(name, codec.encode(name, value));
          expect(decoded).toStrictEqual(normalise(value));
        }
      }),
      params,
    );
  });

  it('any change to an encrypted value (one bit, the attribute name, the key id) is refused', () => {
    fc.assert(
      fc.property(sessionValue.filter(withoutProtoKeys), fc.nat(), fc.nat(7), fc.string({ minLength: 1, maxLength: 10 }), (value, at, bit, other) => {
        const enc = rotated.encode('role', value);
        const i = 3 + (at % (enc.length - 3)); // past the header: iv, tag or ciphertext
        const flipped = Buffer.from(enc);
        flipped[i]! ^= 1 << bit;
        expect(decodeError(rotated, 'role', flipped)).toBeDefined();
        if (other !== 'role') expect(decodeError(rotated, other, enc)).toBeDefined();
        const otherKey = Buffer.from(enc);
        otherKey[2] = 1; // written with key 2, claimed to be key 1
        expect(decodeError(rotated, 'role', otherKey)).toBeDefined();
        // Without the key, or without any key, it is a DecodeError, not garbage.
        expect(decodeError(encrypted, 'role', enc)).toBeDefined();
        expect(decodeError(plain, 'role', enc)).toBeDefined();
      }),
      params,
    );
  });
});

/** What msgpack gives back for a value: -0 becomes 0 (the only loss for these value kinds). */
function normalise(v: unknown): unknown {
  if (typeof v === 'number') return Object.is(v, -0) ? 0 : v;
  if (Array.isArray(v)) return v.map(normalise);
  if (v && typeof v === 'object' && !(v instanceof Date) && !Buffer.isBuffer(v)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalise(x)]));
  }
  return v;
}

const known = ['keyPrefix', 'idleTimeoutSec', 'absoluteTimeoutSec', 'touchFraction', 'maxSessionsPerUser', 'onLimit', 'maxPayloadBytes', 'tombstoneTtlSec', 'commandTimeoutMs', 'connectTimeoutMs', 'durability', 'nearCache', 'userTagSecret', 'metrics'];
const optionValue = fc.oneof(
  fc.anything(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, 1, -1, 0.5, 2 ** 31, Number.MAX_SAFE_INTEGER, NaN, Infinity, 'tracking', 'none', 'reject', 'evict-oldest', ''),
  fc.record({ replicas: fc.anything(), timeoutMs: fc.anything() }, { requiredKeys: [] }),
  fc.record({ enabled: fc.boolean(), maxEntries: fc.integer(), maxBytes: fc.integer(), maxTtlMs: fc.integer(), invalidation: fc.string(), fallbackTtlMs: fc.integer() }, { requiredKeys: [] }),
);
const redisValue = fc.oneof(
  fc.anything(),
  fc.constant({ cluster: ['127.0.0.1:7000'] }),
  fc.record({ cluster: fc.oneof(fc.array(fc.string()), fc.string(), fc.anything()) }),
  fc.record({ standalone: fc.oneof(fc.string(), fc.record({ host: fc.anything(), port: fc.anything() })) }),
  fc.record({ cluster: fc.constant(['127.0.0.1:7000']), standalone: fc.constant('127.0.0.1:6379') }),
);

describe('fuzz: option objects', () => {
  it('resolveOptions returns or throws InvalidOptionsError naming the option, for any object', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.dictionary(fc.constantFrom(...known, 'redis', 'bogus'), optionValue).map((o) => ({ redis: { cluster: ['127.0.0.1:7000'] }, ...o })), fc.record({ redis: redisValue })), (input) => {
        let resolved;
        try {
          resolved = resolveOptions(input as SessionCacheOptions);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidOptionsError);
          expect(err).toBeInstanceOf(TypeError);
          expect((err as InvalidOptionsError).code).toBe('SC_ERR_INVALID_OPTIONS');
          expect((err as Error).message).toContain(`"${(err as InvalidOptionsError).option}"`);
          return;
        }
        // Whatever got through is coherent.
        expect(resolved.absoluteTimeoutSec).toBeGreaterThanOrEqual(resolved.idleTimeoutSec);
        expect(Number.isInteger(resolved.commandTimeoutMs) && resolved.commandTimeoutMs > 0).toBe(true);
        expect(['tracking', 'none']).toContain(resolved.nearCache.invalidation);
        expect(resolved.nearCache.maxBytes).toBeGreaterThanOrEqual(1024);
      }),
      params,
    );
  });

  it('the encryption option is accepted or refused with InvalidOptionsError, never another error', () => {
    const key = fc.oneof(fc.uint8Array({ minLength: 0, maxLength: 40 }).map((a) => Buffer.from(a)), fc.string(), fc.constant(randomBytes(32).toString('hex')), fc.constant(randomBytes(32).toString('base64')), fc.anything());
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.record({ keys: fc.array(fc.record({ id: fc.oneof(fc.integer(), fc.anything()), key }), { maxLength: 4 }), activeKeyId: fc.oneof(fc.integer(), fc.anything()) }, { requiredKeys: ['keys'] })), (enc) => {
        try {
          new Codec(enc as never);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidOptionsError);
        }
      }),
      params,
    );
  });
});
