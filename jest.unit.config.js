'use strict';
// Unit tier: *.test.ts next to the sources. No network, no Redis.
const preset = require('./jest.preset.js');

/** @type {import('jest').Config} */
module.exports = {
  ...preset,
  rootDir: __dirname,
  roots: ['<rootDir>/packages', '<rootDir>/examples'],
  testMatch: ['**/src/**/*.test.ts'],
  testPathIgnorePatterns: [...preset.testPathIgnorePatterns, '\\.int\\.test\\.ts$'],
};
