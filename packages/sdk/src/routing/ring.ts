import { inspect } from 'node:util';
import { InvalidOptionsError } from '../errors';
import { cellDraw, cellKeys, hashTag, type CellKeys } from './hashes';

/**
 * Placement of sessions on cells (independent Redis Clusters or standalone nodes).
 *
 * The algorithm is weighted rendezvous hashing (highest random weight): every cell draws a
 * pseudo-random number u in (0, 1) from the session tag and its own name, scores
 * `-weight / ln(u)`, and the highest score owns the session. docs/routing.md compares it with
 * jump consistent hash and Maglev on measurements; in short, it is the one of the three that
 * moves only the sessions it must when any cell (not just the last) is added, removed or
 * reweighted, needs no shared table, and for the handful of cells a deployment has a lookup
 * costs about as much as an lru-cache `get`.
 *
 * Everything is a pure function of the tag and of the set of `{ name, weight }`: not of the
 * order in which cells are listed, the process, the time or the Node version.
 */

/**
 * What a ring needs to know about a cell. The SDK's cell options (`{ name, cluster | standalone,
 * weight? }`) can be passed as they are; other fields are ignored.
 */
export interface CellWeight {
  /**
   * The cell's identity: it seeds the cell's hash, so renaming a cell moves its sessions.
   * 1 to 63 characters among letters, digits, `.`, `_` and `-`, starting with a letter or digit.
   */
  readonly name: string;
  /**
   * Relative share of sessions the cell receives (a cell of weight 2 gets twice the sessions of
   * a cell of weight 1). A finite number greater than 0.
   * @default 1
   */
  readonly weight?: number | undefined;
}

/** Options of {@link CellRing}. */
export interface CellRingOptions {
  /**
   * Option path named in validation errors, so that a mistake in `previousCells` is not reported
   * as one in `cells`.
   * @default 'redis.cells'
   */
  readonly option?: string;
}

/** Accepted cell names (see {@link CellWeight.name}). */
export const CELL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Weight of a cell that declares none. */
export const DEFAULT_CELL_WEIGHT = 1;

const TWO_POW_MINUS_32 = 2 ** -32;
// Globals read on the hot path are bound once, for the same reason as in hashes.ts (every
// global lookup is slow inside jest's vm context).
const { log } = Math;
const NEGATIVE_INFINITY = -Infinity;

/** A validated cell. */
interface CellSlot {
  readonly name: string;
  readonly weight: number;
}

/**
 * A consistent-hash ring of cells: maps a session tag to the name of the cell that owns it.
 *
 * Build one from the configured cells (validated eagerly, throwing {@link InvalidOptionsError},
 * a TypeError); then {@link CellRing.cellFor} is a pure, allocation-free function.
 *
 * @example
 * ```ts
 * const ring = new CellRing([{ name: 'eu-1' }, { name: 'eu-2', weight: 2 }]);
 * ring.cellFor(parsed.tag); // 'eu-2' for about two thirds of the tags
 * ```
 */
export class CellRing {
  /**
   * Cell names in canonical order (by weight, heaviest first, then by name in UTF-16 code-unit
   * order), whatever the input order.
   */
  readonly cells: readonly string[];
  /**
   * A canonical description of the ring, `name*weight,...` in canonical order. Rings with equal
   * signatures route every tag identically, so instances can log it to show they share a
   * configuration.
   */
  readonly signature: string;

  readonly #names: string[];
  readonly #keys: CellKeys[];
  // 1/weight per cell, or undefined when all weights are equal: then the highest u wins and
  // the logarithm can be skipped (the outcome is identical, -w/ln(u) grows with u).
  readonly #invWeight: Float64Array | undefined;
  readonly #weights: ReadonlyMap<string, number>;
  readonly #totalWeight: number;

