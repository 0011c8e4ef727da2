import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RedisNotInstalledError } from './errors';
import { ProcessNode, redisServerVersion } from './node-process';
import { findFreeClusterPorts, releasePorts } from './ports';

/** Options of {@link StandaloneRedis.start}. */
export interface StandaloneRedisOptions {
  /** Port; a free one when omitted. */
  port?: number;
  /** Data directory. @default a new temp dir */
  dir?: string;
  /** Extra redis.conf directives (e.g. TLS or ACL settings). */
  extraConfig?: Record<string, string>;
  /** redis-server binary. @default $REDIS_SERVER_BIN or 'redis-server' */
  redisServerBin?: string;
}

/**
 * One standalone (non-cluster) redis-server on 127.0.0.1, for the SDK's `{ standalone }` mode
 * and for multi-cell routing tests. Stopped when the process exits.
 */
export class StandaloneRedis implements AsyncDisposable {
  private constructor(
    private readonly node: ProcessNode,
    readonly dir: string,
  ) {}

  static async start(options: StandaloneRedisOptions = {}): Promise<StandaloneRedis> {
    const bin = options.redisServerBin ?? process.env.REDIS_SERVER_BIN ?? 'redis-server';
    if (!redisServerVersion(bin)) throw new RedisNotInstalledError(`cannot run "${bin}"`);
    const [port] = options.port ? [options.port] : await findFreeClusterPorts(1);
    const dir = path.resolve(options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sessioncache-redis-')));
    const node = new ProcessNode(port!, dir, bin, 1000, { 'cluster-enabled': 'no', ...(options.extraConfig ?? {}) }, false);
    try {
      await node.start();
    } catch (err) {
      await node.destroy().catch(() => undefined);
      throw err;
    }
    return new StandaloneRedis(node, dir);
  }

  get port(): number {
    return this.node.port;
  }

  get pid(): number | undefined {
    return this.node.pid;
  }

  /** `127.0.0.1:port`. */
  get address(): string {
    return `127.0.0.1:${this.node.port}`;
  }

  /** SIGKILL (crash), SIGTERM (clean stop), SIGSTOP/SIGCONT (freeze/thaw). */
  async signal(sig: 'SIGKILL' | 'SIGTERM' | 'SIGSTOP' | 'SIGCONT'): Promise<void> {
    await this.node.signal(sig);
  }

  /** Starts the server again on the same port (after a kill). */
  async restart(): Promise<void> {
    if (this.node.isRunning()) await this.node.signal('SIGKILL');
    await this.node.start();
  }

  async stop(): Promise<void> {
    await this.node.destroy();
    releasePorts([this.node.port]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
