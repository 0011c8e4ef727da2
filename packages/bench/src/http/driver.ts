import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import autocannon from 'autocannon';
import { processCpuUs } from '../runner';
import { spread, type Spread } from '../summary';
import { log, type Suite } from '../suite';
import type { HttpStoreKind, ParentMessage, ServerConfig, ServerMessage } from './server';

/** Share of requests that change the session (the rest only read it; express-session touches those). */
const WRITE_SHARE = 0.02;

/** One store behind the same Express app, over rounds. */
export interface HttpContenderResult {
  store: HttpStoreKind;
  label: string;
  requestsPerSec: Spread;
  /** Latency percentiles reported by autocannon, ms. */
  p50Ms: Spread;
  p99Ms: Spread;
  /** Server process CPU per request, µs. */
  serverCpuUsPerReq: Spread;
  /** redis-server CPU per request, µs. */
  redisCpuUsPerReq: Spread;
  hitRate: Spread;
  non2xx: number;
  errors: number;
}

/** What the HTTP section reports; `skipped` says why it did not run. */
export interface HttpResult {
  sessions: number;
  connections: number;
  seconds: number;
  contenders: HttpContenderResult[];
  skipped?: string;
}

const LABELS: Record<HttpStoreKind, string> = {
  sessioncache: 'sessioncache SessionCacheStore',
  'connect-redis': 'connect-redis',
  'node-redis-csc': 'connect-redis + node-redis CSC',
};

interface Server {
  store: HttpStoreKind;
  child: ChildProcess;
  port: number;
  cookies: string[];
}

function next(child: ChildProcess, type: ServerMessage['type'] | 'any', timeoutMs: number): Promise<ServerMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`HTTP server did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: ServerMessage): void => {
      if (type !== 'any' && m.type !== type && m.type !== 'error' && m.type !== 'skip') return;
      cleanup();
      resolve(m);
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`HTTP server exited (code ${code})`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function start(config: ServerConfig): Promise<Server | string> {
  const child = fork(path.join(__dirname, 'server.js'), [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const m = await next(child, 'any', 300_000);
  if (m.type === 'ready') return { store: config.store, child, port: m.port, cookies: m.cookies };
  child.kill();
  return m.type === 'skip' ? m.reason : m.type === 'error' ? m.message : `unexpected message ${m.type}`;
}

async function stats(s: Server): Promise<{ cpuUs: number; hits: number; misses: number }> {
  s.child.send({ type: 'stats' } satisfies ParentMessage);
  const m = await next(s.child, 'stats', 10_000);
  if (m.type !== 'stats') throw new Error(`HTTP server: ${m.type === 'error' ? m.message : m.type}`);
  return m;
}

async function stop(s: Server): Promise<void> {
  if (s.child.exitCode !== null) return;
  const exited = new Promise((resolve) => s.child.once('exit', resolve));
  s.child.send({ type: 'stop' } satisfies ParentMessage);
  const timer = setTimeout(() => s.child.kill(), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * End to end over HTTP: the same Express app with express-session over sessioncache's store,
 * connect-redis, and connect-redis on node-redis' client-side cache, each in its own process,
 * driven in turn by autocannon (64 connections) with Zipf-chosen session cookies; 98% of
 * requests read the session (and express-session touches it), 2% change it.
 */
export async function runHttp(suite: Suite): Promise<HttpResult> {
  const { opts } = suite;
  const sessions = opts.quick ? Math.min(opts.sessions, 3_000) : opts.sessions;
  const result: HttpResult = { sessions, connections: opts.inflight, seconds: opts.httpSeconds, contenders: [] };
  const secret = randomBytes(32).toString('base64url');
  const servers: Server[] = [];
  try {
    for (const store of ['sessioncache', 'connect-redis', 'node-redis-csc'] as const) {
      const t0 = performance.now();
      const s = await start({ store, seeds: suite.seeds, sessions, payloadBytes: 1024, secret, keyPrefix: `http-${store}:`,
        ...(opts.cpuProfDir ? { cpuProfile: path.join(opts.cpuProfDir, `http-${store}.cpuprofile`) } : {}),
      });
      if (typeof s === 'string') {
        log(`http: ${store} skipped: ${s}`);
        if (store === 'sessioncache') {
          // Nothing to compare it with: do not populate the other stores for nothing.
          result.skipped = s;
          return result;
        }
        continue;
      }
      log(`http: ${store} server ready with ${sessions} sessions in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      servers.push(s);
    }
    const samples = servers.map(() => ({ rps: [] as number[], p50: [] as number[], p99: [] as number[], cpu: [] as number[], redis: [] as number[], hit: [] as number[], non2xx: 0, errors: 0 }));
    const drive = async (s: Server, seconds: number): Promise<{ r: autocannon.Result; cpuUs: number; redisUs: number; hitRate: number }> => {
      const pick = suite.picker('zipf', s.cookies.length);
      const rng = suite.rng;
      const before = await stats(s);
      const redisBefore = processCpuUs(suite.redisPids);
      const r = await autocannon({
        url: `http://127.0.0.1:${s.port}`,
        connections: opts.inflight,
        duration: seconds,
        requests: [{ setupRequest: (req) => ({ ...req, path: rng() < WRITE_SHARE ? '/write' : '/read', headers: { cookie: s.cookies[pick()]! } }) }],
      });
      const after = await stats(s);
      const hits = after.hits - before.hits;
      const misses = after.misses - before.misses;
      return { r, cpuUs: after.cpuUs - before.cpuUs, redisUs: processCpuUs(suite.redisPids) - redisBefore, hitRate: hits + misses > 0 ? hits / (hits + misses) : NaN };
    };
    for (const s of servers) await drive(s, 1); // warm-up: JIT, connections, near cache
    if (opts.cpuProfDir) {
      mkdirSync(opts.cpuProfDir, { recursive: true });
      for (const s of servers) s.child.send({ type: 'profile' } satisfies ParentMessage);
    }
    for (let round = 0; round < opts.httpRounds; round++) {
      for (let k = 0; k < servers.length; k++) {
        const { r, cpuUs, redisUs, hitRate } = await drive(servers[k]!, opts.httpSeconds);
        const x = samples[k]!;
        const total = Math.max(1, r.requests.total);
        x.rps.push(r.requests.total / r.duration);
        x.p50.push(r.latency.p50);
        x.p99.push(r.latency.p99);
        x.cpu.push(cpuUs / total);
        x.redis.push(redisUs / total);
        x.hit.push(hitRate);
        x.non2xx += r.non2xx;
        x.errors += r.errors + r.timeouts;
        log(`http: ${servers[k]!.store} round ${round + 1}: ${Math.round(r.requests.total / r.duration)} req/s`);
      }
    }
    result.contenders = servers.map((s, k) => {
      const x = samples[k]!;
      return {
        store: s.store,
        label: LABELS[s.store],
        requestsPerSec: spread(x.rps),
        p50Ms: spread(x.p50),
        p99Ms: spread(x.p99),
        serverCpuUsPerReq: spread(x.cpu),
        redisCpuUsPerReq: spread(x.redis),
        hitRate: spread(x.hit),
        non2xx: x.non2xx,
        errors: x.errors,
      };
    });
    return result;
  } finally {
    for (const s of servers) await stop(s).catch(() => s.child.kill());
  }
}