  /**
   * @param cells - the cells, each `{ name, weight? }`; order does not matter.
   * @param options - see {@link CellRingOptions}.
   * @throws InvalidOptionsError (a TypeError) when the list is not a non-empty array, a name is
   *   not a valid cell name or repeats another (also when they differ only in case), or a
   *   weight is not a finite number greater than 0.
   */
  constructor(cells: readonly CellWeight[], options: CellRingOptions = {}) {
    const slots = validateCells(cells, options.option ?? 'redis.cells');
    // The canonical order decides exact ties, so it must depend on nothing but the cells:
    // heaviest first (a likely winner early lets cellForHash skip more logarithms), then by
    // name in code-unit order (not localeCompare, which depends on the locale).
    slots.sort((a, b) => b.weight - a.weight || (a.name < b.name ? -1 : 1));
    this.#names = slots.map((s) => s.name);
    this.cells = Object.freeze(this.#names.slice());
    this.#keys = slots.map((s) => cellKeys(s.name));
    const first = slots[0]?.weight;
    this.#invWeight = slots.every((s) => s.weight === first) ? undefined : Float64Array.from(slots, (s) => 1 / s.weight);
    this.#weights = new Map(slots.map((s) => [s.name, s.weight]));
    this.#totalWeight = slots.reduce((sum, s) => sum + s.weight, 0);
    this.signature = slots.map((s) => `${s.name}*${s.weight}`).join(',');
  }

  /** Number of cells. */
  get size(): number {
    return this.#names.length;
  }

  /** True when `name` is a cell of this ring. */
  has(name: string): boolean {
    return this.#weights.has(name);
  }

  /** The weight of cell `name`, or undefined when it is not in the ring. */
  weightOf(name: string): number | undefined {
    return this.#weights.get(name);
  }

  /** The fraction of all tags cell `name` is expected to own (weight / total weight), 0 if absent. */
  shareOf(name: string): number {
    return (this.#weights.get(name) ?? 0) / this.#totalWeight;
  }

  /**
   * The cell that owns sessions with routing tag `tag` (the part of a session id before the
   * dot). Any string is accepted; the same string always gives the same cell for the same set
   * of cells.
   */
  cellFor(tag: string): string {
    if (typeof tag !== 'string') throw new TypeError(`CellRing.cellFor: tag must be a string, got ${describe(tag)}`);
    return this.cellForHash(hashTag(tag));
  }

  /**
   * {@link CellRing.cellFor} for a tag already hashed with `hashTag`, so a caller consulting
   * several rings (during a migration) hashes the tag once.
   */
  cellForHash(tagHash: number): string {
    const names = this.#names;
    const n = names.length;
    const keys = this.#keys;
    const invWeight = this.#invWeight;
    let best = 0;
    // Ties (probability ~n²/2^33) go to the first cell in canonical order: strict comparisons.
    if (invWeight === undefined) {
      let bestScore = -1;
      for (let i = 0; i < n; i++) {
        const score = cellDraw(tagHash, keys[i] as CellKeys);
        if (score > bestScore) {
          bestScore = score;
          best = i;
        }
      }
    } else {
      // Maximising -w/ln(u) is maximising ln(u)/w: same ranking, and no division by ln(u).
      let bestScore = NEGATIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const u = (cellDraw(tagHash, keys[i] as CellKeys) + 0.5) * TWO_POW_MINUS_32;
        const inv = invWeight[i] as number;
        // ln(u) < u - 1, so a cell whose (u - 1)/w cannot beat the best cannot win: this skips
        // most logarithms (the costly part) without changing any outcome. The gap between the
        // two, about (1 - u)²/2 with 1 - u ≥ 2^-33, is far above rounding error.
        if ((u - 1) * inv <= bestScore) continue;
        const score = log(u) * inv;
        if (score > bestScore) {
          bestScore = score;
          best = i;
        }
      }
    }
    return names[best] as string;
  }
}

/** Where a session lives while the ring changes: see {@link CellRouter.route}. */
export interface CellRoute {
  /** The cell that owns the session under the current ring: reads go here first, writes go here. */
  readonly owner: string;
  /**
   * The cell that owned it under the previous ring, when that is another cell: a session
   * missing on `owner` may still be there, to be read and moved. Undefined when it did not move.
   */
  readonly previousOwner: string | undefined;
}

/**
 * Routing while the set of cells changes (`redis: { cells, previousCells }`): answers, for a
 * tag, the cell that owns it now and the cell that owned it before if that is a different one,
 * so the facade can read through from the previous owner and move the session.
 */
export class CellRouter {
  /** The ring sessions are placed on. */
  readonly current: CellRing;
  /**
   * The ring sessions were placed on before the change, or undefined when no change is in
   * progress (none declared, or the same cells and weights as {@link CellRouter.current}).
   */
  readonly previous: CellRing | undefined;
  /** Cells of the current ring that the previous ring did not have (they fill up). */
  readonly addedCells: readonly string[];
  /**
   * Cells of the previous ring that the current one no longer has: they only lose sessions,
   * and may be shut down once a rebalance has emptied them.
   */
  readonly drainingCells: readonly string[];

