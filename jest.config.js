/** @type {import('jest').Config} */
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] };

module.exports = {
  // One summary line for the tests skipped because a server is missing (and a failed run under CI=true).
  reporters: ['default', '<rootDir>/test/helpers/skip-reporter.js'],
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
    },
    {
      displayName: 'contract',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/adapters/**/*.test.ts'],
      openHandlesTimeout: 7000,
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      slowTestThreshold: 30,
      // blip-sdk leaves each command's 6 s timeout timer running after the answer; jest would warn about them.
      openHandlesTimeout: 7000,
    },
  ],
};
