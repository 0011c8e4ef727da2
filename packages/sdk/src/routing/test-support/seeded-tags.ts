/**
 * Deterministic session tags for routing tests: 8 pseudo-random bytes in unpadded base64url,
 * exactly the shape `randomTag()` in ids.ts produces, but from a seed so that a statistical
 * test gives the same numbers on every run.
 */

/** mulberry32: a small, fast 32-bit PRNG, good enough to stand in for the CSPRNG's bytes here. */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** `count` tags of 11 base64url characters (8 bytes each) drawn from `seed`. */
export function seededTags(count: number, seed: number): string[] {
  const next = mulberry32(seed);
  const bytes = Buffer.allocUnsafe(count * 8);
  for (let off = 0; off < bytes.length; off += 4) bytes.writeUInt32LE(next(), off);
  const tags = new Array<string>(count);
  for (let i = 0; i < count; i++) tags[i] = bytes.toString('base64url', i * 8, i * 8 + 8);
  return tags;
}
