/**
 * `runStep`: the one activity behind every pipeline step. It dispatches a `uses:` step to its TypeScript
 * implementation and a `run:` step to the command runner (`activities/runner`), heartbeats so that cancellation
 * reaches it, and reports failures as `ApplicationFailure`s that keep the step's error code and say which attempt
 * failed. Idempotency is the step's: the built-in steps write content-addressed artifacts, so a retry is harmless.
 */
import { resolve } from 'node:path';

import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';

import { MloeError } from '../../clients/errors';
import { toApplicationFailure } from '../failures';
import { BUILTIN_IMPLEMENTATIONS } from './builtin';
import { createStepImplementations, type StepImplementations, type StepOutput } from './registry';
import type { RunStepRequest, RunStepResult, StepFailureDetails } from './types';

/** How often a running step heartbeats (the SDK throttles what reaches the server). */
const HEARTBEAT_INTERVAL_MS = 1_000;

/** The built-in step implementations. */
export const BUILTIN_STEP_IMPLEMENTATIONS: StepImplementations = createStepImplementations(BUILTIN_IMPLEMENTATIONS);

/** The `runStep` activity's signature. */
export type RunStepActivity = (request: RunStepRequest) => Promise<RunStepResult>;

/**
 * Makes the `runStep` activity for a set of step implementations (the built-ins by default; tests and workers with
 * their own steps pass a larger set).
 */
export function createRunStep(implementations: StepImplementations = BUILTIN_STEP_IMPLEMENTATIONS): RunStepActivity {
  return async function runStep(request: RunStepRequest): Promise<RunStepResult> {
    const context = Context.current();
    const attempt = context.info.attempt;
    const started = performance.now();
    const heartbeat = setInterval(() => context.heartbeat(), HEARTBEAT_INTERVAL_MS);
    context.heartbeat();
    try {
      const output = await Promise.race([dispatch(implementations, request, attempt, context), context.cancelled]);
      return { ...output, attempt, durationMs: Math.round(performance.now() - started) };
    } catch (error) {
      if (error instanceof CancelledFailure) throw error;
      throw stepFailure(error, attempt);
    } finally {
      clearInterval(heartbeat);
    }
  };
}

/** The default `runStep`, with the built-in steps. */
export const runStep: RunStepActivity = createRunStep();

async function dispatch(
  implementations: StepImplementations,
  request: RunStepRequest,
  attempt: number,
  context: Context,
): Promise<StepOutput> {
  if (request.uses !== undefined) {
    const implementation = implementations.get(request.uses);
    if (implementation === undefined) {
      throw new MloeError('CONFIG_INVALID', `this worker has no implementation of step ${request.uses}`);
    }
    return implementation.run(request.inputs, {
      stepId: request.stepId,
      runId: request.runId,
      ...(request.index === undefined ? {} : { index: request.index }),
      params: request.params,
      artifactRoot: request.artifactRoot,
      workingDir: request.workingDir,
      attempt,
      signal: context.cancellationSignal,
    });
  }
  if (request.run !== undefined) {
    // Loaded on first use: workers that never run commands do not load the runner.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runCommandStep } = require('../runner') as typeof import('../runner');
    const result = await runCommandStep({
      stepId: request.index === undefined ? request.stepId : `${request.stepId}-${request.index}`,
      runId: request.runId,
      command: request.run.command,
      ...(request.run.env === undefined ? {} : { env: request.run.env }),
      ...(request.run.workingDir === undefined
        ? {}
        : { workingDir: resolve(request.workingDir, request.run.workingDir) }),
      params: request.params,
      inputs: request.inputs,
      outputs: request.outputs,
      artifactRoot: request.artifactRoot,
    });
    return {
      outputs: result.outputs as StepOutput['outputs'],
      ...(result.metrics === undefined ? {} : { metrics: result.metrics }),
    };
  }
  throw new MloeError('INTERNAL', `step ${request.stepId} has neither uses nor run`);
}

/**
 * The failure `runStep` raises: the step's error code as the type, its retryability, and {@link StepFailureDetails}
 * as the first detail. Unexpected errors (not `MloeError`s or `ApplicationFailure`s) stay retryable.
 */
function stepFailure(error: unknown, attempt: number): ApplicationFailure {
  const mapped = toApplicationFailure(error);
  const original = mapped instanceof ApplicationFailure ? mapped : undefined;
  const details: StepFailureDetails = { attempt, details: original?.details ? [...original.details] : [] };
  const cause = original === undefined ? mapped : original.cause;
  return ApplicationFailure.create({
    type: original?.type ?? mapped.name,
    message: mapped.message,
    nonRetryable: original?.nonRetryable ?? false,
    details: [details],
    ...(cause instanceof Error ? { cause } : {}),
  });
}
