import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { parse as parseYaml } from 'yaml';
import { ROOT } from './helpers/sources';

// There is no Docker engine on CI (nor here): the compose file and the Dockerfiles cannot be
// built or run. These checks catch what can be caught offline: the compose file against the
// Compose Specification JSON schema, and the references between services, addresses, ports,
// mounts, the Prometheus and Grafana configuration and the Dockerfiles.

const DEPLOY = path.join(ROOT, 'deploy');
const COMPOSE_FILE = path.join(DEPLOY, 'docker-compose.yml');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  network_mode?: string;
  networks?: string[] | Record<string, { ipv4_address?: string }>;
}
interface Compose {
  services: Record<string, Service>;
  networks: Record<string, { ipam: { config: Array<{ subnet: string }> } }>;
}

const compose = parseYaml(fs.readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as Compose;
const services = compose.services;
const redisNames = Object.keys(services).filter((n) => /^redis-\d+$/.test(n));
const announced = redisNames.map((n) => {
  const cmd = services[n]!.command!;
  return cmd[cmd.indexOf('--cluster-announce-ip') + 1]!;
});
const seeds = announced.map((ip) => `${ip}:6379`).join(',');

/** Instructions of a Dockerfile, continuation lines joined, comments dropped. */
function dockerfile(file: string): Array<{ op: string; args: string }> {
  const text = fs.readFileSync(file, 'utf8').replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => ({ op: l.split(/\s+/)[0]!.toUpperCase(), args: l.slice(l.indexOf(' ') + 1).trim() }));
}

