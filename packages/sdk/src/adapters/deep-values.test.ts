import fc from 'fast-check';
import { deepFreeze } from '../freeze';
import { deepCopy, deepEqual } from './deep-values';

const json = fc.jsonValue();

describe('deepCopy', () => {
  it('returns an equal value that shares no mutable object with a frozen original', () => {
    fc.assert(
      fc.property(json, (v) => {
        const frozen = deepFreeze(structuredClone(v));
        const copy = deepCopy(frozen);
        expect(deepEqual(copy, frozen)).toBe(true);
        const walk = (x: unknown): void => {
          if (typeof x !== 'object' || x === null) return;
          expect(Object.isFrozen(x)).toBe(false);
          for (const y of Object.values(x)) walk(y);
        };
        walk(copy);
      }),
    );
  });

  it('copies Dates, Buffers, Maps and Sets', () => {
    const src = { d: new Date(5), b: Buffer.from('ab'), m: new Map([['k', [1]]]), s: new Set([1]) };
    const c = deepCopy(src);
    c.d.setTime(9);
    c.b[0] = 0;
    c.m.get('k')!.push(2);
    c.s.add(2);
    expect(src).toEqual({ d: new Date(5), b: Buffer.from('ab'), m: new Map([['k', [1]]]), s: new Set([1]) });
  });
});

describe('deepEqual', () => {
  it('equals structurally equal values, whatever the key order', () => {
    fc.assert(fc.property(json, (v) => deepEqual(v, structuredClone(v))));
    expect(deepEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(deepEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
  });

  it('tells apart any change a save must write', () => {
    const cases: Array<[unknown, unknown]> = [
      [1, '1'],
      [[1, 2], [2, 1]],
      [[1], { 0: 1 }],
      [{ a: [1] }, { a: [1, 2] }],
      [{ a: null }, { a: undefined }],
      [new Date(1), new Date(2)],
      [new Date(1), 1],
      [Buffer.from('a'), Buffer.from('b')],
      [Buffer.from('a'), new Uint8Array([97])],
      [new Map([['a', 1]]), new Map([['a', 2]])],
      [new Set([1]), new Set([2])],
      [0, -0],
    ];
    for (const [a, b] of cases) {
      expect([a, b, deepEqual(a, b)]).toEqual([a, b, false]);
    }
    fc.assert(
      fc.property(json, json, (a, b) => {
        // JSON round trip is the ground truth for JSON values (key order aside).
        const canon = (x: unknown): string => JSON.stringify(x, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) : v));
        return deepEqual(a, b) === (canon(a) === canon(b)) || Object.is(a, -0) || Object.is(b, -0);
      }),
    );
  });
});
