/**
 * `npm run build:workflows [-- FILE]`: bundles `workflows/` for production workers and writes the bundle to FILE
 * (`dist/workflow-bundle.js` by default), atomically. Workers started with `mloe worker --workflow-bundle FILE` (or
 * `MLOE_WORKFLOW_BUNDLE=FILE`) run it as it is: no webpack and no cache check at start, and every worker of a deploy
 * runs exactly the same workflow code. Always a fresh build, never the cache's copy. `--tracing` bundles the
 * OpenTelemetry workflow interceptors too, for workers that trace (docs/telemetry.md).
 */
import { resolve } from 'node:path';

import { ensureError } from '../core/errors';
import { writeFileAtomic } from './bundle-cache';
import { buildWorkflowBundle, PIPELINE_WORKFLOWS_PATH } from './workflow-bundle';

/** Where the bundle goes when no file is named. */
const DEFAULT_OUTPUT = 'dist/workflow-bundle.js';

async function main(argv: readonly string[]): Promise<number> {
  const tracing = argv.includes('--tracing');
  const output = resolve(argv.find((arg) => arg !== '--tracing') ?? DEFAULT_OUTPUT);
  const startedAt = performance.now();
  const { code, inputs } = await buildWorkflowBundle({ tracing });
  await writeFileAtomic(output, code);
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
  const files = inputs === undefined ? '' : `, ${inputs.filter((input) => input.kind === 'file').length} input files`;
  process.stdout.write(
    `wrote ${output} (${(code.length / 2 ** 20).toFixed(1)} MiB from ${PIPELINE_WORKFLOWS_PATH}${files}) in ${seconds} s\n` +
      `run it with: mloe worker --workflow-bundle ${output}\n`,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`build:workflows failed: ${ensureError(error).message}\n`);
    process.exitCode = 1;
  },
);
