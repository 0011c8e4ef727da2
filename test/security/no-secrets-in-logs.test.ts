/**
 * Session ids and secrets never reach logs, warnings, error messages or metrics.
 *
 * Everything the SDK and the sidecar can say is captured while they run a full lifecycle and
 * the failure paths that make them talk (corrupt payloads, a payload encrypted with a key the
 * reader lacks, malformed and forged ids, a wrong Redis password, a server refusing CLIENT
 * TRACKING, a sidecar that is down, a probe with a bad password): the SDK logger, Node process
 * warnings (the SDK's default logger), anything written to stdout/stderr or the console, the
 * sidecar's own log stream, error messages and stacks, the sidecar's /metrics and the
 * prom-client binding. None of it may contain a session id (or its secret half), a password,
 * the encryption key, the user-tag secret, or a user id in a metric.
 *
 * Runs on the shared integration cluster.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import Redis from 'ioredis';
import { Registry } from 'prom-client';
import { StandaloneRedis } from '@sessioncache/devcluster';
import { SessionCache, type ConnectOptions } from '@sessioncache/sdk';
import { registerSessionCacheMetrics } from '@sessioncache/sdk/prometheus';
import { startSidecar, type RunningSidecar } from '@sessioncache/sidecar';
import { flush, seeds, sessionKey } from '../../packages/sdk/src/test-support/harness';
import { freePort, waitFor } from '../faults/support/cluster';
import { ProcessWatch, realProcess } from '../faults/support/process-watch';
import { setUser } from './support/redis-security';

const APP_PASSWORD = 'app-password-Zq81mWx4';
const WRONG_PASSWORD = 'wrong-password-Lp07vTn2';
const SIDECAR_PASSWORD = 'probe-password-Hc55rKe9';
const ENC_KEY = randomBytes(32);
const TAG_SECRET = 'user-tag-secret-Yb62sQd8-0123456789';
const USER_ID = 'alice@example.com';

/** Everything written to a stream, as text. */
function sink(into: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      into.push(chunk.toString());
      done();
    },
  });
}

