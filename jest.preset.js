'use strict';
// Shared jest settings for both tiers. Workspace packages are mapped to their TypeScript
// sources so the tests never depend on a stale dist/ build.
const path = require('node:path');

const pkg = (name, file) => path.join(__dirname, 'packages', name, 'src', file);

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(__dirname, 'tsconfig.jest.json') }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^@sessioncache/sdk$': pkg('sdk', 'index.ts'),
    '^@sessioncache/sdk/express$': pkg('sdk', 'adapters/express.ts'),
    '^@sessioncache/sdk/fastify$': pkg('sdk', 'adapters/fastify.ts'),
    '^@sessioncache/sdk/prometheus$': pkg('sdk', 'metrics/prometheus.ts'),
    '^@sessioncache/devcluster$': pkg('devcluster', 'index.ts'),
    '^@sessioncache/sidecar$': pkg('sidecar', 'index.ts'),
  },
  modulePathIgnorePatterns: ['<rootDir>/packages/[^/]+/dist/', '<rootDir>/examples/[^/]+/dist/'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};
