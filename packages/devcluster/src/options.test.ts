import { resolveDevClusterOptions, DEFAULT_DEVCLUSTER_OPTIONS } from './options';
import { parseSeeds } from './cluster';

describe('resolveDevClusterOptions', () => {
  it('applies the documented defaults', () => {
    const o = resolveDevClusterOptions();
    expect(o).toMatchObject({ masters: 3, replicas: 1, nodeTimeoutMs: DEFAULT_DEVCLUSTER_OPTIONS.nodeTimeoutMs, backend: 'auto', detached: false });
    expect(o.port).toBeUndefined();
  });

  it.each([
    [{ masters: 0 }, /masters/],
    [{ masters: 1.5 }, /masters/],
    [{ replicas: -1 }, /replicas/],
    [{ port: 80 }, /port/],
    [{ nodeTimeoutMs: 0 }, /nodeTimeoutMs/],
    [{ backend: 'vm' as never }, /backend/],
    [{ extraConfig: { 'bad key': 'x' } }, /extraConfig/],
  ])('rejects %j with a message naming the option', (opts, re) => {
    expect(() => resolveDevClusterOptions(opts)).toThrow(re);
  });
});

describe('parseSeeds', () => {
  it('parses host:port lists', () => {
    expect(parseSeeds('127.0.0.1:7000, 127.0.0.1:7001')).toEqual([
      { host: '127.0.0.1', port: 7000 },
      { host: '127.0.0.1', port: 7001 },
    ]);
  });
  it.each(['', 'localhost', '127.0.0.1:0', '127.0.0.1:x', ':7000'])('rejects %j', (s) => {
    expect(() => parseSeeds(s)).toThrow(TypeError);
  });
});
