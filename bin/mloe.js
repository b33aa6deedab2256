#!/usr/bin/env node
// The `mloe` executable. mloe has no build step: tsx compiles the TypeScript sources in-process, so this file
// stays a small CommonJS shim and the whole CLI runs in this one process (a SIGKILL from the Temporal SDK
// stops the dev server itself, not just a wrapper).
'use strict';

const path = require('node:path');

// Use the project's tsconfig whatever the current directory is.
process.env.TSX_TSCONFIG_PATH ??= path.join(__dirname, '..', 'tsconfig.json');
require('tsx/cjs/api').register();

// Extensionless: tsx resolves it to cli.ts, and tsc (checkJs) types it.
const { main } = require('../clients/cli');
void main(process.argv);
