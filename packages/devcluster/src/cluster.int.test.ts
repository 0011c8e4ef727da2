import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import Redis, { Cluster } from 'ioredis';
import { DevCluster, parseSeeds } from './cluster';
import { nodeCommand } from './redis-command';

const run = promisify(execFile);

/** Alive and not a zombie waiting for init to reap it. */
function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('DevCluster on real redis-server processes', () => {
  it('starts two clusters side by side and stop leaves no process or data behind', async () => {
    const [a, b] = await Promise.all([
      DevCluster.start({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 }),
      DevCluster.start({ masters: 3, replicas: 0, nodeTimeoutMs: 1000 }),
    ]);
    try {
      const pa = a.seedNodes.map((n) => n.port);
      const pb = b.seedNodes.map((n) => n.port);
      expect(pa).toHaveLength(6);
      expect(pb).toHaveLength(3);
      expect(pa.filter((p) => pb.includes(p))).toEqual([]);
      expect(await a.masters()).toHaveLength(3);
      expect(await a.replicas()).toHaveLength(3);
      expect((await b.replicas()).length).toBe(0);
      // Each cluster is a working, separate Redis Cluster.
      const ca = new Cluster(a.seedNodes);
      const cb = new Cluster(b.seedNodes);
      try {
        await ca.set('k', 'a');
        await cb.set('k', 'b');
        expect(await ca.get('k')).toBe('a');
        expect(await cb.get('k')).toBe('b');
      } finally {
        ca.disconnect();
        cb.disconnect();
      }
    } finally {
      const pids = [...(await a.status()), ...(await b.status())].map((n) => n.pid);
      expect(pids.every(alive)).toBe(true);
      await Promise.all([a.stop(), b.stop()]);
      expect(pids.filter(alive)).toEqual([]);
      expect(fs.existsSync(a.dir)).toBe(false);
      expect(fs.existsSync(b.dir)).toBe(false);
    }
  });

  describe('fault injection', () => {
    let cluster: DevCluster;
    beforeAll(async () => {
      cluster = await DevCluster.start({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 });
    });
    afterAll(async () => {
      await cluster?.stop();
    });

    it('promotes a replica after a master is killed and the cluster is ok again', async () => {
      const client = new Cluster(cluster.seedNodes, { clusterRetryStrategy: () => 100 });
      client.on('error', () => undefined);
      try {
        const [victim] = await cluster.masters();
        const oldMasterPort = victim!.port;
        const slot = victim!.slots[0]![0];
        const t0 = Date.now();
        await cluster.kill(victim!);
        const promoted = await cluster.waitForFailover(victim!);
        const elapsed = Date.now() - t0;
        process.stderr.write(`[devcluster] failover after SIGKILL took ${elapsed} ms (cluster-node-timeout 1000 ms)\n`);
        expect(promoted.port).not.toBe(oldMasterPort);
        expect(promoted.role).toBe('master');
        expect(promoted.slots.some(([a, b]) => a <= slot && slot <= b)).toBe(true);
        expect((await cluster.masters()).map((m) => m.port)).not.toContain(oldMasterPort);
        // Writes work again through a cluster client.
        await client.set('after-failover', '1');
        expect(await client.get('after-failover')).toBe('1');
        // The killed node rejoins as a replica of its successor.
        await cluster.restart(victim!);
        const back = (await cluster.status()).find((n) => n.port === oldMasterPort)!;
        expect(back.state).toBe('running');
        expect(back.role).toBe('replica');
        expect(back.masterPort).toBe(promoted.port);
      } finally {
        client.disconnect();
      }
    });

    it('pause stalls a node and resume releases it', async () => {
      const [node] = await cluster.masters();
      await cluster.pause(node!);
      try {
        const status = (await cluster.status()).find((n) => n.port === node!.port)!;
        expect(status.state).toBe('paused');
        await expect(nodeCommand(node!.port, ['PING'], 300)).rejects.toThrow();
      } finally {
        await cluster.resume(node!);
      }
      await expect(nodeCommand(node!.port, ['PING'], 1000)).resolves.toBe('PONG');
      await cluster.waitForOk(10_000);
    });

    it('flushAll empties every master', async () => {
      const client = new Cluster(cluster.seedNodes);
      try {
        await Promise.all(Array.from({ length: 50 }, (_, i) => client.set(`k${i}`, 'v')));
        await cluster.flushAll();
        const sizes = await Promise.all((await cluster.masters()).map((m) => nodeCommand(m.port, ['DBSIZE'])));
        expect(sizes).toEqual([0, 0, 0]);
      } finally {
        client.disconnect();
      }
    });
  });

  it('the CLI starts, reports and stops a cluster it leaves nothing of', async () => {
    const bin = path.join(__dirname, '..', 'bin', 'sessioncache-devcluster.js');
    if (!fs.existsSync(path.join(__dirname, '..', 'dist', 'cli.js'))) {
      throw new Error('build @sessioncache/devcluster first (npm run build)');
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-cli-'));
    const started = await run(process.execPath, [bin, 'start', '--dir', dir, '--masters', '3', '--replicas', '0', '--json']);
    const { seeds } = JSON.parse(started.stdout) as { seeds: string };
    const nodes = parseSeeds(seeds);
    expect(nodes).toHaveLength(3);
    const status = JSON.parse((await run(process.execPath, [bin, 'status', '--dir', dir, '--json'])).stdout) as {
      nodes: Array<{ pid: number; state: string; role: string }>;
    };
    expect(status.nodes.map((n) => n.state)).toEqual(['running', 'running', 'running']);
    const r = new Redis(nodes[0]!.port, '127.0.0.1');
    expect(await r.ping()).toBe('PONG');
    r.disconnect();
    await run(process.execPath, [bin, 'stop', '--dir', dir]);
    expect(status.nodes.map((n) => n.pid).filter(alive)).toEqual([]);
    expect(fs.existsSync(dir)).toBe(false);
    await expect(run(process.execPath, [bin, 'status', '--dir', dir])).rejects.toMatchObject({ code: 1 });
  });
});
