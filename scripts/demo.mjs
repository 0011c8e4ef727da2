#!/usr/bin/env node
// The README's main job (`npm start`). Builds what it needs and starts a local 3+3 Redis
// Cluster; prints how to connect and keeps it running until Ctrl-C, then stops every node it
// started.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const build = spawnSync(path.join(root, 'node_modules', '.bin', 'turbo'), ['run', 'build', '--output-logs=errors-only'], {
  cwd: root,
  stdio: 'inherit',
});
if (build.status !== 0) process.exit(build.status ?? 1);

const { DevCluster } = require(path.join(root, 'packages', 'devcluster'));
const t0 = Date.now();
const cluster = await DevCluster.start({ masters: 3, replicas: 1 });
console.log(`Redis Cluster (3 masters, 3 replicas) ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(`  REDIS_CLUSTER_NODES=${cluster.seeds}`);
console.log(`  redis-cli -c -p ${cluster.seedNodes[0].port} cluster info`);
console.log('Press Ctrl-C to stop it.');
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await cluster.stop();
  console.log('Stopped.');
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => undefined, 1 << 30);
