import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NodeStartError } from './errors';
import { nodeConfig, type NodeBackend, type NodeSignal } from './node-backend';
import { pollUntil, tryNodeCommand } from './redis-command';

/** Attached children of this process, killed when it exits so no test run leaks a node. */
const attached = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = (): void => {
    for (const pid of attached) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    attached.clear();
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAll();
      process.removeListener(sig, onSignal);
      // Only re-raise when nobody else handles the signal, so we do not change how the host
      // process reacts to it.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/** Locates a redis-server binary; returns its version or undefined when it cannot be run. */
export function redisServerVersion(bin: string): string | undefined {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (r.error || r.status !== 0) return undefined;
  return /v=([0-9.]+)/.exec(r.stdout)?.[1] ?? r.stdout.trim();
}

/**
 * True when `pid` is alive and is the redis-server working in `dir` (redis chdirs to its `dir`
 * and rewrites its title, so the cwd is the reliable mark). Guards against pid reuse.
 */
export function isOurProcess(pid: number, dir: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return fs.realpathSync(fs.readlinkSync(`/proc/${pid}/cwd`)) === fs.realpathSync(dir);
  } catch {
    // No /proc (macOS) or the dir is gone: trust the state file only while the dir exists.
    return fs.existsSync(dir) && !fs.existsSync('/proc/self');
  }
}

/** A redis-server process on 127.0.0.1. */
export class ProcessNode implements NodeBackend {
  #child: ChildProcess | undefined;
  #pid: number | undefined;
  #exited = true;

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly bin: string,
    private readonly nodeTimeoutMs: number,
    private readonly extraConfig: Record<string, string>,
    private readonly detached: boolean,
    pid?: number,
  ) {
    if (pid !== undefined && isOurProcess(pid, this.dir)) {
      this.#pid = pid;
      this.#exited = false;
    }
  }

  get pid(): number | undefined {
    return this.#exited ? undefined : this.#pid;
  }

  get configPath(): string {
    return path.join(this.dir, 'redis.conf');
  }

  get logPath(): string {
    return path.join(this.dir, 'redis.log');
  }

  isRunning(): boolean {
    if (this.#exited || this.#pid === undefined) return false;
    if (this.#child) return true;
    return isOurProcess(this.#pid, this.dir);
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    const conf = { ...nodeConfig(this.port, this.nodeTimeoutMs, this.extraConfig), dir: this.dir, logfile: this.logPath };
    fs.writeFileSync(this.configPath, Object.entries(conf).map(([k, v]) => `${k} ${v}`).join('\n') + '\n');
    const child = spawn(this.bin, [this.configPath], { detached: this.detached, stdio: 'ignore' });
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    this.#child = child;
    this.#exited = false;
    const pid = child.pid;
    child.once('exit', () => {
      this.#exited = true;
      if (pid !== undefined) attached.delete(pid);
    });
    if (pid === undefined) {
      throw new NodeStartError(this.port, String((await spawnError).message));
    }
    this.#pid = pid;
    if (this.detached) {
      child.unref();
    } else {
      installExitHook();
      attached.add(pid);
    }
    const ok = await pollUntil(async () => {
      if (this.#exited) return 'exited';
      return (await tryNodeCommand(this.port, ['PING'], 500)) === 'PONG' ? 'pong' : undefined;
    }, 10_000, 50);
    if (ok !== 'pong') {
      const reason = ok === 'exited' ? `it exited; last log lines:\n${this.tailLog()}` : 'it did not answer PING within 10 s';
      if (!this.#exited) this.killNow('SIGKILL');
      throw new NodeStartError(this.port, reason);
    }
  }

  private tailLog(): string {
    try {
      return fs.readFileSync(this.logPath, 'utf8').trim().split('\n').slice(-5).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private killNow(sig: NodeSignal): void {
    if (this.#pid === undefined) return;
    try {
      process.kill(this.#pid, sig);
    } catch {
      /* already gone */
    }
  }

  async signal(sig: NodeSignal): Promise<void> {
    if (!this.isRunning()) return;
    this.killNow(sig);
    if (sig === 'SIGKILL' || sig === 'SIGTERM') await this.waitForExit(10_000);
  }

  private async waitForExit(timeoutMs: number): Promise<void> {
    const pid = this.#pid;
    await pollUntil(async () => {
      if (this.#child) return this.#exited;
      return pid === undefined || !isOurProcess(pid, this.dir);
    }, timeoutMs, 20);
    if (!this.#child) this.#exited = true;
  }

  async destroy(): Promise<void> {
    if (this.isRunning()) {
      // A paused process ignores SIGTERM until resumed; SIGKILL always works.
      this.killNow('SIGKILL');
      await this.waitForExit(10_000);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
