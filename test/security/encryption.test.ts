/**
 * AES-256-GCM encryption of attribute values at rest, end to end through Redis: what a dump,
 * a replica or MONITOR shows (raw HGETALL) holds no plaintext; key ids make rotation possible
 * (read with the old key, write with the new one); a value altered in Redis, or read without
 * its key, is a decode failure (the session reads as missing), never a crash or garbage.
 *
 * Runs on the shared integration cluster.
 */
import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import type { ConnectOptions, EncryptionOptions } from '@sessioncache/sdk';
import { closeAll, connect as connectShared, flush, seeds, sessionKey } from '../../packages/sdk/src/test-support/harness';

const KEY_1 = randomBytes(32);
const KEY_2 = randomBytes(32);
const MARKER = 'PLAINTEXT-MARKER-4242';
const CARD = '4111111111111111';

describe('encryption at rest (AES-256-GCM, key ids, rotation)', () => {
  let raw: Cluster;
  beforeAll(async () => {
    await flush();
    raw = new Cluster(seeds());
  });
  afterEach(closeAll);
  afterAll(() => raw.disconnect());

  /** An instance on the shared cluster with `encryption` (none when undefined), closed after the test. */
  function connect(encryption: EncryptionOptions | undefined, extra: Partial<ConnectOptions> = {}): ReturnType<typeof connectShared> {
    return connectShared({ ...(encryption ? { encryption } : {}), ...extra });
  }

  /** Attribute fields of a session as stored: name -> [format, flags, key id] and the bytes. */
  async function storedAttributes(id: string): Promise<Record<string, { header: number[]; bytes: Buffer }>> {
    const all = await raw.hgetallBuffer(sessionKey(id));
    const out: Record<string, { header: number[]; bytes: Buffer }> = {};
    for (const [k, v] of Object.entries(all)) if (k.startsWith('d:')) out[k.slice(2)] = { header: [...v.subarray(0, 3)], bytes: v };
    return out;
  }

  it('stores no plaintext: every attribute is [format 1, encrypted, key id] + iv + tag + ciphertext', async () => {
    const a = await connect({ keys: [{ id: 1, key: KEY_1 }] });
    const s = await a.create({ data: { note: MARKER, card: CARD, nested: { deep: [MARKER, 42] } } });
    await a.update(s.id, { later: `${MARKER}-later` });
    const attrs = await storedAttributes(s.id);
    expect(Object.keys(attrs).sort()).toEqual(['card', 'later', 'nested', 'note']);
    for (const { header, bytes } of Object.values(attrs)) {
      expect(header).toEqual([1, 1, 1]);
      expect(bytes.length).toBeGreaterThanOrEqual(3 + 12 + 16 + 1);
    }
    // Nothing of the plaintext in anything Redis holds for the session, in any encoding.
    const dump = Buffer.concat(Object.values(await raw.hgetallBuffer(sessionKey(s.id))));
    for (const needle of [MARKER, CARD, Buffer.from(MARKER).toString('base64'), Buffer.from(MARKER).toString('hex')]) {
      expect(dump.includes(Buffer.from(needle))).toBe(false);
    }
    // Another instance with the key reads it.
    const b = await connect({ keys: [{ id: 1, key: KEY_1 }] });
    expect((await b.get(s.id))?.data).toEqual({ note: MARKER, card: CARD, nested: { deep: [MARKER, 42] }, later: `${MARKER}-later` });
  });

  it('rotation: a new active key writes with key 2 and still reads key 1; the old key retires once nothing uses it', async () => {
    const old = await connect({ keys: [{ id: 1, key: KEY_1 }] });
    const s = await old.create({ data: { a: 'written with key 1', b: 'also key 1' } });
    // Step 1 of a rotation: every instance gets key 2 and keeps key 1; key 2 becomes active.
    const rotated = await connect({ keys: [{ id: 1, key: KEY_1 }, { id: 2, key: KEY_2 }], activeKeyId: 2 });
    expect((await rotated.get(s.id))?.data).toEqual({ a: 'written with key 1', b: 'also key 1' });
    await rotated.update(s.id, { a: 'rewritten with key 2' });
    const fresh = await rotated.create({ data: { c: 'new session, key 2' } });
    const attrs = await storedAttributes(s.id);
    expect(attrs.a!.header).toEqual([1, 1, 2]);
    expect(attrs.b!.header).toEqual([1, 1, 1]); // untouched attributes keep their key until rewritten
    expect((await rotated.get(s.id))?.data).toEqual({ a: 'rewritten with key 2', b: 'also key 1' });
    // Step 2, only once every session written before step 1 has expired (absoluteTimeoutSec):
    // key 1 is dropped. Until then a session still holding key-1 attributes reads as missing.
    const retired = await connect({ keys: [{ id: 2, key: KEY_2 }] }, { logger: { warn: () => undefined } });
    expect((await retired.get(fresh.id))?.data).toEqual({ c: 'new session, key 2' });
    expect(await retired.get(s.id)).toBeNull();
    expect(retired.stats().decodeFailures).toBe(1);
  });

  it('a value altered in Redis, moved to another attribute, or read without the key reads as missing (counted, logged by fingerprint)', async () => {
    const warnings: Array<{ message: string; context: unknown }> = [];
    const logger = { warn: (message: string, context?: Record<string, unknown>) => warnings.push({ message, context }) };
    const a = await connect({ keys: [{ id: 1, key: KEY_1 }] }, { nearCache: { enabled: false }, logger });
    const [flipped, swapped, foreign] = await Promise.all([0, 1, 2].map(() => a.create({ data: { role: 'user', theme: 'dark' } })));
    const f = (await storedAttributes(flipped!.id)).role!.bytes;
    f[f.length - 1]! ^= 1;
    await raw.hset(sessionKey(flipped!.id), 'd:role', f);
    const t = (await storedAttributes(swapped!.id)).theme!.bytes;
    await raw.hset(sessionKey(swapped!.id), 'd:role', t);
    expect(await a.get(flipped!.id)).toBeNull();
    expect(await a.get(swapped!.id)).toBeNull();
    const plain = await connect(undefined, { nearCache: { enabled: false }, logger });
    expect(await plain.get(foreign!.id)).toBeNull();
    expect(a.stats().decodeFailures + plain.stats().decodeFailures).toBe(3);
    expect(warnings).toHaveLength(3);
    for (const w of warnings) {
      expect(JSON.stringify(w)).not.toMatch(new RegExp([flipped, swapped, foreign].map((s) => s!.id.split('.')[1]).join('|')));
      expect((w.context as { session: string }).session).toMatch(/^[A-Za-z0-9_-]{12}$/);
    }
  });

  // The GCM associated data used to bind a ciphertext to its attribute name only, so anyone who
  // could write to Redis could copy an encrypted attribute (say `role: 'admin'`) from one
  // session into another, where it decrypted and was trusted. It now binds the session's hash
  // too (regenerate re-encrypts for the new id), so the copy fails authentication and the
  // session reads as corrupt, i.e. missing.
  it('an encrypted attribute copied into another session does not decrypt there', async () => {
    const a = await connect({ keys: [{ id: 1, key: KEY_1 }] }, { nearCache: { enabled: false } });
    const admin = await a.create({ data: { role: 'admin' } });
    const mallory = await a.create({ data: { role: 'user' } });
    await raw.hset(sessionKey(mallory.id), 'd:role', (await storedAttributes(admin.id)).role!.bytes);
    expect((await a.get(mallory.id))?.data.role).not.toBe('admin');
  });

  it('regenerate re-encrypts for the new id (with the active key): same data, version and expiry, old id dead', async () => {
    const old = await connect({ keys: [{ id: 1, key: KEY_1 }] }, { nearCache: { enabled: false } });
    const s = await old.create({ userId: 'user-regen', data: { role: 'admin', when: new Date(1_700_000_000_000) } });
    const rotated = await connect({ keys: [{ id: 1, key: KEY_1 }, { id: 2, key: KEY_2 }] }, { nearCache: { enabled: false } });
    const next = await rotated.regenerate(s.id);
    expect(next.id).not.toBe(s.id);
    expect(next.id.slice(0, 11)).toBe(s.id.slice(0, 11)); // same user, same slot
    expect(next).toMatchObject({ userId: 'user-regen', version: s.version + 1, createdAt: s.createdAt, absoluteExpiresAt: s.absoluteExpiresAt });
    expect(await rotated.get(s.id)).toBeNull();
    expect((await rotated.get(next.id))?.data).toEqual({ role: 'admin', when: new Date(1_700_000_000_000) });
    for (const { header } of Object.values(await storedAttributes(next.id))) expect(header).toEqual([1, 1, 2]);
    // A new user moves it to that user's slot, re-encrypted there too.
    const other = await rotated.regenerate(next.id, { userId: 'user-regen-2' });
    expect((await rotated.get(other.id))?.data.role).toBe('admin');
    expect(await rotated.listByUser('user-regen-2', { withData: true })).toMatchObject([{ data: { role: 'admin' } }]);
  });

  it('metadata stays in clear: user id, timestamps and sizes (documented in docs/security.md)', async () => {
    const a = await connect({ keys: [{ id: 1, key: KEY_1 }] });
    const s = await a.create({ userId: 'user-31337', data: { x: 'secret' } });
    const meta = await raw.hgetall(sessionKey(s.id));
    expect(meta.u).toBe('user-31337');
    expect(Object.keys(meta).filter((k) => !k.startsWith('d:')).sort()).toEqual(['a', 'c', 'i', 'u', 'v', 'x', 'z']);
  });
});
