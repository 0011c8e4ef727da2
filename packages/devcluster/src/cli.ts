import * as path from 'node:path';
import { DevCluster } from './cluster';
import { DevClusterError } from './errors';
import type { DevClusterOptions } from './options';

const USAGE = `Usage: sessioncache-devcluster <start|stop|status> [options]

Commands
  start    start a Redis Cluster on 127.0.0.1 and print its seed nodes as host:port,...
  stop     stop the processes that "start" started (by pid) and delete their data
  status   show the nodes, their role and state

Options
  --masters N       masters (default 3)
  --replicas N      replicas per master (default 1)
  --port P          first port; nodes use P, P+1, ... (default: free ports)
  --dir D           state and data directory (default: .sessioncache/devcluster)
  --node-timeout MS cluster-node-timeout (default 5000)
  --json            print machine-readable output
  -h, --help        this text
`;

interface Parsed {
  command: string | undefined;
  flags: Map<string, string | true>;
}

function parseArgs(argv: string[]): Parsed {
  const flags = new Map<string, string | true>();
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') flags.set('help', true);
    else if (a.startsWith('--')) {
      const [name, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
      if (name === 'json') flags.set('json', true);
      else {
        const value = inline ?? argv[++i];
        if (value === undefined) throw new TypeError(`Option --${name} needs a value`);
        flags.set(name, value);
      }
    } else if (!command) command = a;
    else throw new TypeError(`Unexpected argument ${JSON.stringify(a)}`);
  }
  return { command, flags };
}

function intFlag(flags: Map<string, string | true>, name: string): number | undefined {
  const v = flags.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || !Number.isSafeInteger(n)) {
    throw new TypeError(`Option --${name} must be a whole number, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Runs the CLI; resolves with the process exit code. */
export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { command, flags } = parsed;
  if (flags.has('help') || !command) {
    out(USAGE);
    return command || flags.has('help') ? 0 : 2;
  }
  const dirFlag = flags.get('dir');
  const dir = path.resolve(typeof dirFlag === 'string' ? dirFlag : path.join('.sessioncache', 'devcluster'));
  const json = flags.has('json');
  try {
    switch (command) {
      case 'start': {
        const opts: DevClusterOptions = {
          masters: intFlag(flags, 'masters'),
          replicas: intFlag(flags, 'replicas'),
          port: intFlag(flags, 'port'),
          nodeTimeoutMs: intFlag(flags, 'node-timeout'),
          dir,
          detached: true,
          backend: 'process',
        };
        const t0 = Date.now();
        const cluster = await DevCluster.start(opts);
        const ms = Date.now() - t0;
        if (json) out(JSON.stringify({ seeds: cluster.seeds, dir, startMs: ms }));
        else {
          process.stderr.write(`Redis Cluster ready in ${(ms / 1000).toFixed(1)} s (${opts.masters ?? 3} masters, ${opts.replicas ?? 1} replica(s) each); state in ${dir}\n`);
          out(cluster.seeds);
        }
        return 0;
      }
      case 'stop': {
        const cluster = await DevCluster.attach(dir);
        const nodes = await cluster.status();
        await cluster.stop();
        if (json) out(JSON.stringify({ stopped: nodes.length, dir }));
        else out(`Stopped ${nodes.filter((n) => n.state !== 'stopped').length} node(s) and removed ${dir}`);
        return 0;
      }
      case 'status': {
        const cluster = await DevCluster.attach(dir);
        const nodes = await cluster.status();
        if (json) out(JSON.stringify({ seeds: cluster.seeds, nodes }));
        else {
          out(`seeds: ${cluster.seeds}`);
          for (const n of nodes) {
            const slots = n.slots.map(([a, b]) => `${a}-${b}`).join(',');
            const role = n.role === 'replica' ? `replica of ${n.masterPort ?? '?'}` : n.role;
            out(`${n.address}  pid ${n.pid ?? '-'}  ${n.state.padEnd(7)}  ${role}${slots ? `  slots ${slots}` : ''}`);
          }
        }
        return nodes.every((n) => n.state === 'running') ? 0 : 1;
      }
      default:
        process.stderr.write(`Unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    const code = err instanceof DevClusterError ? ` [${err.code}]` : '';
    process.stderr.write(`sessioncache-devcluster ${command}: ${(err as Error).message}${code}\n`);
    return 1;
  }
}
