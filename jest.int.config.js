'use strict';
// Integration tier: *.int.test.ts and the top-level test/ suites, against one real Redis
// Cluster per run (started by @sessioncache/devcluster, or REDIS_CLUSTER_NODES when set).
const path = require('node:path');
const preset = require('./jest.preset.js');

/** @type {import('jest').Config} */
module.exports = {
  ...preset,
  rootDir: __dirname,
  roots: ['<rootDir>/packages', '<rootDir>/examples', '<rootDir>/test'],
  testMatch: ['**/src/**/*.int.test.ts', '<rootDir>/test/**/*.test.ts'],
  globalSetup: path.join(__dirname, 'test', 'jest', 'global-setup.ts'),
  globalTeardown: path.join(__dirname, 'test', 'jest', 'global-teardown.ts'),
  testSequencer: path.join(__dirname, 'test', 'jest', 'sequencer.js'),
  testTimeout: 60_000,
  // Suites share one cluster and flush it between tests, so they must not run concurrently.
  maxWorkers: 1,
  // After globalTeardown has stopped the cluster, exit even if a suite left a socket or timer
  // behind (a killed node's reconnecting client, a child's IPC channel): CI must never hang on
  // a leak that changes no result.
  forceExit: true,
};
