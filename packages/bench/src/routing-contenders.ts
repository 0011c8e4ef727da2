/**
 * The placement algorithms the SDK's cell ring was chosen against (docs/routing.md): jump
 * consistent hash and Maglev, written here because the SDK does not ship them, beside the
 * shipped weighted rendezvous ring. All three start from the same tag hash, so the figures
 * compare the algorithms, not their hash functions.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CellWeight } from '../../sdk/dist/routing/ring';

/** The SDK modules the routing benchmark measures. */
export interface SdkRouting {
  readonly ring: typeof import('../../sdk/dist/routing/ring');
  readonly hashes: typeof import('../../sdk/dist/routing/hashes');
  readonly ids: typeof import('../../sdk/dist/ids');
}

/**
 * Loads the SDK's routing modules from its build output. They are internal (the package's
 * exports map does not reach them), so this private benchmark loads them by file path: it
 * measures the compiled code users run, white-box.
 */
export async function loadSdkRouting(): Promise<SdkRouting> {
  const dist = path.join(path.dirname(require.resolve('@sessioncache/sdk/package.json')), 'dist');
  const load = <T>(file: string): Promise<T> => import(pathToFileURL(path.join(dist, file)).href) as Promise<T>;
  const [ring, hashes, ids] = await Promise.all([
    load<SdkRouting['ring']>('routing/ring.js'),
    load<SdkRouting['hashes']>('routing/hashes.js'),
    load<SdkRouting['ids']>('ids.js'),
  ]);
  return { ring, hashes, ids };
}

/** A built placement: tag → cell name. */
export interface Placement {
  cellFor(tag: string): string;
}

/** A placement algorithm under comparison. */
export interface PlacementAlgorithm {
  readonly name: string;
  /** How the algorithm takes weights, for the table. */
  readonly weights: string;
  build(cells: readonly CellWeight[]): Placement;
  /**
   * The cell list after taking `name` out, in the form this algorithm needs. Only jump hash
   * needs more than a filter: it can only drop its last bucket (see its `without`).
   */
  without(cells: readonly CellWeight[], name: string): CellWeight[];
}

const filterOut = (cells: readonly CellWeight[], name: string): CellWeight[] => cells.filter((c) => c.name !== name);
const weightOf = (c: CellWeight): number => c.weight ?? 1;

/** The SDK's ring (weighted rendezvous hashing), unchanged. */
export function rendezvous(sdk: SdkRouting): PlacementAlgorithm {
  return {
    name: 'rendezvous (shipped)',
    weights: 'native, any real > 0',
    build: (cells) => new sdk.ring.CellRing(cells),
    without: filterOut,
  };
}

/**
 * Jump consistent hash (Lamping & Veach 2014) over buckets that are cells in list order. The
 * published version draws from a 64-bit LCG seeded by the key; any per-key random sequence keeps
 * its guarantees, and a 32-bit one seeded by the tag hash avoids BigInt in JavaScript.
 */
export function jumpBucket(tagHash: number, buckets: number, mix: (x: number) => number): number {
  let b = -1;
  let j = 0;
  let state = tagHash;
  while (j < buckets) {
    b = j;
    state = (state + 0x9e3779b9) | 0;
    const r = (mix(state) + 1) / 2 ** 32; // in (0, 1]
    j = Math.floor((b + 1) / r);
  }
  return b;
}

/** Jump hash; weights become that many buckets per cell, so only integer ratios are possible. */
export function jump(sdk: SdkRouting): PlacementAlgorithm {
  // Bound to locals like the SDK's own code binds its imports, so no namespace lookups are timed.
  const { fmix32, hashTag } = sdk.hashes;
  return {
    name: 'jump',
    weights: 'integer replicas only',
    build(cells) {
      const minWeight = Math.min(...cells.map(weightOf));
      const buckets = cells.flatMap((c) => Array<string>(Math.max(1, Math.round(weightOf(c) / minWeight))).fill(c.name));
      return { cellFor: (tag) => buckets[jumpBucket(hashTag(tag), buckets.length, fmix32)] as string };
    },
    // Jump hash numbers its buckets 0..n-1 and can only drop the last one. The least disruptive
    // way to drop another is to move the last cell into its bucket: the removed cell's keys go
    // to the last cell, and the last bucket's keys are spread over all the others.
    without(cells, name) {
      const at = cells.findIndex((c) => c.name === name);
      const last = cells[cells.length - 1];
      if (at < 0 || last === undefined) return [...cells];
      const out = cells.slice(0, -1);
      if (at < out.length) out[at] = last;
      return out;
    },
  };
}

/** Default Maglev table size: the prime the paper uses for small backend counts. */
export const MAGLEV_TABLE_SIZE = 65537;

/**
 * Maglev hashing (Eisenbud et al., NSDI 2016): every cell walks its own permutation of a table
 * of `size` slots and claims free slots in turns; a lookup is one table read. Weights take
 * turns in proportion (a cell of half the largest weight claims every other round).
 */
export function maglev(sdk: SdkRouting, size = MAGLEV_TABLE_SIZE): PlacementAlgorithm {
  const { murmur3Utf16, hashTag } = sdk.hashes;
  return {
    name: `maglev (M=${size})`,
    weights: 'native (turns), ±1 slot',
    build(input) {
      const cells = [...input].sort((a, b) => (a.name < b.name ? -1 : 1));
      const names = cells.map((c) => c.name);
      const weights = cells.map(weightOf);
      const maxWeight = Math.max(...weights);
      const offset = names.map((n) => murmur3Utf16(n, 0x6d61676c) % size);
      const skip = names.map((n) => (murmur3Utf16(n, 0x65765f73) % (size - 1)) + 1);
      const next = names.map(() => 0);
      const claimed = names.map(() => 0);
      const table = names.length <= 255 ? new Uint8Array(size).fill(255) : new Uint16Array(size).fill(65535);
      const free = names.length <= 255 ? 255 : 65535;
      let filled = 0;
      for (let round = 1; filled < size; round++) {
        for (let i = 0; i < names.length && filled < size; i++) {
          if ((claimed[i] as number) >= (round * (weights[i] as number)) / maxWeight) continue;
          let slot: number;
          do {
            slot = ((offset[i] as number) + (next[i] as number) * (skip[i] as number)) % size;
            next[i] = (next[i] as number) + 1;
          } while (table[slot] !== free);
          table[slot] = i;
          claimed[i] = (claimed[i] as number) + 1;
          filled++;
        }
      }
      return { cellFor: (tag) => names[table[hashTag(tag) % size] as number] as string };
    },
    without: filterOut,
  };
}
