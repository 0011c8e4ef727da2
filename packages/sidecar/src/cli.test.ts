import { main } from './cli';

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let out = '';
  let err = '';
  const code = await main(argv, env, {
    stdout: (s) => void (out += s),
    stderr: (s) => void (err += s),
    stopSignal: Promise.resolve('SIGTERM'),
  });
  return { code, out, err };
}

describe('sessioncache-sidecar CLI', () => {
  it('prints the manual for --help and the version for --version', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--redis host:port,\.\.\.\s+SESSIONCACHE_REDIS_NODES/);
    const version = await run(['--version']);
    expect(version).toMatchObject({ code: 0, out: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
  });

  it('exits 2 with a message naming the setting when the configuration is wrong', async () => {
    const missing = await run([]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/Invalid --redis: is required/);
    const bad = await run(['--redis', '127.0.0.1:7000'], { SESSIONCACHE_SIDECAR_LISTEN: 'everywhere' });
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/Invalid SESSIONCACHE_SIDECAR_LISTEN: expected host:port/);
    expect(bad.err).toMatch(/--help/);
  });
});
