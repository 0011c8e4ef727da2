import { randomBytes } from 'node:crypto';
import { Codec } from './codec';
import { DecodeError, InvalidOptionsError } from './errors';

const sample = {
  date: new Date(1700000000123),
  nested: { a: [1, { b: 'é😀 unicode' }], empty: {} },
  buf: Buffer.from([0, 1, 2, 255]),
  big: 2n ** 70n,
  int64: 2n ** 63n - 1n,
  maxSafe: Number.MAX_SAFE_INTEGER,
  float: 1e300,
  neg: -12.5,
  t: true,
  n: null,
};

describe('Codec', () => {
  it.each([
    ['plain', new Codec()],
    ['encrypted', new Codec({ keys: [{ id: 7, key: randomBytes(32) }] })],
  ])('%s: dates, nested objects, Buffers, unicode and large numbers round-trip', (_, codec) => {
    for (const [name, value] of Object.entries(sample)) {
      const out = codec.decode(name, codec.encode(name, value));
      expect(out).toEqual(value);
    }
    expect(codec.decode('d', codec.encode('d', sample.date))).toBeInstanceOf(Date);
    expect(Buffer.isBuffer(codec.decode('b', codec.encode('b', sample.buf)))).toBe(true);
  });

  it('rejects corrupt envelopes with DecodeError', () => {
    const codec = new Codec();
    const good = codec.encode('x', { a: 1 });
    for (const bad of [Buffer.alloc(0), Buffer.from([1]), Buffer.from([2, 0, 0, 0x90]), Buffer.from([1, 4, 0, 0x90]), Buffer.from([1, 0, 3, 0x90]), Buffer.from([1, 0, 0, 0xc1]), Buffer.from([1, 0, 0, 0x91, 0xc1]), Buffer.from([1, 0, 0, 0x01, 0x02]), Buffer.from('garbage that is not an envelope')]) {
      expect(() => codec.decode('x', bad)).toThrow(DecodeError);
    }
    expect(codec.decode('x', good)).toEqual({ a: 1 });
  });

  it('encrypted values do not contain the plaintext and fail when tampered, moved or keyless', () => {
    const key = randomBytes(32);
    const codec = new Codec({ keys: [{ id: 1, key }] });
    const enc = codec.encode('email', 'alice@example.com');
    expect(enc.includes(Buffer.from('alice@example.com'))).toBe(false);
    const tampered = Buffer.from(enc);
    tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 1;
    expect(() => codec.decode('email', tampered)).toThrow(DecodeError);
    expect(() => codec.decode('other-attribute', enc)).toThrow(DecodeError);
    expect(() => new Codec().decode('email', enc)).toThrow(DecodeError);
    expect(() => new Codec({ keys: [{ id: 2, key }] }).decode('email', enc)).toThrow(/no decryption key/);
  });

  it('rotation: reads with the old key, writes with the new one', () => {
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    const old = new Codec({ keys: [{ id: 1, key: k1 }] });
    const rotated = new Codec({ keys: [{ id: 1, key: k1 }, { id: 2, key: k2.toString('hex') }], activeKeyId: 2 });
    const v1 = old.encode('a', { x: 1 });
    expect(rotated.decode('a', v1)).toEqual({ x: 1 });
    expect(rotated.needsReencryption(v1)).toBe(true);
    const v2 = rotated.encode('a', { x: 2 });
    expect(v2[2]).toBe(2);
    expect(rotated.needsReencryption(v2)).toBe(false);
    expect(() => old.decode('a', v2)).toThrow(DecodeError);
  });

  it.each([
    [{ keys: [] }, /encryption.keys/],
    [{ keys: [{ id: 0, key: randomBytes(32) }] }, /id/],
    [{ keys: [{ id: 1, key: randomBytes(16) }] }, /32 bytes/],
    [{ keys: [{ id: 1, key: randomBytes(32) }], activeKeyId: 9 }, /activeKeyId/],
  ])('rejects bad encryption options %#', (opts, re) => {
    expect(() => new Codec(opts)).toThrow(InvalidOptionsError);
    expect(() => new Codec(opts)).toThrow(re);
  });
});