describe('docker-compose.yml (offline: no Docker engine here)', () => {
  it('is valid against the Compose Specification schema', () => {
    // The schema ships in the docker-compose npm package (a testcontainers dependency).
    const schemaFile = require.resolve('docker-compose/schema/compose-spec.json', { paths: [ROOT] });
    const schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8')) as Record<string, unknown>;
    delete schema.$schema; // draft-07 under an https id that ajv 6 does not know by that name
    const validate = new Ajv({ allErrors: true, validateSchema: false }).compile(schema);
    expect(validate(compose)).toBe(true);
    expect(validate.errors ?? []).toEqual([]);
    // Canary: the schema rejects a misspelt service key.
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    broken.services.app!.enviroment = {};
    expect(validate(broken)).toBe(false);
  });

  it('runs a 3+3 Redis Cluster whose nodes announce their own fixed addresses on the network', () => {
    expect(redisNames).toHaveLength(6);
    const subnet = compose.networks.sessioncache!.ipam.config[0]!.subnet;
    const prefix = subnet.replace(/\.0\/24$/, '.');
    expect(subnet).toMatch(/\.0\/24$/);
    redisNames.forEach((n, i) => {
      const svc = services[n]!;
      const fixed = (svc.networks as Record<string, { ipv4_address: string }>).sessioncache!.ipv4_address;
      expect(announced[i]).toBe(fixed);
      expect(fixed.startsWith(prefix)).toBe(true);
      expect(svc.command).toEqual(expect.arrayContaining(['--cluster-enabled', 'yes']));
    });
    expect(new Set(announced).size).toBe(6);
    const init = services['redis-init']!;
    expect(init.command!.slice(1)).toEqual(announced.map((ip) => `${ip}:6379`));
    expect(init.command!.join(' ')).toContain('compose-cluster-init.sh');
    for (const n of redisNames) expect(init.depends_on?.[n]?.condition).toBe('service_healthy');
    const script = fs.readFileSync(path.join(DEPLOY, 'redis', 'compose-cluster-init.sh'), 'utf8');
    expect(script).toContain('--cluster-replicas 1');
  });

  it('wires the app and the sidecar to every Redis node and to each other', () => {
    const app = services.app!;
    const sidecar = services.sidecar!;
    expect(app.environment?.REDIS_CLUSTER_NODES).toBe(seeds);
    expect(sidecar.environment?.SESSIONCACHE_REDIS_NODES).toBe(seeds);
    // Same network namespace: the SDK reports to the sidecar over loopback, as in a pod.
    expect(sidecar.network_mode).toBe('service:app');
    expect(app.environment?.SESSIONCACHE_SIDECAR_URL).toBe('http://127.0.0.1:9464');
    expect(sidecar.environment?.SESSIONCACHE_SIDECAR_LISTEN).toBe('0.0.0.0:9464');
    expect(app.ports).toEqual(expect.arrayContaining(['127.0.0.1:3000:3000', '127.0.0.1:9464:9464']));
    expect(app.depends_on?.['redis-init']?.condition).toBe('service_completed_successfully');
    // Prometheus scrapes the sidecar through the service whose network it shares.
    const prom = parseYaml(fs.readFileSync(path.join(DEPLOY, 'prometheus', 'prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const job = prom.scrape_configs.find((j) => j.job_name === 'sessioncache-sidecar')!;
    expect(job.static_configs[0]!.targets).toEqual(['app:9464']);
  });

  it('gives every long-running service a health check and binds host ports to 127.0.0.1 only', () => {
    for (const [name, svc] of Object.entries(services)) {
      if (name !== 'redis-init') expect([name, Array.isArray(svc.healthcheck?.test)]).toEqual([name, true]);
      for (const p of svc.ports ?? []) expect(p).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
  });

  it('mounts files that exist and builds from Dockerfiles that exist', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const v of svc.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (source.startsWith('.')) expect([name, source, fs.existsSync(path.join(DEPLOY, source))]).toEqual([name, source, true]);
      }
      if (svc.build) {
        const context = path.resolve(DEPLOY, svc.build.context);
        expect(context).toBe(ROOT);
        expect(fs.existsSync(path.join(context, svc.build.dockerfile))).toBe(true);
      }
    }
  });

  it('provisions Grafana with the Prometheus service and the generated dashboards', () => {
    const grafana = services.grafana!;
    const ds = parseYaml(fs.readFileSync(path.join(DEPLOY, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8')) as {
      datasources: Array<{ type: string; url: string; isDefault: boolean }>;
    };
    expect(ds.datasources).toEqual([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true })]);
    expect(services.prometheus!.ports).toContain('127.0.0.1:9090:9090');
    const providers = parseYaml(fs.readFileSync(path.join(DEPLOY, 'grafana', 'provisioning', 'dashboards', 'sessioncache.yml'), 'utf8')) as {
      providers: Array<{ options: { path: string } }>;
    };
    const dashboardsMount = grafana.volumes!.find((v) => v.startsWith('./grafana/dashboards:'))!;
    expect(dashboardsMount.split(':')[1]).toBe(providers.providers[0]!.options.path);
    const promMounts = services.prometheus!.volumes!.map((v) => v.split(':').slice(0, 2).join(':'));
    expect(promMounts).toEqual(expect.arrayContaining(['./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml', './prometheus/rules:/etc/prometheus/rules']));
  });
});

describe.each([
  ['sidecar.Dockerfile', 9464, 'ENTRYPOINT', '["node", "packages/sidecar/bin/sessioncache-sidecar.js"]'],
  ['example-express.Dockerfile', 3000, 'CMD', '["node", "dist/server.js"]'],
] as const)('deploy/docker/%s (linted, not built)', (file, port, startOp, start) => {
  const full = path.join(DEPLOY, 'docker', file);
  const ins = dockerfile(full);
  const stages = ins.reduce<Array<Array<{ op: string; args: string }>>>((acc, i) => {
    if (i.op === 'FROM') acc.push([]);
    acc.at(-1)?.push(i);
    return acc;
  }, []);
  const runtime = stages.at(-1)!;

  it('is multi-stage: a build stage with the lockfile install and a runtime stage copying from it', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(ins.some((i) => i.op === 'RUN' && i.args.startsWith('npm ci'))).toBe(true);
    expect(ins.some((i) => i.op === 'RUN' && i.args.includes('turbo run build --filter='))).toBe(true);
    expect(runtime.filter((i) => i.op === 'COPY').every((i) => i.args.startsWith('--from=build'))).toBe(true);
    expect(runtime.some((i) => i.op === 'RUN' && i.args.includes('npm'))).toBe(false);
  });

  it('runs as a non-root user with a health check, on its port, with the documented start command', () => {
    const user = runtime.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    const health = runtime.find((i) => i.op === 'HEALTHCHECK')!;
    expect(health.args).toContain(`/healthz`);
    expect(runtime.find((i) => i.op === 'EXPOSE')?.args).toBe(String(port));
    expect(runtime.find((i) => i.op === startOp)?.args).toBe(start);
  });

  it('copies only sources that exist or are declared workspace roots, none of them ignored', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
    const workspaceRoots = new Set(pkg.workspaces.map((w) => w.replace(/\/\*$/, '')));
    const ignore = fs
      .readFileSync(`${full}.dockerignore`, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const sources = ins.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(3);
    for (const s of sources) {
      expect([s, fs.existsSync(path.join(ROOT, s)) || workspaceRoots.has(s)]).toEqual([s, true]);
      expect(ignore).not.toContain(s);
    }
    for (const root of workspaceRoots) expect(sources).toContain(root);
  });
});
