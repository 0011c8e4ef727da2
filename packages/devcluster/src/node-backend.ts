/** Signals devcluster can send to a node. */
export type NodeSignal = 'SIGKILL' | 'SIGTERM' | 'SIGSTOP' | 'SIGCONT';

/** One Redis node as run by a backend (a local process or a container). */
export interface NodeBackend {
  readonly port: number;
  /** Where this node keeps its config, nodes.conf and log (process backend). */
  readonly dir: string;
  /** OS pid of the redis-server (process backend), when running. */
  readonly pid: number | undefined;
  /** Starts (or restarts) the node and resolves once it answers PING. */
  start(): Promise<void>;
  /** Sends a signal; SIGSTOP/SIGCONT freeze and thaw the node. */
  signal(sig: NodeSignal): Promise<void>;
  /** True while the node has not exited (a paused node is still running). */
  isRunning(): boolean;
  /** Stops the node for good and deletes its data. */
  destroy(): Promise<void>;
}

/** Redis configuration shared by both backends. */
export function nodeConfig(port: number, nodeTimeoutMs: number, extra: Record<string, string>): Record<string, string> {
  const cluster = extra['cluster-enabled'] !== 'no';
  return {
    port: String(port),
    bind: '127.0.0.1',
    ...(cluster ? { 'cluster-enabled': 'yes', 'cluster-config-file': 'nodes.conf', 'cluster-node-timeout': String(nodeTimeoutMs) } : {}),
    // Keep nodes cheap and disposable: no snapshots, no AOF.
    save: '""',
    appendonly: 'no',
    'enable-debug-command': 'local',
    'enable-module-command': 'no',
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'cluster-enabled' || cluster)),
  };
}
