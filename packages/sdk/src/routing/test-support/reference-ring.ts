import { cellDraw, cellKeys, hashTag } from '../hashes';
import type { CellWeight } from '../ring';

/**
 * Weighted rendezvous hashing written straight from its definition (docs/routing.md), with none
 * of CellRing's shortcuts (no equal-weight fast path, no skipped logarithms, no precomputed
 * keys): the optimised ring must agree with it on every tag.
 */
export function referenceCellFor(cells: readonly CellWeight[], tag: string): string {
  const { log } = Math; // bound once: global lookups are slow inside jest's vm context
  const ordered = cells
    .map((c) => ({ name: c.name, weight: c.weight ?? 1 }))
    .sort((a, b) => (a.weight !== b.weight ? b.weight - a.weight : a.name < b.name ? -1 : 1));
  const h = hashTag(tag);
  let owner = '';
  let best = -1;
  for (const { name, weight } of ordered) {
    const u = (cellDraw(h, cellKeys(name)) + 0.5) / 2 ** 32;
    const score = -weight / log(u);
    if (score > best) {
      best = score;
      owner = name;
    }
  }
  return owner;
}