  /**
   * @param current - the ring to place sessions on.
   * @param previous - the ring of the change in progress, if any.
   */
  constructor(current: CellRing, previous?: CellRing) {
    this.current = current;
    this.previous = previous !== undefined && previous.signature !== current.signature ? previous : undefined;
    const before = this.previous;
    this.addedCells = Object.freeze(before ? current.cells.filter((c) => !before.has(c)) : []);
    this.drainingCells = Object.freeze(before ? before.cells.filter((c) => !current.has(c)) : []);
  }

  /**
   * A router from the `redis.cells` and `redis.previousCells` options, validating both (errors
   * name the option the mistake is in).
   */
  static fromCells(cells: readonly CellWeight[], previousCells?: readonly CellWeight[]): CellRouter {
    const current = new CellRing(cells, { option: 'redis.cells' });
    const previous = previousCells === undefined ? undefined : new CellRing(previousCells, { option: 'redis.previousCells' });
    return new CellRouter(current, previous);
  }

  /** True while a previous ring that routes differently is declared. */
  get migrating(): boolean {
    return this.previous !== undefined;
  }

  /** Every cell a session may be on during the change: the current cells, then the draining ones. */
  get allCells(): readonly string[] {
    return this.drainingCells.length === 0 ? this.current.cells : [...this.current.cells, ...this.drainingCells];
  }

  /** The cell that owns `tag` now. */
  ownerOf(tag: string): string {
    return this.current.cellFor(tag);
  }

  /** The cell that owned `tag` under the previous ring, or undefined when that is the current owner (or no change is in progress). */
  previousOwnerOf(tag: string): string | undefined {
    return this.route(tag).previousOwner;
  }

  /** {@link CellRouter.ownerOf} and {@link CellRouter.previousOwnerOf} with one hash of the tag. */
  route(tag: string): CellRoute {
    if (typeof tag !== 'string') throw new TypeError(`CellRouter.route: tag must be a string, got ${describe(tag)}`);
    const h = hashTag(tag);
    const owner = this.current.cellForHash(h);
    const before = this.previous?.cellForHash(h);
    return { owner, previousOwner: before === owner ? undefined : before };
  }
}

function validateCells(cells: readonly CellWeight[], option: string): CellSlot[] {
  if (!Array.isArray(cells)) throw new InvalidOptionsError(option, `must be a non-empty array of { name, weight? }, got ${describe(cells)}`);
  if (cells.length === 0) throw new InvalidOptionsError(option, 'must list at least one cell, got an empty array');
  const seen = new Map<string, number>();
  return cells.map((cell: unknown, i): CellSlot => {
    const at = `${option}[${i}]`;
    if (typeof cell !== 'object' || cell === null || Array.isArray(cell)) {
      throw new InvalidOptionsError(at, `must be an object { name, weight? }, got ${describe(cell)}`);
    }
    const { name, weight = DEFAULT_CELL_WEIGHT } = cell as { name?: unknown; weight?: unknown };
    if (typeof name !== 'string') throw new InvalidOptionsError(`${at}.name`, `must be a string, got ${describe(name)}`);
    if (!CELL_NAME_PATTERN.test(name)) {
      throw new InvalidOptionsError(
        `${at}.name`,
        `${describe(name)} is not a valid cell name: use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit ` +
          '(the name is the cell identity in the hash, so a stray space would silently move sessions)',
      );
    }
    // Names differing only in case are almost always one cell spelled twice; refusing them
    // keeps a typo from becoming a second cell.
    const folded = name.toLowerCase();
    const other = seen.get(folded);
    if (other !== undefined) {
      const first = (cells[other] as CellWeight).name;
      const how = first === name ? 'duplicate cell name' : `cell name differs only in case from ${describe(first)}:`;
      throw new InvalidOptionsError(`${at}.name`, `${how} ${describe(name)} (also at ${option}[${other}])`);
    }
    seen.set(folded, i);
    // A weight so small that 1/weight overflows would score every tag -Infinity on that cell.
    if (typeof weight !== 'number' || !Number.isFinite(weight) || !(weight > 0) || !Number.isFinite(1 / weight)) {
      const hint = weight === 0 ? ' (to take a cell out, remove it from cells and keep it in previousCells while it drains)' : '';
      throw new InvalidOptionsError(`${at}.weight`, `must be a finite number greater than 0, got ${describe(weight)}${hint}`);
    }
    return { name, weight };
  });
}

/** A bad value as the message shows it: short, one line, strings quoted (a stray space shows). */
function describe(v: unknown): string {
  return inspect(v, { depth: 0, breakLength: Infinity, maxArrayLength: 3, maxStringLength: 80 });
}
