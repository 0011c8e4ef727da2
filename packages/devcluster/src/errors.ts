/**
 * Errors raised by @sessioncache/devcluster. Each has a stable `code` that scripts and tests
 * can match on; the message says what to do about it.
 */
export class DevClusterError extends Error {
  /** Stable machine-readable code, `SC_ERR_DEVCLUSTER_*`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Neither a `redis-server` binary nor a Docker engine is available. */
export class RedisNotInstalledError extends DevClusterError {
  constructor(detail: string) {
    super(
      'SC_ERR_DEVCLUSTER_NO_REDIS',
      `No way to run Redis here: ${detail}. Install Redis 7 (Debian/Ubuntu: "apt-get install -y redis-server", ` +
        `macOS: "brew install redis"), set REDIS_SERVER_BIN to a redis-server binary, or start a Docker engine ` +
        `and install the "testcontainers" package.`,
    );
  }
}

/** A node or the whole cluster did not reach the expected state in time. */
export class DevClusterTimeoutError extends DevClusterError {
  constructor(what: string, timeoutMs: number, options?: { cause?: unknown }) {
    super('SC_ERR_DEVCLUSTER_TIMEOUT', `Timed out after ${timeoutMs} ms waiting for ${what}`, options);
  }
}

/** A redis-server process exited while it was starting. */
export class NodeStartError extends DevClusterError {
  constructor(port: number, detail: string) {
    super('SC_ERR_DEVCLUSTER_NODE_START', `redis-server on port ${port} failed to start: ${detail}`);
  }
}

/** An operation named a node this cluster does not have. */
export class UnknownNodeError extends DevClusterError {
  constructor(ref: string) {
    super('SC_ERR_DEVCLUSTER_UNKNOWN_NODE', `No node ${ref} in this cluster`);
  }
}

/** The state directory holds no cluster (for `stop`/`status`) or already holds one (for `start`). */
export class DevClusterStateError extends DevClusterError {
  constructor(message: string) {
    super('SC_ERR_DEVCLUSTER_STATE', message);
  }
}
