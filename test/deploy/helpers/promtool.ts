import { spawnSync } from 'node:child_process';

/** Result of one promtool run. */
export interface ToolResult {
  readonly status: number | null;
  readonly output: string;
}

/**
 * Runs the real promtool (Debian package `prometheus`, installed by .ci/run). A missing binary
 * is a failure with an explicit message, never a skip: the checks must run in CI.
 */
export function promtool(args: string[], cwd?: string): ToolResult {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`promtool could not run (${r.error.message}); install the Debian package "prometheus"`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
