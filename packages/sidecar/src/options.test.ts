import { SidecarConfigError } from './errors';
import { DEFAULT_SIDECAR_OPTIONS, configFromArgs, parseDuration, parseHostPort, resolveSidecarOptions } from './options';

function configError(fn: () => unknown): SidecarConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SidecarConfigError);
    expect((err as SidecarConfigError).code).toBe('SC_ERR_SIDECAR_CONFIG');
    return err as SidecarConfigError;
  }
  throw new Error('expected a SidecarConfigError');
}

describe('sidecar configuration', () => {
  it('defaults every setting but the Redis nodes', () => {
    const c = configFromArgs(['--redis', '127.0.0.1:7000'], {});
    expect(c).toEqual({
      kind: 'run',
      options: { ...DEFAULT_SIDECAR_OPTIONS, listen: { host: '127.0.0.1', port: 9464 }, redisNodes: [{ host: '127.0.0.1', port: 7000 }] },
    });
  });

  it('reads flags over environment over defaults', () => {
    const env = {
      SESSIONCACHE_SIDECAR_LISTEN: '0.0.0.0:9000',
      SESSIONCACHE_REDIS_NODES: '10.0.0.1:6379, 10.0.0.2:6379',
      SESSIONCACHE_SIDECAR_PROBE_INTERVAL: '10s',
      SESSIONCACHE_REDIS_PASSWORD: 'secret',
      SESSIONCACHE_SIDECAR_MAX_WORKERS: '8',
    };
    const c = configFromArgs(['--listen=127.0.0.1:0', '--probe-timeout', '250ms', '--reporter-expiry', '2m'], env);
    expect(c.kind).toBe('run');
    const o = (c as Extract<typeof c, { kind: 'run' }>).options;
    expect(o.listen).toEqual({ host: '127.0.0.1', port: 0 });
    expect(o.redisNodes).toEqual([
      { host: '10.0.0.1', port: 6379 },
      { host: '10.0.0.2', port: 6379 },
    ]);
    expect(o.probeIntervalMs).toBe(10_000);
    expect(o.probeTimeoutMs).toBe(250);
    expect(o.reporterExpiryMs).toBe(120_000);
    expect(o.maxWorkers).toBe(8);
    expect(o.redisPassword).toBe('secret');
  });

  it('names the flag or variable that is wrong', () => {
    expect(configError(() => configFromArgs([], {})).message).toMatch(/--redis.*required.*SESSIONCACHE_REDIS_NODES/);
    expect(configError(() => configFromArgs(['--redis', 'nohost'], {})).option).toBe('--redis');
    expect(configError(() => configFromArgs([], { SESSIONCACHE_REDIS_NODES: 'a:99999' })).option).toBe('SESSIONCACHE_REDIS_NODES');
    expect(configError(() => configFromArgs(['--redis', 'a:1', '--probe-interval', 'soon'], {})).option).toBe('--probe-interval');
    const tooShort = configError(() =>
      configFromArgs(['--redis', 'a:1'], { SESSIONCACHE_SIDECAR_PROBE_INTERVAL: '50ms' }),
    );
    expect(tooShort.option).toBe('SESSIONCACHE_SIDECAR_PROBE_INTERVAL');
    expect(tooShort.message).toMatch(/from 100 to/);
    expect(configError(() => configFromArgs(['--redis', 'a:1', '--log-level', 'loud'], {})).option).toBe('--log-level');
    expect(configError(() => configFromArgs(['--redis', 'a:1', '--password', 'x'], {})).message).toMatch(/unknown argument/);
    expect(configError(() => configFromArgs(['--redis'], {})).message).toMatch(/needs a value/);
  });

  it('answers --help and --version before validating anything', () => {
    expect(configFromArgs(['--help'], {})).toEqual({ kind: 'help' });
    expect(configFromArgs(['--redis', 'nohost', '--help'], {})).toEqual({ kind: 'help' });
    expect(configFromArgs(['-v'], {})).toEqual({ kind: 'version' });
  });

  it('parses addresses and durations', () => {
    expect(parseHostPort('[::1]:9464', 'x')).toEqual({ host: '::1', port: 9464 });
    expect(() => parseHostPort('127.0.0.1:0', 'x')).toThrow(SidecarConfigError);
    expect(parseHostPort('127.0.0.1:0', 'x', true).port).toBe(0);
    expect(parseDuration('1500', 'x')).toBe(1500);
    expect(parseDuration('2s', 'x')).toBe(2000);
    expect(() => parseDuration('-1s', 'x')).toThrow(SidecarConfigError);
  });

  it('lets the probe timeout follow a short interval unless it is set', () => {
    expect(resolveSidecarOptions({ probeIntervalMs: 400 }).probeTimeoutMs).toBe(400);
    expect(resolveSidecarOptions({ probeIntervalMs: 10_000 }).probeTimeoutMs).toBe(1000);
    expect(configError(() => resolveSidecarOptions({ probeIntervalMs: 400, probeTimeoutMs: 500 })).option).toBe('probeTimeoutMs');
  });

  it('checks programmatic options too', () => {
    expect(configError(() => resolveSidecarOptions({ maxWorkers: 0 })).option).toBe('maxWorkers');
    expect(configError(() => resolveSidecarOptions({ redisNodes: [{ host: 'a', port: 0 }] })).option).toBe('redisNodes[0].port');
    expect(configError(() => resolveSidecarOptions({ bodyLimitBytes: 10 })).option).toBe('bodyLimitBytes');
  });
});
