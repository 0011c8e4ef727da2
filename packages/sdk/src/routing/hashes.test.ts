import { cellDraw, cellKeys, fmix32, hashTag, murmur3Utf16, TAG_HASH_SEED } from './hashes';

/** MurmurHash3 x86_32 over bytes, written from the reference C code, to check the UTF-16 reader. */
function murmur3Bytes(bytes: Uint8Array, seed: number): number {
  const { imul } = Math;
  const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));
  let h = seed | 0;
  const blocks = bytes.length >> 2;
  for (let b = 0; b < blocks; b++) {
    const o = b * 4;
    let k = (bytes[o] as number) | ((bytes[o + 1] as number) << 8) | ((bytes[o + 2] as number) << 16) | ((bytes[o + 3] as number) << 24);
    k = imul(rotl(imul(k, 0xcc9e2d51), 15), 0x1b873593);
    h = (imul(rotl(h ^ k, 13), 5) + 0xe6546b64) | 0;
  }
  const tail = blocks * 4;
  if (tail < bytes.length) {
    // The 1 to 3 trailing bytes, little-endian, mixed like a block but without the h rounds.
    let k = 0;
    for (let i = bytes.length - 1; i >= tail; i--) k = (k << 8) | (bytes[i] as number);
    h ^= imul(rotl(imul(k, 0xcc9e2d51), 15), 0x1b873593);
  }
  // The shipped finalizer: the published vectors below check it through this function.
  return fmix32(h ^ bytes.length);
}

const bytes = (s: string): Uint8Array => Buffer.from(s, 'latin1');

describe('murmur3', () => {
  // Published MurmurHash3_x86_32 vectors: they pin the byte reference, which then pins ours.
  test.each([
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['a', 0x9747b28c, 0x7fa09ea6],
    ['aa', 0x9747b28c, 0x5d211726],
    ['aaa', 0x9747b28c, 0x283e0130],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['abcd', 0x9747b28c, 0xf0478627],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
  ])('reference bytes %j seed %d', (input, seed, expected) => {
    expect(murmur3Bytes(bytes(input), seed)).toBe(expected);
  });

  test('murmur3Utf16 is murmur3 of the UTF-16LE bytes, for every length parity and any code unit', () => {
    const samples = ['', 'a', 'ab', 'abc', '8-qHoMlJswA', 'eu-west-1', 'é', 'd\u00e9j\u00e0', '\u{1f600}', '\ud800', 'x'.repeat(255)];
    for (const s of samples) {
      for (const seed of [0, 1, TAG_HASH_SEED, 0xffffffff]) {
        expect([s, seed, murmur3Utf16(s, seed)]).toEqual([s, seed, murmur3Bytes(Buffer.from(s, 'utf16le'), seed)]);
      }
    }
  });

  test('murmur3Utf16 of byte-pair strings gives the published vectors', () => {
    expect(murmur3Utf16('\u6161\u6161', 0x9747b28c)).toBe(0x5a97808a); // bytes "aaaa"
    expect(murmur3Utf16('\u6261\u6463', 0x9747b28c)).toBe(0xf0478627); // bytes "abcd"
  });
});

describe('routing hash contract', () => {
  // These values are the routing contract: if one changes, instances of the old and the new
  // version look for the same session on different cells. Change them only with a migration.
  test('hashTag of known tags', () => {
    expect(['', 'AAAAAAAAAAA', '8-qHoMlJswA', '68QGh_0nJvs'].map(hashTag)).toEqual(GOLDEN_TAG_HASHES);
  });

  test('cell keys and draws of known cells', () => {
    const keys = cellKeys('eu-1');
    expect(keys).toEqual(GOLDEN_EU1_KEYS);
    expect(keys.mul & 1).toBe(1);
    expect(cellDraw(hashTag('8-qHoMlJswA'), keys)).toBe(GOLDEN_EU1_DRAW);
  });
});

const GOLDEN_TAG_HASHES = [0xdc238e26, 0x7d42e145, 0x64e6065e, 0xe323b285];
const GOLDEN_EU1_KEYS = { xor: 0x9ae40047 | 0, mul: 0x0837a72d };
const GOLDEN_EU1_DRAW = 0x1d64ff16;