describe('no session id or secret in logs, warnings, errors or metrics', () => {
  const captured: string[] = [];
  const errors: unknown[] = [];
  const ids: string[] = [];
  let sidecar: RunningSidecar;
  let acl: StandaloneRedis;
  let watch: ProcessWatch;
  const open: Array<{ close(): Promise<void> }> = [];
  const spies: jest.SpyInstance[] = [];
  let metricsText = '';
  let wrongPasswordError: unknown;

  beforeAll(async () => {
    await flush();
    watch = new ProcessWatch();
    for (const stream of new Set([realProcess.stdout, realProcess.stderr, process.stdout, process.stderr])) {
      const original = stream.write.bind(stream);
      spies.push(
        jest.spyOn(stream, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
          captured.push(String(chunk));
          return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
        }) as typeof stream.write),
      );
    }
    for (const m of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      spies.push(jest.spyOn(console, m).mockImplementation((...args: unknown[]) => void captured.push(args.map((a) => inspect(a, { depth: 5 })).join(' '))));
    }
    sidecar = await startSidecar({
      listen: { host: '127.0.0.1', port: 0 },
      redisNodes: seeds(),
      redisPassword: SIDECAR_PASSWORD,
      probeIntervalMs: 200,
      logger: { level: 'debug', stream: sink(captured) },
    });
    open.push(sidecar);
    acl = await StandaloneRedis.start();
    open.push({ close: () => acl.stop() });
    const admin = new Redis(acl.port);
    await setUser(admin, 'app', APP_PASSWORD, '~* &* +@all -client|tracking');
    admin.disconnect();

    const logger = { warn: (message: string, context?: Record<string, unknown>) => void captured.push(`${message} ${JSON.stringify(context ?? {})}`) };
    const base = { redis: { cluster: seeds() }, userTagSecret: TAG_SECRET } satisfies Partial<ConnectOptions>;
    const a = await SessionCache.connect({ ...base, encryption: { keys: [{ id: 7, key: ENC_KEY }] }, logger, metrics: { sidecar: sidecar.url, intervalMs: 100, worker: 'hygiene-a' } });
    // b logs through the default logger (process warnings) and cannot decrypt a's sessions.
    const b = await SessionCache.connect({ ...base, metrics: { sidecar: sidecar.url, intervalMs: 100, worker: 'hygiene-b' } });
    open.push(a, b);
    const registry = new Registry();
    registerSessionCacheMetrics(registry, [a, b]);

    // A full lifecycle.
    const anon = await a.create({ data: { cart: ['kiwi'] } });
    const login = await a.regenerate(anon.id, { userId: USER_ID });
    const other = await a.create({ userId: USER_ID, data: { device: 'phone' } });
    await a.update(login.id, { theme: 'dark' });
    await a.get(login.id);
    await b.get(login.id); // encrypted with a key b lacks: a decode failure, logged by b
    await a.listByUser(USER_ID);
    const plain = await b.create({ data: { v: 1 } });
    ids.push(anon.id, login.id, other.id, plain.id);
    // A corrupt payload read by a (its logger) and by b (process warning).
    const [tag, secret] = plain.id.split('.') as [string, string];
    const raw = new Redis.Cluster(seeds());
    await raw.hset(sessionKey(plain.id), 'd:v', Buffer.from([1, 0, 0, 0xc1]));
    raw.disconnect();
    await waitFor('the corruption reaches the near caches', async () => (await a.get(plain.id)) === null && (await b.get(plain.id)) === null, 5000);
    // Malformed and forged ids, on reads and writes.
    const forged = `${tag}.${'A'.repeat(42)}A`;
    ids.push(forged);
    for (const bad of ['../../etc/passwd', `${login.id}x`, forged, `${tag}.${secret.toUpperCase()}`]) {
      await a.get(bad);
      for (const call of [() => a.update(bad, { x: 1 }), () => a.destroy(bad), () => a.touch(bad), () => a.regenerate(bad)]) {
        await call().catch((e: unknown) => errors.push(e));
      }
    }
    await a.destroyAllForUser(USER_ID, { except: login.id });
    await a.destroy(login.id);

    // A wrong password, a server refusing CLIENT TRACKING, a sidecar that is down.
    wrongPasswordError = await SessionCache.connect({ redis: { standalone: acl.address, options: { username: 'app', password: WRONG_PASSWORD } }, connectTimeoutMs: 800 }).then(
      (c) => c.close(),
      (e: unknown) => e,
    );
    errors.push(wrongPasswordError);
    const ttlOnly = await SessionCache.connect({ redis: { standalone: acl.address, options: { username: 'app', password: APP_PASSWORD } }, logger, metrics: { sidecar: `http://127.0.0.1:${await freePort()}`, intervalMs: 100 } });
    open.push(ttlOnly);
    ids.push((await ttlOnly.create({ data: { y: 1 } })).id);
    await waitFor('the failed metric report is logged', () => captured.some((c) => /metrics report to the sidecar failed/.test(c)), 5000);

    await waitFor('both workers reported to the sidecar', async () => {
      metricsText = await (await fetch(`${sidecar.url}/metrics`)).text();
      return metricsText.includes('worker="hygiene-a"') && metricsText.includes('worker="hygiene-b"');
    }, 10_000);
    await new Promise((r) => setTimeout(r, 500)); // a few probe rounds with the bad password
    metricsText += await (await fetch(`${sidecar.url}/metrics`)).text();
    metricsText += await registry.metrics();
  }, 60_000);

  afterAll(async () => {
    for (const s of spies) s.mockRestore();
    watch?.stop();
    for (const c of open.reverse()) await c.close().catch(() => undefined);
  });

  /** What must never appear: ids, their secret halves, passwords, keys, the tag secret. */
  function secrets(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const id of ids) out.push(['a session id', id], ['the secret half of an id', id.split('.')[1]!]);
    out.push(['the app password', APP_PASSWORD], ['a wrong password', WRONG_PASSWORD], ['the probe password', SIDECAR_PASSWORD]);
    out.push(['the encryption key (hex)', ENC_KEY.toString('hex')], ['the encryption key (base64)', ENC_KEY.toString('base64')], ['the encryption key (base64url)', ENC_KEY.toString('base64url')]);
    out.push(['the user-tag secret', TAG_SECRET]);
    return out;
  }

  function leaks(text: string): string[] {
    return secrets()
      .filter(([, s]) => text.includes(s))
      .map(([what]) => what);
  }

  it('the capture is real: the failure paths did log (by fingerprint) and warn', () => {
    const logs = captured.join('\n') + watch.warnings.map((w) => w.message).join('\n');
    expect(logs).toMatch(/could not be decoded; treating it as missing \{"session":"[A-Za-z0-9_-]{12}"/);
    expect(watch.warnings.some((w) => /could not be decoded/.test(w.message))).toBe(true);
    expect(logs).toMatch(/TTL-only/);
    expect(logs).toMatch(/metrics report to the sidecar failed/);
    expect(metricsText).toMatch(/sessioncache_operations_total\{/);
  });

  it('logs, process warnings, console, stdout/stderr and the sidecar log hold no id or secret', () => {
    expect(leaks(captured.join('\n'))).toEqual([]);
    expect(leaks(watch.warnings.map((w) => `${w.name} ${w.message} ${w.stack}`).join('\n'))).toEqual([]);
  });

  it('error messages and stacks hold no id or secret', () => {
    expect(errors.length).toBeGreaterThan(10);
    expect(leaks(errors.map((e) => `${String(e)} ${(e as Error).stack}`).join('\n'))).toEqual([]);
  });

  it('metrics (sidecar /metrics and the prom-client binding) hold no id, secret, routing tag or user id', () => {
    expect(leaks(metricsText)).toEqual([]);
    expect(metricsText).not.toContain(USER_ID);
    for (const id of ids) expect(metricsText).not.toContain(id.slice(0, 11)); // not even the routing tag
  });

  // ioredis attaches the failed command to its errors (`command: { name: 'auth', args: [user,
  // password] }`); connect used to keep that error as `cause`, so logging the error the usual
  // way (console.error(err), util.inspect, pino's err serializer with causes) printed the
  // password. The SDK now strips command arguments from every error it keeps.
  it('the wrong-password error, logged whole (util.inspect with its cause), does not show the password', () => {
    expect(wrongPasswordError).toBeInstanceOf(Error);
    expect(inspect(wrongPasswordError, { depth: Infinity })).not.toContain(WRONG_PASSWORD);
  });

  it('no unhandled rejection escaped any of it', () => {
    expect(watch.rejections).toEqual([]);
  });
});
