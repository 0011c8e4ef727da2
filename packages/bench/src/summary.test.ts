import { formatNs, formatRate, formatRatio, formatSpread, ratio, spread } from './summary';

describe('spread', () => {
  it('gives the median with min and max, skipping non-finite rounds', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(spread([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4, n: 4 });
    expect(spread([5, Number.NaN, Infinity])).toEqual({ median: 5, min: 5, max: 5, n: 1 });
    expect(spread([]).n).toBe(0);
    expect(spread([]).median).toBeNaN();
  });
});

describe('ratio', () => {
  it('is NaN unless both sides are usable', () => {
    expect(ratio(10, 4)).toBe(2.5);
    expect(ratio(10, 0)).toBeNaN();
    expect(ratio(Number.NaN, 1)).toBeNaN();
  });
});

describe('formatting', () => {
  it('keeps three significant digits with a readable unit', () => {
    expect(formatNs(512)).toBe('512 ns');
    expect(formatNs(1234)).toBe('1.23 µs');
    expect(formatNs(2_500_000)).toBe('2.50 ms');
    expect(formatRate(1234)).toBe('1.2k');
    expect(formatRate(2_345_678)).toBe('2.35M');
    expect(formatRatio(12.34)).toBe('12.3×');
    expect(formatRatio(1.234)).toBe('1.23×');
    expect(formatSpread(spread([1000, 2000, 3000]), formatNs)).toBe('2.00 µs (1.00 µs–3.00 µs)');
    expect(formatSpread(spread([]), formatNs)).toBe('-');
  });
});
