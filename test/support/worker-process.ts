/**
 * The body of a pipeline worker run as a process of its own, for tests that SIGKILL it (the `*-worker-main.ts` entry
 * files, started with `node --import tsx`): connects to `MLOE_WORKER_ADDRESS`, polls `MLOE_WORKER_TASK_QUEUE` with the
 * pre-built workflow bundle in the file `MLOE_WORKER_BUNDLE` (so a restart takes no bundling time), prints
 * `worker ready` once it polls, and exits 1 on a failure.
 */
import { readFileSync } from 'node:fs';

import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';

import { createPipelineWorker, type PipelineWorkerOptions } from '../../workers/pipeline-worker';

/** An environment variable the worker process needs; throws naming it when unset. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

/** Runs the worker with `options` added to the connection, task queue and bundle, until it is killed. */
export function runWorkerProcess(
  options: Partial<Omit<PipelineWorkerOptions, 'connection' | 'taskQueue' | 'workflowBundle'>> = {},
  logLevel: LogLevel = 'WARN',
): void {
  const main = async (): Promise<void> => {
    Runtime.install({ logger: new DefaultLogger(logLevel) });
    const connection = await NativeConnection.connect({ address: requiredEnv('MLOE_WORKER_ADDRESS') });
    const worker = await createPipelineWorker({
      connection,
      taskQueue: requiredEnv('MLOE_WORKER_TASK_QUEUE'),
      workflowBundle: { code: readFileSync(requiredEnv('MLOE_WORKER_BUNDLE'), 'utf8') },
      ...options,
    });
    const running = worker.run();
    process.stdout.write('worker ready\n');
    await running;
    await connection.close();
  };
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
