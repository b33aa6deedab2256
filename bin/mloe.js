#!/usr/bin/env node
// The `mloe` executable. mloe has no build step: tsx compiles the TypeScript sources in-process, so this file
// stays a small CommonJS shim and the whole CLI runs in this one process (a SIGKILL from the Temporal SDK
// stops the dev server itself, not just a wrapper).
'use strict';

// tsx, with the project's tsconfig, and CommonJS dependencies loaded by Node directly (see register-tsx.js).
require('./register-tsx').registerTsx();

// Extensionless: tsx resolves it to cli.ts, and tsc (checkJs) types it.
const { main } = require('../clients/cli');
void main(process.argv);
