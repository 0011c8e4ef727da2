import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import calculateSlot from 'cluster-key-slot';
import { InvalidOptionsError } from '../errors';
import { CellRing, CellRouter, type CellWeight } from './ring';
import { compileRing } from './test-support/compile-ring';
import { referenceCellFor } from './test-support/reference-ring';
import { seededTags } from './test-support/seeded-tags';

const cells = (...names: string[]): CellWeight[] => names.map((name) => ({ name }));
const FOUR = cells('cell-a', 'cell-b', 'cell-c', 'cell-d');
const FIVE = cells('cell-a', 'cell-b', 'cell-c', 'cell-d', 'cell-e');

/** How many tags each cell owns. */
function loads(ring: CellRing, tags: readonly string[]): Map<string, number> {
  const counts = new Map(ring.cells.map((c) => [c, 0]));
  for (const tag of tags) {
    const cell = ring.cellFor(tag);
    counts.set(cell, (counts.get(cell) ?? 0) + 1);
  }
  return counts;
}

/** Per cell, observed share / expected share - 1. */
function shareErrors(ring: CellRing, tags: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [cell, n] of loads(ring, tags)) out[cell] = n / tags.length / ring.shareOf(cell) - 1;
  return out;
}

/** Tags whose cell differs between two rings, as `from>to` → count. */
function moves(before: CellRing, after: CellRing, tags: readonly string[]): { moved: number; byRoute: Map<string, number> } {
  const byRoute = new Map<string, number>();
  let moved = 0;
  for (const tag of tags) {
    const a = before.cellFor(tag);
    const b = after.cellFor(tag);
    if (a === b) continue;
    moved++;
    byRoute.set(`${a}>${b}`, (byRoute.get(`${a}>${b}`) ?? 0) + 1);
  }
  return { moved, byRoute };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('CellRing validation', () => {
  test.each<[string, unknown, string, string]>([
    ['not an array', 'cell-a', 'redis.cells', 'must be a non-empty array'],
    ['undefined', undefined, 'redis.cells', 'must be a non-empty array'],
    ['an empty list', [], 'redis.cells', 'must list at least one cell, got an empty array'],
    ['a null cell', [{ name: 'a' }, null], 'redis.cells[1]', 'must be an object'],
    ['a missing name', [{ weight: 1 }], 'redis.cells[0].name', 'must be a string, got undefined'],
    ['an empty name', [{ name: '' }], 'redis.cells[0].name', "'' is not a valid cell name"],
    ['a name with a space', [{ name: 'eu 1' }], 'redis.cells[0].name', 'not a valid cell name'],
    ['a trailing newline', [{ name: 'eu-1\n' }], 'redis.cells[0].name', 'not a valid cell name'],
    ['a leading dash', [{ name: '-eu' }], 'redis.cells[0].name', 'starting with a letter or digit'],
    ['a non-ASCII name', [{ name: 'zürich' }], 'redis.cells[0].name', 'not a valid cell name'],
    ['a 64-character name', [{ name: 'x'.repeat(64) }], 'redis.cells[0].name', '1 to 63'],
    ['a duplicate name', cells('a', 'b', 'a'), 'redis.cells[2].name', "duplicate cell name 'a' (also at redis.cells[0])"],
    ['names differing in case', cells('eu-1', 'EU-1'), 'redis.cells[1].name', "differs only in case from 'eu-1'"],
    ['a zero weight', [{ name: 'a', weight: 0 }], 'redis.cells[0].weight', 'greater than 0, got 0 (to take a cell out'],
    ['a negative weight', [{ name: 'a' }, { name: 'b', weight: -1 }], 'redis.cells[1].weight', 'greater than 0, got -1'],
    ['a NaN weight', [{ name: 'a', weight: NaN }], 'redis.cells[0].weight', 'got NaN'],
    ['an infinite weight', [{ name: 'a', weight: Infinity }], 'redis.cells[0].weight', 'finite number'],
    ['a subnormal weight', [{ name: 'a', weight: 5e-324 }], 'redis.cells[0].weight', 'got 5e-324'],
    ['a string weight', [{ name: 'a', weight: '2' }], 'redis.cells[0].weight', "got '2'"],
    ['a null weight', [{ name: 'a', weight: null }], 'redis.cells[0].weight', 'got null'],
  ])('rejects %s with a TypeError naming the option', (_, input, option, message) => {
    const err = thrown(() => new CellRing(input as CellWeight[]));
    expect(err).toBeInstanceOf(TypeError);
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect(err).toMatchObject({ code: 'SC_ERR_INVALID_OPTIONS', option });
    expect((err as Error).message).toContain(`"${option}"`);
    expect((err as Error).message).toContain(message);
  });

  test('names the option it was given, so previousCells mistakes are reported as such', () => {
    expect(thrown(() => new CellRing([{ name: 'a', weight: -2 }], { option: 'redis.previousCells' }))).toMatchObject({
      option: 'redis.previousCells[0].weight',
    });
  });

  test('accepts the edges of the name rule and ignores other cell fields', () => {
    const ring = new CellRing([
      { name: 'x'.repeat(63) },
      { name: '0.eu_west-1' },
      { name: 'A', weight: 0.001, cluster: ['127.0.0.1:7000'] } as CellWeight,
    ]);
    expect(ring.size).toBe(3);
    expect(ring.weightOf('A')).toBe(0.001);
  });
});

describe('CellRing placement', () => {
  const tags = seededTags(10_000, 7);

  test('a single cell owns everything', () => {
    const ring = new CellRing(cells('only'));
    expect(new Set(tags.map((t) => ring.cellFor(t)))).toEqual(new Set(['only']));
  });

  test('does not depend on the order cells are listed in', () => {
    const listed = [{ name: 'b', weight: 2 }, { name: 'a' }, { name: 'd', weight: 2 }, { name: 'c', weight: 0.5 }];
    const reordered = [listed[3], listed[1], listed[0], listed[2]] as CellWeight[];
    const one = new CellRing(listed);
    const two = new CellRing(reordered);
    expect(two.signature).toBe(one.signature);
    expect(two.cells).toEqual(one.cells);
    expect(tags.map((t) => two.cellFor(t))).toEqual(tags.map((t) => one.cellFor(t)));
  });

  test('canonical order and signature: heaviest first, then by name', () => {
    const ring = new CellRing([{ name: 'b' }, { name: 'a' }, { name: 'c', weight: 3 }]);
    expect(ring.cells).toEqual(['c', 'a', 'b']);
    expect(ring.signature).toBe('c*3,a*1,b*1');
    expect([ring.shareOf('c'), ring.shareOf('a'), ring.shareOf('zz')]).toEqual([0.6, 0.2, 0]);
    expect([ring.has('a'), ring.has('A'), ring.weightOf('b'), ring.weightOf('x')]).toEqual([true, false, 1, undefined]);
  });

  test('matches weighted rendezvous hashing computed from its definition', () => {
    const configs: CellWeight[][] = [
      FIVE,
      [{ name: 'a', weight: 1 }, { name: 'b', weight: 2 }, { name: 'c', weight: 3 }, { name: 'd', weight: 4 }],
      [{ name: 'big', weight: 100 }, { name: 'small', weight: 0.3 }, { name: 'mid', weight: 7.5 }],
    ];
    for (const config of configs) {
      const ring = new CellRing(config);
      const mismatches = tags.filter((t) => ring.cellFor(t) !== referenceCellFor(config, t));
      expect([ring.signature, mismatches.slice(0, 3)]).toEqual([ring.signature, []]);
    }
  });

  test('pins known tag → cell pairs (changing them remaps live sessions)', () => {
    const equal = new CellRing(cells('eu-1', 'eu-2', 'us-1'));
    const weighted = new CellRing([{ name: 'eu-1' }, { name: 'eu-2' }, { name: 'us-1', weight: 2 }]);
    const sample = tags.slice(0, 8);
    expect(sample.map((t) => `${t} ${equal.cellFor(t)} ${weighted.cellFor(t)}`)).toEqual(GOLDEN_PLACEMENTS);
  });

  test('rejects a tag that is not a string', () => {
    const ring = new CellRing(FOUR);
    expect(() => ring.cellFor(42 as unknown as string)).toThrow(new TypeError('CellRing.cellFor: tag must be a string, got 42'));
  });
});

describe('the same id maps to the same cell in separate processes', () => {
  let compiled: { ringJs: string; outDir: string };
  beforeAll(() => {
    compiled = compileRing();
  }, 60_000);
  afterAll(() => {
    if (compiled) rmSync(compiled.outDir, { recursive: true, force: true });
  });

  test('10,000 tags give the same cells in a child node process', () => {
    const config = [{ name: 'eu-1' }, { name: 'eu-2', weight: 2 }, { name: 'us-1' }, { name: 'ap-1', weight: 0.5 }];
    const tags = seededTags(10_000, 2024);
    const child = [
      "const { CellRing } = require(process.argv[1]);",
      "const { cells, tags } = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));",
      'const ring = new CellRing(cells);',
      'process.stdout.write(JSON.stringify(tags.map((t) => ring.cellFor(t))));',
    ].join('\n');
    // Another V8 string-hash seed, time zone and locale: routing must depend on none of them.
    const out = execFileSync(process.execPath, ['--hash-seed=977', '-e', child, compiled.ringJs], {
      input: JSON.stringify({ cells: [...config].reverse(), tags }),
      env: { ...process.env, TZ: 'Pacific/Chatham', LC_ALL: 'tr_TR.UTF-8', LANG: 'tr_TR.UTF-8' },
      encoding: 'utf8',
      maxBuffer: 16 << 20,
    });
    const theirs = JSON.parse(out) as string[];
    const ring = new CellRing(config);
    const ours = tags.map((t) => ring.cellFor(t));
    const fingerprint = (placed: readonly string[]): string =>
      createHash('sha256')
        .update(tags.map((t, i) => `${t}>${placed[i]}`).join('\n'))
        .digest('hex');
    expect({ fingerprint: fingerprint(theirs), firstDifference: theirs.findIndex((c, i) => c !== ours[i]) }).toEqual({
      fingerprint: fingerprint(ours),
      firstDifference: -1,
    });
    // Every cell is used, so the comparison is not trivially equal.
    expect(new Set(ours).size).toBe(4);
  });
});

describe('on 1,000,000 ids', () => {
  const N = 1_000_000;
  let tags: string[];
  beforeAll(() => {
    tags = seededTags(N, 0x5e55);
  });

  test('adding a fifth cell to four moves 1/5 of the ids (±5%), all of them to the new cell', () => {
    const { moved, byRoute } = moves(new CellRing(FOUR), new CellRing(FIVE), tags);
    const fraction = moved / N;
    expect(fraction).toBeGreaterThanOrEqual(0.19);
    expect(fraction).toBeLessThanOrEqual(0.21);
    expect([...byRoute.keys()].filter((route) => !route.endsWith('>cell-e'))).toEqual([]);
  });

  test.each([3, 4, 5, 16])('%i equal cells: max/mean load at most 1.05', (n) => {
    const ring = new CellRing(cells(...Array.from({ length: n }, (_, i) => `cell-${i}`)));
    const counts = [...loads(ring, tags).values()];
    expect(counts).toHaveLength(n);
    expect(Math.max(...counts) / (N / n)).toBeLessThanOrEqual(1.05);
  });

  test.each<[string, CellWeight[]]>([
    ['1:2:3:4', [{ name: 'a', weight: 1 }, { name: 'b', weight: 2 }, { name: 'c', weight: 3 }, { name: 'd', weight: 4 }]],
    ['fractional and skewed', [{ name: 'x', weight: 0.5 }, { name: 'y', weight: 1.5 }, { name: 'z', weight: 8 }]],
  ])('weights %s are honoured within 5%', (_, config) => {
    const ring = new CellRing(config);
    const errors = shareErrors(ring, tags);
    for (const [cell, error] of Object.entries(errors)) expect([cell, Math.abs(error) <= 0.05, error]).toEqual([cell, true, error]);
  });

  test('removing a cell that is not the last moves only its own ids, spread over the rest', () => {
    const without = new CellRing(cells('cell-a', 'cell-b', 'cell-d', 'cell-e'));
    const { moved, byRoute } = moves(new CellRing(FIVE), without, tags);
    expect([...byRoute.keys()].filter((route) => !route.startsWith('cell-c>'))).toEqual([]);
    expect(moved / N).toBeGreaterThanOrEqual(0.19);
    expect(moved / N).toBeLessThanOrEqual(0.21);
    for (const to of without.cells) expect(((byRoute.get(`cell-c>${to}`) ?? 0) / moved) * 4).toBeCloseTo(1, 1);
  });

  test("a cell's ids still spread evenly over the masters of its cluster", () => {
    // The cell and the Redis Cluster slot both come from the tag (murmur3 vs CRC16): if the two
    // were related, a cell would load some of its own masters more than others.
    const ring = new CellRing(FIVE);
    const mine = tags.filter((t) => ring.cellFor(t) === 'cell-a');
    const master = (tag: string): number => Math.min(2, Math.floor(calculateSlot(tag) / 5461.34)); // 3 slot ranges
    const perMaster = [0, 1, 2].map((m) => mine.filter((t) => master(t) === m).length);
    for (const n of perMaster) expect(n / (mine.length / 3)).toBeCloseTo(1, 1);
  });

  test('raising one weight only pulls ids to that cell', () => {
    const before = new CellRing(FOUR);
    const after = new CellRing([...FOUR.slice(0, 3), { name: 'cell-d', weight: 2 }]);
    const { moved, byRoute } = moves(before, after, tags);
    expect([...byRoute.keys()].filter((route) => !route.endsWith('>cell-d'))).toEqual([]);
    // From 1/4 to 2/5 of the ids: 0.15 of them move.
    expect(moved / N).toBeCloseTo(0.15, 2);
  });
});

describe('CellRouter', () => {
  const tags = seededTags(50_000, 11);

  test('without previousCells nothing has a previous owner', () => {
    const router = CellRouter.fromCells(FOUR);
    expect(router.migrating).toBe(false);
    expect(tags.filter((t) => router.previousOwnerOf(t) !== undefined)).toEqual([]);
    expect(router.allCells).toEqual(router.current.cells);
  });

  test('previousCells equal to cells (in another order) is no migration', () => {
    const router = CellRouter.fromCells(FOUR, [...FOUR].reverse());
    expect(router.migrating).toBe(false);
    expect(router.previous).toBeUndefined();
    expect(tags.filter((t) => router.previousOwnerOf(t) !== undefined)).toEqual([]);
  });

  test('adding a cell: moved ids have the new cell as owner and their old cell as previous owner', () => {
    const router = CellRouter.fromCells(FIVE, FOUR);
    const old = new CellRing(FOUR);
    expect([router.migrating, router.addedCells, router.drainingCells]).toEqual([true, ['cell-e'], []]);
    let movedCount = 0;
    const wrong: string[] = [];
    for (const tag of tags) {
      const { owner, previousOwner } = router.route(tag);
      if (router.ownerOf(tag) !== owner || router.previousOwnerOf(tag) !== previousOwner) wrong.push(`${tag}: route() disagrees`);
      if (previousOwner !== undefined) movedCount++;
      const expected = owner === old.cellFor(tag) ? undefined : old.cellFor(tag);
      if (previousOwner !== expected || (previousOwner !== undefined && owner !== 'cell-e')) wrong.push(`${tag}: ${previousOwner} -> ${owner}`);
    }
    expect(wrong.slice(0, 3)).toEqual([]);
    expect(movedCount / tags.length).toBeCloseTo(0.2, 1);
  });

  test('removing a cell drains it: only its ids have a previous owner, and the cell is still listed', () => {
    const router = CellRouter.fromCells(cells('cell-a', 'cell-b', 'cell-d', 'cell-e'), FIVE);
    expect([router.addedCells, router.drainingCells]).toEqual([[], ['cell-c']]);
    expect(router.allCells).toEqual(['cell-a', 'cell-b', 'cell-d', 'cell-e', 'cell-c']);
    const previous = new Set(tags.map((t) => router.previousOwnerOf(t)));
    expect(previous).toEqual(new Set([undefined, 'cell-c']));
  });

  test('validates both lists and says which one is wrong', () => {
    expect(thrown(() => CellRouter.fromCells(FOUR, [{ name: 'a' }, { name: 'a' }]))).toMatchObject({ option: 'redis.previousCells[1].name' });
    expect(thrown(() => CellRouter.fromCells([], FOUR))).toMatchObject({ option: 'redis.cells' });
  });
});

// tag, owner among eu-1/eu-2/us-1 with equal weights, owner with us-1 at weight 2.
const GOLDEN_PLACEMENTS = [
  'LBX_AhJ_3A8 eu-2 us-1',
  'Xp4W-paL87I eu-2 eu-2',
  '5299hfRE0Gc eu-1 eu-1',
  'lQVbd6u8az0 eu-2 us-1',
  'Lb-mjdie1bo eu-1 eu-1',
  'WzMAQmM77Cc eu-1 eu-1',
  'EmWbw3wHtoQ eu-2 eu-2',
  'ZZZ3Ms2IMl4 us-1 us-1',
];
