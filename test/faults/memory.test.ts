/**
 * Memory: N distinct sessions (200,000 in CI; 1,000,000 with SESSIONCACHE_MEMORY_SESSIONS=1000000,
 * see docs/reliability.md) read once each through a near cache limited to 32 MiB. The near cache
 * must stay within its byte budget (stats().nearCache.bytes) and the process within a stated
 * bound, however many distinct sessions flow through it.
 *
 * The sessions are written with pipelined raw HSETs in the SDK's own layout (its KeyLayout,
 * ids and Codec) straight onto each master's socket, much faster than creating them one by
 * one; reading them through the SDK proves the layout is the real one (every read must find
 * its session).
 *
 * Runs on the shared integration cluster and flushes it before and after.
 * Figures: .sessioncache/reliability/figures.json (`memory/<N> sessions`).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { SessionCache } from '@sessioncache/sdk';
import { Codec } from '../../packages/sdk/src/codec';
import { generateSessionId, SESSION_ID_LENGTH } from '../../packages/sdk/src/ids';
import { KeyLayout } from '../../packages/sdk/src/store/keys';
import { closeAll, flush, masters as clusterMasters, ownerOf, seeds } from '../../packages/sdk/src/test-support/harness';
import { recordFigures, round } from './support/figures';
import { memoryMiB } from './support/process-watch';

const SESSIONS = Number(process.env.SESSIONCACHE_MEMORY_SESSIONS ?? 200_000);
const MAX_BYTES = 32 * 2 ** 20;
/**
 * The stated bound: the heap may grow by at most this much while N sessions stream through a
 * 32 MiB near cache (the byte budget counts encoded payloads plus a fixed overhead per entry;
 * the decoded, frozen objects behind it cost about twice that).
 */
const HEAP_GROWTH_BOUND_MIB = 3 * 32;
const READ_BATCH = 500;
const IN_FLIGHT = 8;
const MAX_ENTRIES = 1_000_000;

/** A realistic signed-in session: ~330 encoded bytes over 5 attributes (variant `i`). */
function sessionData(i: number): Record<string, unknown> {
  return {
    user: { id: `user-${i}`, email: `user${i}@example.com`, roles: ['customer'] },
    csrf: `csrf-${i.toString(36).padStart(40, '0')}`,
    cart: [{ sku: `sku-${i % 997}`, qty: 1 + (i % 3) }, { sku: 'gift-card', qty: 1 }],
    locale: 'en-GB',
    lastPage: `/products/${i % 10_007}?ref=home&page=${i % 17}`,
  };
}

/** One command in the Redis protocol (RESP), ready to write to a socket. */
function resp(args: ReadonlyArray<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Sends pre-encoded commands to one node on a plain socket and waits for one integer reply
 * each (HSET and PEXPIRE answer `:<n>`): ~10x faster than building each command in a client,
 * which matters at a million sessions.
 */
async function blast(host: string, port: number, commands: Buffer[]): Promise<void> {
  const socket = net.connect(port, host);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let replies = 0;
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) replies++;
      if (chunk.includes('-ERR') || chunk.includes('-MOVED')) reject(new Error(`write refused: ${chunk.toString().slice(0, 200)}`));
      if (replies >= commands.length) resolve();
    });
    socket.once('error', reject);
  });
  for (let k = 0; k < commands.length; k += 10_000) {
    if (!socket.write(Buffer.concat(commands.slice(k, k + 10_000)))) await new Promise((r) => socket.once('drain', r));
  }
  await done;
  socket.destroy();
}

/** Writes `count` sessions in the SDK's layout; returns their ids packed in one Buffer (55 bytes each, off the JS heap). */
async function writeSessions(count: number): Promise<Buffer> {
  const masters = await clusterMasters();
  const keys = new KeyLayout('sc:');
  const codec = new Codec();
  const ids = Buffer.alloc(count * SESSION_ID_LENGTH);
  const now = Date.now();
  // 64 distinct payloads, encoded once by the SDK's codec (the memory per entry is the same).
  const payloads = Array.from({ length: 64 }, (_, v) => {
    const fields: Array<string | Buffer> = [];
    let size = 0;
    for (const [name, value] of Object.entries(sessionData(v))) {
      const enc = codec.encode(name, value);
      size += enc.length;
      fields.push(`d:${name}`, enc);
    }
    return { fields, size };
  });
  const meta = ['v', '1', 'c', String(now), 'a', String(now), 'i', '3600', 'x', String(now + 8 * 3600_000)];
  for (let start = 0; start < count; start += 50_000) {
    const batches = new Map(masters.map((m) => [m, [] as Buffer[]]));
    for (let i = start; i < Math.min(count, start + 50_000); i++) {
      const p = generateSessionId();
      ids.write(p.id, i * SESSION_ID_LENGTH, 'latin1');
      const { fields, size } = payloads[i % payloads.length]!;
      const key = keys.session(p.tag, p.hash);
      batches.get(ownerOf(masters, p.id))!.push(resp(['HSET', key, ...meta, 'z', String(size), ...fields]), resp(['PEXPIRE', key, '3600000']));
    }
    await Promise.all([...batches].map(([m, commands]) => blast(m.host || '127.0.0.1', m.port, commands)));
  }
  return ids;
}

