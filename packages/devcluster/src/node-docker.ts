import { RedisNotInstalledError } from './errors';
import { nodeConfig, type NodeBackend, type NodeSignal } from './node-backend';
import { pollUntil, tryNodeCommand } from './redis-command';

type Testcontainers = typeof import('testcontainers');
type StartedContainer = Awaited<ReturnType<InstanceType<Testcontainers['GenericContainer']>['start']>>;

let loaded: Testcontainers | undefined;

/** Loads testcontainers lazily: it is an optional peer dependency. */
export function loadTestcontainers(): Testcontainers {
  if (loaded) return loaded;
  try {
    // An optional peer dependency: loaded only when Docker is used, so it need not be installed.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require('testcontainers') as Testcontainers;
    return loaded;
  } catch (cause) {
    throw new RedisNotInstalledError(`redis-server is not on PATH and the "testcontainers" package is not installed (${String(cause)})`);
  }
}

/** True when a Docker engine answers. */
export async function dockerAvailable(): Promise<boolean> {
  try {
    const tc = loadTestcontainers();
    await tc.getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

/**
 * A Redis node in a container. Host networking makes the node listen on the host's
 * 127.0.0.1:port, so the addresses it announces in MOVED/ASK replies and CLUSTER SLOTS are the
 * ones the tests can reach (mapped random ports would break cluster redirects). Linux only.
 */
export class DockerNode implements NodeBackend {
  #container: StartedContainer | undefined;
  #running = false;

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly image: string,
    private readonly nodeTimeoutMs: number,
    private readonly extraConfig: Record<string, string>,
  ) {}

  readonly pid = undefined;

  isRunning(): boolean {
    return this.#running;
  }

  async start(): Promise<void> {
    const tc = loadTestcontainers();
    if (this.#container) {
      await this.#container.restart();
    } else {
      const conf = nodeConfig(this.port, this.nodeTimeoutMs, this.extraConfig);
      const args = Object.entries(conf).flatMap(([k, v]) => [`--${k}`, v === '""' ? '' : v]);
      this.#container = await new tc.GenericContainer(this.image)
        .withNetworkMode('host')
        .withCommand(['redis-server', ...args])
        .withLabels({ 'org.sessioncache.devcluster': 'node' })
        .withWaitStrategy(tc.Wait.forLogMessage('Ready to accept connections'))
        .start();
    }
    this.#running = true;
    const pong = await pollUntil(async () => (await tryNodeCommand(this.port, ['PING'], 500)) === 'PONG', 10_000, 50);
    if (!pong) throw new RedisNotInstalledError(`the container for port ${this.port} did not answer PING`);
  }

  async signal(sig: NodeSignal): Promise<void> {
    if (!this.#container) return;
    const client = await loadTestcontainers().getContainerRuntimeClient();
    const c = client.container.getById(this.#container.getId());
    if (sig === 'SIGSTOP') await c.pause();
    else if (sig === 'SIGCONT') await c.unpause();
    else {
      await c.kill({ signal: sig });
      this.#running = false;
    }
  }

  async destroy(): Promise<void> {
    const c = this.#container;
    this.#container = undefined;
    this.#running = false;
    if (c) await c.stop({ timeout: 0 });
  }
}
