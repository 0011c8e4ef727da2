import { sidecarVersion } from './app';
import { SidecarError } from './errors';
import { configFromArgs, USAGE } from './options';
import { startSidecar } from './server';

/** Where the CLI writes and which signals stop it (injectable for tests). */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Resolves when the process is asked to stop. @default SIGINT or SIGTERM */
  stopSignal: Promise<string>;
}

function signalPromise(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/**
 * `sessioncache-sidecar`: reads flags and environment, starts the sidecar and runs until
 * SIGINT/SIGTERM. Resolves with the exit code: 0 after a clean stop, 2 for a configuration
 * error (message on stderr), 1 when the server cannot start.
 */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, io?: Partial<CliIo>): Promise<number> {
  const out = io?.stdout ?? ((s: string) => void process.stdout.write(s));
  const err = io?.stderr ?? ((s: string) => void process.stderr.write(s));
  let config: ReturnType<typeof configFromArgs>;
  try {
    config = configFromArgs(argv, env);
  } catch (e) {
    err(`sessioncache-sidecar: ${(e as Error).message}\nRun sessioncache-sidecar --help for the options.\n`);
    return 2;
  }
  if (config.kind === 'help') {
    out(USAGE);
    return 0;
  }
  if (config.kind === 'version') {
    out(`${sidecarVersion()}\n`);
    return 0;
  }
  const { options } = config;
  // Subscribe before listening so a signal during start-up is not lost.
  const stop = io?.stopSignal ?? signalPromise();
  let running;
  try {
    running = await startSidecar({ ...options, logger: { level: options.logLevel } });
  } catch (e) {
    const code = e instanceof SidecarError ? ` [${e.code}]` : '';
    err(`sessioncache-sidecar: ${(e as Error).message}${code}\n`);
    return 1;
  }
  running.app.log.info(
    { url: running.url, redis: options.redisNodes.map((n) => `${n.host}:${n.port}`), version: sidecarVersion() },
    'sessioncache-sidecar listening',
  );
  const signal = await stop;
  running.app.log.info({ signal }, 'sessioncache-sidecar stopping');
  await running.close();
  return 0;
}
