import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './helpers/sources';

// The Kubernetes strategy for pod IP changes (k8s/base/redis-cluster/scripts/update-node-ips.sh)
// against real redis-server processes: form a cluster whose nodes announce hostnames, stop every
// node, bring all of them back on new addresses (a full restart: every pod gets a new IP), run
// the script before each start with DNS answering the new addresses, and require the cluster to
// come back by itself. Loopback aliases stand for pod IPs (127.0.0.0/8 is all loopback on Linux).

const SCRIPT = path.join(ROOT, 'k8s', 'base', 'redis-cluster', 'scripts', 'update-node-ips.sh');
const HOSTS = ['redis-cluster-0.redis-cluster-headless.test', 'redis-cluster-1.redis-cluster-headless.test', 'redis-cluster-2.redis-cluster-headless.test'];
const OLD_IPS = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
const NEW_IPS = ['127.0.0.21', '127.0.0.22', '127.0.0.23'];

const children = new Set<ChildProcess>();
let work: string;

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** A port free on every address used here, with its cluster bus port (+10000) free too. */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    let ok = true;
    for (const ip of [...OLD_IPS, ...NEW_IPS]) {
      if (!(await portFree(ip, port)) || !(await portFree(ip, port + 10000))) ok = false;
    }
    if (ok) return port;
  }
  throw new Error('no free port');
}

function cli(ip: string, port: number, ...args: string[]): string {
  const r = spawnSync('redis-cli', ['-h', ip, '-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.replace(/\r/g, '');
}

function startNode(i: number, ip: string, port: number): ChildProcess {
  const dir = path.join(work, `node-${i}`);
  fs.mkdirSync(dir, { recursive: true });
  // The per-pod part of scripts/start.sh, with the same cluster settings as redis.conf.
  const child = spawn(
    'redis-server',
    [
      '--port', String(port), '--bind', ip, '--dir', dir, '--protected-mode', 'no',
      '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000',
      '--cluster-require-full-coverage', 'no', '--cluster-preferred-endpoint-type', 'ip',
      '--cluster-announce-ip', ip, '--cluster-announce-hostname', HOSTS[i]!,
      '--save', '', '--appendonly', 'no', '--logfile', path.join(dir, 'redis.log'),
    ],
    { stdio: 'ignore' },
  );
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopAll(ips: string[], port: (i: number) => number): Promise<void> {
  const exits = [...children].map((c) => new Promise((r) => c.once('exit', r)));
  ips.forEach((ip, i) => cli(ip, port(i), 'shutdown', 'nosave'));
  await Promise.all(exits);
}

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'sessioncache-restart-'));
  // A getent that answers like cluster DNS after the restart: each hostname has its new address.
  fs.mkdirSync(path.join(work, 'bin'));
  const cases = HOSTS.map((h, i) => `  ${h}) echo "${NEW_IPS[i]}       ${h}" ;;`).join('\n');
  fs.writeFileSync(path.join(work, 'bin', 'getent'), `#!/bin/sh\ncase "$2" in\n${cases}\n  *) exit 2 ;;\nesac\n`, { mode: 0o755 });
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
});

describe('pod IP change recovery (update-node-ips.sh) on a real Redis Cluster', () => {
  it('a cluster whose every node restarts on a new address re-forms after the rewrite', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const port = (i: number): number => ports[i]!;
    OLD_IPS.forEach((ip, i) => startNode(i, ip, port(i)));
    await waitFor('nodes to answer', () => OLD_IPS.every((ip, i) => cli(ip, port(i), 'ping').trim() === 'PONG'));
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...OLD_IPS.map((ip, i) => `${ip}:${port(i)}`), '--cluster-replicas', '0', '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(create.status).toBe(0);
    await waitFor('the cluster to form', () => OLD_IPS.every((ip, i) => cli(ip, port(i), 'cluster', 'info').includes('cluster_state:ok')));
    // Gossip spreads the hostnames; wait until every node has written them all to nodes.conf.
    await waitFor('hostnames in every nodes.conf', () =>
      OLD_IPS.every((_ip, i) => {
        const conf = fs.readFileSync(path.join(work, `node-${i}`, 'nodes.conf'), 'utf8');
        return HOSTS.every((h) => conf.includes(`,${h} `));
      }),
    );

    await stopAll(OLD_IPS, port);

    for (let i = 0; i < 3; i++) {
      const conf = path.join(work, `node-${i}`, 'nodes.conf');
      expect(fs.readFileSync(conf, 'utf8')).toContain(`${OLD_IPS[i]}:${port(i)}@`);
      const r = spawnSync('sh', [SCRIPT, conf], {
        encoding: 'utf8',
        env: { ...process.env, PATH: `${path.join(work, 'bin')}:${process.env.PATH}`, POD_IP: NEW_IPS[i], RESOLVE_TIMEOUT_SECONDS: '5' },
      });
      expect(r.stderr).toContain(`-> ${NEW_IPS[i]}`);
      expect(r.status).toBe(0);
      const rewritten = fs.readFileSync(conf, 'utf8');
      for (const old of OLD_IPS) expect(rewritten).not.toContain(`${old}:`);
      for (const [j, ip] of NEW_IPS.entries()) expect(rewritten).toContain(`${ip}:${port(j)}@${port(j) + 10000},${HOSTS[j]}`);
    }

    NEW_IPS.forEach((ip, i) => startNode(i, ip, port(i)));
    // Without the rewrite the nodes keep dialling the old addresses and this never happens.
    const healthy = (ip: string, p: number): boolean => {
      const lines = cli(ip, p, 'cluster', 'nodes').trim().split('\n');
      return (
        lines.length === 3 &&
        lines.every((l) => / connected/.test(l) && !/fail/.test(l) && NEW_IPS.some((n) => l.includes(` ${n}:`))) &&
        cli(ip, p, 'cluster', 'info').includes('cluster_state:ok')
      );
    };
    await waitFor('every node to see all three at their new addresses, connected', () => NEW_IPS.every((ip, i) => healthy(ip, port(i))));
    expect(cli(NEW_IPS[1]!, port(1), 'cluster', 'info')).toContain('cluster_slots_ok:16384');
    await stopAll(NEW_IPS, port);
  }, 120_000);
});
