/**
 * A pipeline worker with the trigger suites' steps (`note@1`) as a process of its own, for the suite that SIGKILLs it
 * (test/triggers-crash.test.ts): `node --import tsx` this file with `MLOE_WORKER_ADDRESS`, `MLOE_WORKER_TASK_QUEUE`,
 * `MLOE_WORKER_BUNDLE` (a file holding a pre-built workflow bundle, so a restart takes no bundling time) and
 * `MLOE_TEST_S3_ENDPOINT` (the s3rver the triggers list) set. Prints `worker ready` once it polls.
 */
import { readFileSync } from 'node:fs';

import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';

import { createPipelineWorker } from '../../workers/pipeline-worker';
import { S3RVER_CREDENTIALS } from '../s3-server';
import { triggerSteps } from './triggers-pipeline';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const connection = await NativeConnection.connect({ address: required('MLOE_WORKER_ADDRESS') });
  const worker = await createPipelineWorker({
    connection,
    taskQueue: required('MLOE_WORKER_TASK_QUEUE'),
    workflowBundle: { code: readFileSync(required('MLOE_WORKER_BUNDLE'), 'utf8') },
    steps: triggerSteps,
    maxConcurrentActivityTaskExecutions: 200,
    artifactStore: { s3: { endpoint: required('MLOE_TEST_S3_ENDPOINT'), credentials: S3RVER_CREDENTIALS } },
  });
  const running = worker.run();
  process.stdout.write('worker ready\n');
  await running;
  await connection.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
