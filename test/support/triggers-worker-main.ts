/**
 * A pipeline worker with the trigger suites' steps (`note@1`) as a process of its own, for the suite that SIGKILLs it
 * (test/triggers-crash.test.ts): `node --import tsx` this file with `MLOE_WORKER_ADDRESS`, `MLOE_WORKER_TASK_QUEUE`,
 * `MLOE_WORKER_BUNDLE` (see test/support/worker-process.ts) and `MLOE_TEST_S3_ENDPOINT` (the s3rver the triggers
 * list) set. Prints `worker ready` once it polls.
 */
import { S3RVER_CREDENTIALS } from '../s3-server';
import { triggerSteps } from './triggers-pipeline';
import { requiredEnv, runWorkerProcess } from './worker-process';

runWorkerProcess(
  {
    steps: triggerSteps,
    maxConcurrentActivityTaskExecutions: 200,
    artifactStore: { s3: { endpoint: requiredEnv('MLOE_TEST_S3_ENDPOINT'), credentials: S3RVER_CREDENTIALS } },
  },
  'ERROR',
);