describe(`memory: ${SESSIONS.toLocaleString('en')} distinct sessions through a near cache limited to 32 MiB`, () => {
  beforeAll(() => flush());
  afterAll(async () => {
    await closeAll();
    await flush();
  });

  it(
    `keeps the near cache within maxBytes and the heap within +${HEAP_GROWTH_BOUND_MIB} MiB`,
    async () => {
      const t0 = performance.now();
      const ids = await writeSessions(SESSIONS);
      const writeMs = performance.now() - t0;
      const empty = memoryMiB();
      // maxEntries well above what 32 MiB can hold, so the byte budget is the limit that binds.
      // (lru-cache allocates ~46 bytes per maxEntries up front: 1M costs ~46 MiB before any entry.)
      // A generous commandTimeoutMs: this is about memory, on CI machines of any speed.
      const cache = await SessionCache.connect({ redis: { cluster: seeds() }, commandTimeoutMs: 10_000, nearCache: { maxBytes: MAX_BYTES, maxEntries: MAX_ENTRIES } });
      try {
        const idAt = (i: number): string => ids.toString('latin1', i * SESSION_ID_LENGTH, (i + 1) * SESSION_ID_LENGTH);
        await cache.get(idAt(0));
        const before = memoryMiB();
        let peakHeap = before.heapUsed;
        let peakRss = before.rss;
        let found = 0;
        const t1 = performance.now();
        for (let start = 0; start < SESSIONS; start += READ_BATCH * IN_FLIGHT) {
          // IN_FLIGHT batches at once, each pipelined per master by getMany.
          const batches = Array.from({ length: IN_FLIGHT }, (_, k) => start + k * READ_BATCH)
            .filter((s) => s < SESSIONS)
            .map((s) => Array.from({ length: Math.min(READ_BATCH, SESSIONS - s) }, (_, j) => idAt(s + j)));
          const results = await Promise.all(batches.map((b) => cache.getMany(b)));
          for (const r of results) for (const s of r) if (s?.data.locale === 'en-GB') found++;
          if ((start / (READ_BATCH * IN_FLIGHT)) % 25 === 0) {
            const m = process.memoryUsage();
            peakHeap = Math.max(peakHeap, m.heapUsed / 2 ** 20);
            peakRss = Math.max(peakRss, m.rss / 2 ** 20);
          }
        }
        const readMs = performance.now() - t1;
        const after = memoryMiB();
        const st = cache.stats().nearCache;
        recordFigures(`memory/${SESSIONS} sessions`, {
          sessions: SESSIONS,
          nearCacheMaxBytesMiB: MAX_BYTES / 2 ** 20,
          found,
          nearCacheEntries: st.entries,
          nearCacheBytesMiB: round(st.bytes / 2 ** 20, 2),
          evictedForCapacity: st.evictions.capacity,
          expired: st.evictions.expired,
          flushes: Object.fromEntries(Object.entries(st.flushes).filter(([, v]) => v > 0)),
          hits: st.hits,
          misses: st.misses,
          heapUsedMiB: { beforeConnect: round(empty.heapUsed), before: round(before.heapUsed), after: round(after.heapUsed), growth: round(after.heapUsed - before.heapUsed), peakSampled: round(peakHeap) },
          rssMiB: { before: round(before.rss), after: round(after.rss), peakSampled: round(peakRss) },
          idsBufferMiB: round(ids.length / 2 ** 20, 1),
          writeSeconds: round(writeMs / 1000),
          readSeconds: round(readMs / 1000),
          readsPerSecond: Math.round(SESSIONS / (readMs / 1000)),
        });
        expect(found).toBe(SESSIONS);
        expect(st.bytes).toBeLessThanOrEqual(MAX_BYTES);
        // The budget is really the limit here: the cache is full and evicted the rest.
        expect(st.bytes).toBeGreaterThan(MAX_BYTES * 0.9);
        expect(st.evictions.capacity).toBeGreaterThan(SESSIONS / 2 - st.entries);
        expect(after.heapUsed - before.heapUsed).toBeLessThan(HEAP_GROWTH_BOUND_MIB);
      } finally {
        await cache.close();
      }
    },
    Math.max(120_000, SESSIONS * 0.5),
  );
});

// lru-cache allocates ~46 bytes per entry up front (1M: 46 MiB, 10M: 457 MiB), so 100,000,000
// used to exhaust V8's heap inside connect, before any error could be thrown. The SDK now
// refuses maxEntries above 10,000,000 and sizes lru-cache's index to what maxBytes can hold.
// Run in a child process (a crash would take the jest worker down).
it('a huge nearCache.maxEntries is refused with InvalidOptionsError or costs nothing up front, not a crash', () => {
  const dist = path.join(__dirname, '..', '..', 'packages', 'sdk', 'dist', 'index.js');
  if (!fs.existsSync(dist)) throw new Error('build @sessioncache/sdk first (npx turbo run build)');
  const script = `require(${JSON.stringify(dist)}).SessionCache.connect({ redis: { standalone: '127.0.0.1:1' }, connectTimeoutMs: 300, nearCache: { maxEntries: 100000000 } })
    .then(() => console.log('connected'), (e) => console.log('rejected', e.name))`;
  const r = spawnSync(process.execPath, ['--max-old-space-size=512', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect({ status: r.status, signal: r.signal, out: r.stdout.trim() }).toMatchObject({ status: 0, out: expect.stringMatching(/^rejected (InvalidOptionsError|RedisUnavailableError)$/) });
});
