/**
 * The deployment steps (`npm run test:deploy`): the Dockerfile's build and run steps carried out
 * in a clean copy, `npm ci` included, so minutes rather than seconds.
 */
/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test/deploy'],
  testMatch: ['**/*.test.ts'],
  testTimeout: 120000,
};
