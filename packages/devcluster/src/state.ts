import * as fs from 'node:fs';
import * as path from 'node:path';

/** What `start` records in `<dir>/state.json` so that `stop` and `status` can find the nodes. */
export interface DevClusterState {
  version: 1;
  backend: 'process' | 'docker';
  createdAt: string;
  masters: number;
  replicas: number;
  nodeTimeoutMs: number;
  redisServerBin: string;
  extraConfig: Record<string, string>;
  nodes: Array<{ port: number; dir: string; pid: number | undefined; id: string }>;
}

export const STATE_FILE = 'state.json';

export function writeState(dir: string, state: DevClusterState): void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, STATE_FILE);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2));
  fs.renameSync(`${file}.tmp`, file);
}

export function readState(dir: string): DevClusterState | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')) as DevClusterState;
    return parsed.version === 1 && Array.isArray(parsed.nodes) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
