/**
 * One step of a run, from its gate to its end: whether it runs (`when`, skipped needs), then its execution (one
 * `runStep` activity, a `foreach` fan-out or a sub-pipeline child run), then its outcome in the status, the outputs
 * and the run's progress. Failure semantics: a failure fails the pipeline and, unless the pipeline has
 * `continueOnFailure`, cancels the running steps; a step's own `continueOnFailure` keeps its failure from failing the
 * pipeline at all. A step whose `when` is false is skipped, and so is every step that needs a skipped step unless it
 * has a `when` of its own (a skipped step has no outputs; test with `has(steps.x)`).
 */
import { isCancellation, type CancellationScope } from '@temporalio/workflow';

import type { RunStepResult } from '../activities/steps';
import { evaluateCondition } from '../core/expressions';
import { runForeachStep, type ForeachContext } from './foreach-step';
import { recordCacheDecisions, type RunStatus } from './run-status';
import type { StepGate, StepProgress, StepTaskRunner } from './scheduler';
import {
  describeFailure,
  executeStep,
  failedAttempts,
  stepActivityOptions,
  type StepActivityOptions,
} from './step-execution';
import { runSubPipeline } from './sub-pipeline';
import { runPromotion, type ApprovalGates } from './promotion';
import type { RunPipelineInput } from './types';

/** What step tasks work with: the run, its bookkeeping, and the scope its steps run in. */
export interface StepTaskContext extends ForeachContext {
  input: RunPipelineInput;
  status: RunStatus;
  progress: StepProgress;
  /** Cancelled by a fail-fast failure. */
  stepsScope: CancellationScope;
  /** The approval gates of `promote` steps. */
  gates: ApprovalGates;
}

/** The steps of one run, as the scheduler starts them. */
export class StepTasks implements StepTaskRunner {
  constructor(private readonly context: StepTaskContext) {}

  gate(id: string): StepGate {
    const { definition, progress, requests } = this.context;
    const step = definition.step(id);
    const skippedNeed = (definition.graph.needs.get(id) ?? []).find((need) => progress.skipped.has(need));
    if (step.when === undefined) {
      return skippedNeed === undefined
        ? { run: true }
        : { run: false, reason: `needs ${skippedNeed}, which was skipped` };
    }
    return evaluateCondition(step.when, requests.bindings(id, 'when'))
      ? { run: true }
      : { run: false, reason: `when is false: ${String(step.when)}` };
  }

  skip(id: string, reason: string): void {
    this.context.status.finish(id, 'skipped', { reason });
    this.context.progress.skipped.add(id);
  }

  fail(id: string, error: unknown): void {
    const { definition, status, progress, stepsScope } = this.context;
    status.finish(id, 'failed', { error: describeFailure(error) });
    progress.stopped.add(id);
    if (definition.step(id).continueOnFailure === true) return;
    progress.failures.push(id);
    if (definition.spec.continueOnFailure !== true) {
      progress.failFast = true;
      stepsScope.cancel();
    }
  }

  async run(id: string): Promise<void> {
    const { definition, status, progress, requests, outputs, input } = this.context;
    const current = status.start(id);
    const step = definition.step(id);
    const options = stepActivityOptions(definition.spec, step);
    try {
      if (step.promote !== undefined) {
        // A promotion runs in the workflow: no step of an existing history has `promote`, so no patch is needed.
        const promoted = await runPromotion(
          {
            input,
            definition,
            requests,
            status,
            gates: this.context.gates,
            workflowId: this.context.workflowId,
          },
          id,
        );
        current.outputs = promoted;
        outputs.record(id, promoted, undefined, definition.portsOf(id));
      } else if (step.pipeline !== undefined) {
        const params = requests.inputs(id, requests.bindings(id, 'with'));
        const result = await runSubPipeline({
          // A rerun runs a sub-pipeline step it runs again without the cache, like any other step.
          parent: definition.runsAgain(id) ? { ...input, noCache: true } : input,
          stepId: id,
          step,
          params,
          entry: current,
          registry: definition.registry,
        });
        outputs.record(id, result.outputs, result.metrics, definition.portsOf(id));
      } else if (step.foreach === undefined) await this.runSingle(id, options);
      else await runForeachStep(this.context, id, current, options);
      status.finish(id, 'completed');
      progress.done.add(id);
    } catch (error) {
      if (isCancellation(error)) {
        status.finish(id, 'cancelled');
        progress.stopped.add(id);
      } else {
        this.fail(id, error);
      }
    }
  }

  /** A step that runs once: one `runStep` activity. */
  private async runSingle(id: string, options: StepActivityOptions): Promise<void> {
    const { definition, status, requests, outputs, slots } = this.context;
    const inputs = requests.inputs(id, requests.bindings(id, 'with'));
    const runBase = definition.step(id).run === undefined ? undefined : requests.bindings(id, 'run');
    let request = requests.request(id, inputs, runBase);
    if (this.context.manifests.needsManifests(request)) request = await this.context.manifests.compact(request);
    let result: RunStepResult;
    try {
      result = await executeStep(request, options, slots);
    } catch (error) {
      status.entry(id).attempts = failedAttempts(error, options);
      throw error;
    }
    const current = status.entry(id);
    current.attempts = result.attempt;
    recordCacheDecisions(current, [result]);
    if (result.logs !== undefined) current.logs = result.logs;
    current.outputs = result.outputs;
    if (result.metrics !== undefined) current.metrics = result.metrics;
    outputs.record(id, result.outputs, result.metrics, definition.portsOf(id));
  }
}
