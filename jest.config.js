// @ts-check
/**
 * Jest runs TypeScript through @swc/jest (no type checking here; `npm run typecheck` does that).
 * Servers start once in globalSetup (in the parent process) and tests reach them through environment variables,
 * which jest workers inherit.
 */

/** @type {import('@swc/core').Options} */
const swcOptions = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    // TC39 decorators, matching tsc and tsx without `experimentalDecorators`.
    transform: { decoratorVersion: '2022-03' },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', swcOptions],
  },
  // ESM-only dependencies are compiled to CommonJS like our own code (jest's module system cannot require ESM on
  // Node 20; tsx and Node >= 20.19 can, so only tests need this).
  transformIgnorePatterns: [
    '/node_modules/(?!@marcbachmann/cel-js/|@kubernetes/client-node/|openid-client/|oauth4webapi/|jose/)',
  ],
  moduleFileExtensions: ['ts', 'tsx', 'js', 'mjs', 'cjs', 'json', 'node'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  setupFiles: ['<rootDir>/test/setup-runtime.ts'],
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 60_000,
  // Test files run in worker processes, never in the parent that hosts the servers started by globalSetup:
  // jest otherwise runs small suites in band, and busy test code (workflow bundling) would stall the servers'
  // event loop. Setting a memory limit makes jest always use workers; they are recycled above it.
  maxWorkers: 2,
  workerIdleMemoryLimit: '1GB',
};
