#!/usr/bin/env node
// The `mloe-test-server` executable: mloe's time-skipping Temporal test server, a drop-in for the Java test server
// that `@temporalio/testing` launches (`TestWorkflowEnvironment.createTimeSkipping({ server: { executable:
// { type: 'existing-path', path } } })`). Like bin/mloe.js it is a CommonJS shim: tsx compiles the TypeScript
// in-process, so the SDK's SIGKILL on teardown stops the server itself.
'use strict';

require('./register-tsx').registerTsx();

// Extensionless: tsx resolves it to main.ts, and tsc (checkJs) types it.
const { main } = require('../infra/test-server/main');
main(process.argv).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`mloe-test-server: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
