#!/usr/bin/env node
// The entrypoint of the mloe worker image (infra/docker/Dockerfile), run under tini: `mloe worker` unless the
// container is given another mloe command (`codec-server`, `setup`, ...). It runs the CLI in this process, not as a
// child, so the SIGTERM that Kubernetes sends on a pod's deletion reaches the worker's own handler, which stops
// polling and lets running steps finish (MLOE_WORKER_SHUTDOWN_GRACE_SECONDS) before it exits.
//
// The image carries a workflow bundle built at image build time: unless MLOE_WORKFLOW_BUNDLE names another, the
// worker runs that file (no webpack at start, and every replica runs the same workflow code). A worker command
// without any bundle is refused at once, because the image's production dependencies cannot bundle.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

/** Where the Dockerfile writes the bundle (`npm run build:workflows -- dist/workflow-bundle.js`). */
const IMAGE_BUNDLE = path.join(__dirname, '..', 'dist', 'workflow-bundle.js');

/**
 * The mloe arguments for the container's arguments: none, or only flags, mean `worker` with those flags.
 * @param {readonly string[]} args
 * @returns {string[]}
 */
function mloeArguments(args) {
  return args.length === 0 || (args[0] ?? '').startsWith('-') ? ['worker', ...args] : [...args];
}

/**
 * The bundle the worker should run: MLOE_WORKFLOW_BUNDLE when set, else the image's own when present.
 * @param {NodeJS.ProcessEnv} env
 * @returns {string | undefined}
 */
function workflowBundle(env) {
  if (env.MLOE_WORKFLOW_BUNDLE !== undefined && env.MLOE_WORKFLOW_BUNDLE !== '') return env.MLOE_WORKFLOW_BUNDLE;
  return fs.existsSync(IMAGE_BUNDLE) ? IMAGE_BUNDLE : undefined;
}

function main() {
  const args = mloeArguments(process.argv.slice(2));
  if (args[0] === 'worker' && !args.includes('--workflow-bundle')) {
    const bundle = workflowBundle(process.env);
    if (bundle === undefined && process.env.MLOE_ALLOW_BUNDLING !== 'true') {
      process.stderr.write(
        `error: no workflow bundle: ${IMAGE_BUNDLE} is missing and MLOE_WORKFLOW_BUNDLE is unset; build the image ` +
          'with infra/docker/Dockerfile (it runs `npm run build:workflows`), or set MLOE_WORKFLOW_BUNDLE, or ' +
          'MLOE_ALLOW_BUNDLING=true where dev dependencies are installed\n',
      );
      process.exitCode = 1;
      return;
    }
    if (bundle !== undefined) process.env.MLOE_WORKFLOW_BUNDLE = bundle;
  }
  require('./register-tsx').registerTsx();
  // Extensionless: tsx resolves it to cli.ts.
  const { main: mloe } = require('../clients/cli');
  void mloe(['node', 'mloe', ...args]);
}

module.exports = { mloeArguments, workflowBundle, IMAGE_BUNDLE };

if (require.main === module) main();
