/**
 * The hash functions cell routing is built on.
 *
 * They are part of the routing contract: every instance, every SDK version and any non-JS
 * client that routes sessions must compute exactly these values, or two instances would look
 * for one session on two different cells. Changing anything here (an algorithm, a seed) is a
 * data migration, not a refactoring; `ring.test.ts` pins known outputs to make that visible.
 */

// Bound once: inside a vm context (jest's test environment) every lookup of a global such as
// `Math` goes through the context's interceptor and costs ~100x more, enough to turn a million
// lookups in a test from milliseconds into seconds.
const imul = Math.imul;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/**
 * Seed of {@link hashTag}. Any fixed value would do; a non-zero one keeps the empty string from
 * hashing to 0.
 */
export const TAG_HASH_SEED = 0x5e55_10c4;

/**
 * The murmur3 finalizer: a bijection on 32-bit integers in which every input bit affects every
 * output bit. Returns an unsigned 32-bit integer.
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * MurmurHash3 x86_32 of the UTF-16LE encoding of `s` (unsigned 32-bit result).
 *
 * Reading UTF-16 code units two at a time gives exactly the 4-byte little-endian blocks murmur3
 * reads from `Buffer.from(s, 'utf16le')`, without allocating that buffer: the result can be
 * checked against any byte-oriented murmur3 implementation, and reproduced outside JavaScript.
 */
export function murmur3Utf16(s: string, seed: number): number {
  const n = s.length;
  const pairs = n & ~1;
  let h = seed | 0;
  let i = 0;
  for (; i < pairs; i += 2) {
    let k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
    k = imul(k, C1);
    k = (k << 15) | (k >>> 17);
    h ^= imul(k, C2);
    h = (h << 13) | (h >>> 19);
    h = (imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < n) {
    // murmur3's 2-byte tail: one code unit, no mixing rounds of h.
    let k = s.charCodeAt(i);
    k = imul(k, C1);
    k = (k << 15) | (k >>> 17);
    h ^= imul(k, C2);
  }
  // murmur3 mixes in the length in bytes.
  return fmix32(h ^ (n * 2));
}

/**
 * The routing hash of a session tag (the part of the id before the dot): murmur3 of its
 * UTF-16LE bytes with {@link TAG_HASH_SEED}. Every routing decision starts from this value, so
 * the cell of a session depends on its tag and nothing else.
 */
export function hashTag(tag: string): number {
  return murmur3Utf16(tag, TAG_HASH_SEED);
}

/** Seed of the first per-cell key (see {@link cellKeys}). */
export const CELL_XOR_SEED = 0x6365_6c6c;
/** Seed of the second per-cell key (see {@link cellKeys}). */
export const CELL_MUL_SEED = 0x7269_6e67;

/** The two 32-bit keys that make a cell's draw its own, derived from the cell name alone. */
export interface CellKeys {
  readonly xor: number;
  /** Always odd: multiplying by an odd number is a bijection modulo 2^32. */
  readonly mul: number;
}

/** The keys of cell `name`: murmur3 of the name with {@link CELL_XOR_SEED} and {@link CELL_MUL_SEED}. */
export function cellKeys(name: string): CellKeys {
  return { xor: murmur3Utf16(name, CELL_XOR_SEED) | 0, mul: murmur3Utf16(name, CELL_MUL_SEED) | 1 };
}

/**
 * A cell's pseudo-random draw for a tag: an unsigned 32-bit integer, uniform over tags for
 * each cell and unrelated between cells. Rendezvous hashing maps it to u = (draw + 0.5) / 2^32
 * in (0, 1). For a fixed cell it is a bijection of the tag hash (xor, odd multiply, fmix32).
 */
export function cellDraw(tagHash: number, keys: CellKeys): number {
  return fmix32(imul(tagHash ^ keys.xor, keys.mul));
}
