import { FULL_OPTIONS, parseArgs, QUICK_OPTIONS } from './options';

describe('parseArgs', () => {
  it('defaults to the full run and records the command', () => {
    const o = parseArgs([])!;
    expect(o.quick).toBe(false);
    expect(o.sessions).toBe(50_000);
    expect(o.inflight).toBe(64);
    expect(o.command).toBe('npm run -w @sessioncache/bench bench');
  });

  it('--quick shortens the run; explicit options still win', () => {
    const o = parseArgs(['--quick', '--rounds', '7', '--only', 'mixed,lag'])!;
    expect(o.quick).toBe(true);
    expect(o.roundMs).toBe(QUICK_OPTIONS.roundMs);
    expect(o.rounds).toBe(7);
    expect(o.only).toEqual(['mixed', 'lag']);
    expect(o.command).toBe('npm run -w @sessioncache/bench bench -- --quick --rounds 7 --only mixed,lag');
    expect(FULL_OPTIONS.rounds).not.toBe(7);
  });

  it('refuses bad values naming the option', () => {
    expect(() => parseArgs(['--rounds', '0'])).toThrow(/--rounds/);
    expect(() => parseArgs(['--only', 'nope'])).toThrow(/--only/);
    expect(() => parseArgs(['--scale', '10,x'])).toThrow(/--scale/);
    expect(() => parseArgs(['--bogus'])).toThrow(/unknown option "--bogus"/);
    expect(() => parseArgs(['--out'])).toThrow(/--out needs a path/);
  });

  it('--help returns nothing (usage is printed instead)', () => {
    expect(parseArgs(['--help'])).toBeUndefined();
  });

  it('--no-docs skips the markdown report; --from-json re-renders one from saved results', () => {
    expect(parseArgs(['--no-docs'])!.docsPath).toBeUndefined();
    expect(parseArgs(['--from-json', 'bench-results/x.json'])!.fromJson).toMatch(/bench-results\/x\.json$/);
    expect(parseArgs([])!.fromJson).toBeUndefined();
  });
});
