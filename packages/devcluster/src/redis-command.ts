import Redis from 'ioredis';

/**
 * Sends one command to 127.0.0.1:port on a short-lived connection that never retries or
 * queues: devcluster talks to nodes that may be dead or paused, and must not hang on them.
 */
export async function nodeCommand(port: number, args: [string, ...(string | number)[]], timeoutMs = 2000): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    reconnectOnError: () => false,
  });
  client.on('error', () => {
    /* reported through the rejected command */
  });
  try {
    await client.connect();
    const [cmd, ...rest] = args;
    return await client.call(cmd, ...rest.map(String));
  } finally {
    client.disconnect();
  }
}

/** Like {@link nodeCommand} but resolves undefined instead of throwing. */
export async function tryNodeCommand(port: number, args: [string, ...(string | number)[]], timeoutMs = 1000): Promise<unknown> {
  try {
    return await nodeCommand(port, args, timeoutMs);
  } catch {
    return undefined;
  }
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined/false, or times out. */
export async function pollUntil<T>(check: () => Promise<T | undefined | false>, timeoutMs: number, intervalMs = 100): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
