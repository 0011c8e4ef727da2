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
    // @fastify/cookie loads the ESM-only cookie@2 with import(), which jest's CommonJS runtime
    // cannot run (without --experimental-vm-modules): compile the two to CommonJS for tests, so
    // Fastify apps with real cookies (the example app, the adapter tests) run under jest.
    '/node_modules/(@fastify/cookie|cookie)/.+\\.js$': [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs', moduleResolution: 'node', target: 'ES2022', esModuleInterop: true, isolatedModules: true } },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@fastify/cookie|cookie)/)'],
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
