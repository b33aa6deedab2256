/**
 * The bridge from step executions to telemetry: every execution of `runStep` (a cache hit included) is observed in
 * the worker's step metrics (`activities/telemetry/step-metrics.ts`), gets a span of its own under the activity's
 * (`step <id>`, with the pipeline, step, attempt and cache decision as attributes; a no-op unless the worker traces),
 * and leaves one `info` log line through the activity's logger when it ends.
 */
import { Context } from '@temporalio/activity';
import { SpanStatusCode, trace, type Span } from '@opentelemetry/api';

import { cpuSecondsNow, MemorySampler } from '../telemetry/resources';
import { sharedStepMetrics, type StepMetrics } from '../telemetry/step-metrics';
import type { ExecutionObserver } from './run-step';
import type { RunStepRequest } from './types';

/** The instrumentation scope of mloe's own spans. */
export const MLOE_TRACER_NAME = 'mloe';

/** Span attribute names of step spans. */
export const STEP_SPAN_ATTRIBUTES = {
  pipeline: 'mloe.pipeline',
  step: 'mloe.step',
  index: 'mloe.step.index',
  attempt: 'mloe.step.attempt',
  uses: 'mloe.step.uses',
  cache: 'mloe.step.cache',
  errorCode: 'mloe.error.code',
  workflowId: 'temporalWorkflowId',
} as const;

/** What an execution measured at its start. */
interface Started {
  cpuSeconds: number;
  memory: symbol;
  queueWaitSeconds?: number;
  attempt: number;
  span: Span;
}

/** The running activity's context, when there is one. */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** Options of {@link telemetryObserver}. */
export interface TelemetryObserverOptions {
  /** The process's step metrics by default. */
  metrics?: StepMetrics;
}

/** An observer that measures, traces and logs every step execution. Its failures never fail a step. */
export function telemetryObserver(options: TelemetryObserverOptions = {}): ExecutionObserver {
  const metrics = options.metrics ?? sharedStepMetrics();
  const sampler = new MemorySampler();
  const running = new WeakMap<RunStepRequest, Started>();
  const tracer = trace.getTracer(MLOE_TRACER_NAME);
  return {
    started(request, _store, startedAt) {
      const info = activityContext()?.info;
      const attempt = info?.attempt ?? 1;
      const span = tracer.startSpan(`step ${request.stepId}`, {
        startTime: startedAt,
        attributes: {
          [STEP_SPAN_ATTRIBUTES.pipeline]: request.pipeline,
          [STEP_SPAN_ATTRIBUTES.step]: request.stepId,
          [STEP_SPAN_ATTRIBUTES.attempt]: attempt,
          [STEP_SPAN_ATTRIBUTES.uses]: request.uses ?? 'run',
          [STEP_SPAN_ATTRIBUTES.workflowId]: request.workflowId,
          ...(request.index === undefined ? {} : { [STEP_SPAN_ATTRIBUTES.index]: request.index }),
        },
      });
      const scheduled = info?.currentAttemptScheduledTimestampMs;
      running.set(request, {
        cpuSeconds: cpuSecondsNow(),
        memory: sampler.start(),
        attempt,
        span,
        ...(scheduled === undefined || scheduled <= 0
          ? {}
          : { queueWaitSeconds: Math.max(0, (startedAt.getTime() - scheduled) / 1000) }),
      });
      return Promise.resolve();
    },
    finished(report) {
      const started = running.get(report.request);
      if (started === undefined) return Promise.resolve();
      running.delete(report.request);
      const { request, outcome } = report;
      const durationSeconds = (report.finishedAt.getTime() - report.startedAt.getTime()) / 1000;
      const cache = outcome.ok ? outcome.result.cache.decision : (outcome.cache?.decision ?? 'unknown');
      const errorCode = outcome.ok ? undefined : (outcome.code ?? 'UNKNOWN');
      const gpus = request.placement?.resources?.gpu ?? 0;
      metrics.observe({
        pipeline: request.pipeline,
        step: request.stepId,
        outcome: outcome.ok ? 'completed' : 'failed',
        cache,
        attempt: started.attempt,
        durationSeconds,
        ...(started.queueWaitSeconds === undefined ? {} : { queueWaitSeconds: started.queueWaitSeconds }),
        ...(errorCode === undefined ? {} : { errorCode, retryable: outcome.ok ? true : outcome.nonRetryable !== true }),
        cpuSeconds: Math.max(0, cpuSecondsNow() - started.cpuSeconds),
        peakMemoryBytes: sampler.stop(started.memory),
        gpuSeconds: gpus * durationSeconds,
      });
      const { span } = started;
      span.setAttribute(STEP_SPAN_ATTRIBUTES.cache, cache);
      if (outcome.ok) span.setStatus({ code: SpanStatusCode.OK });
      else {
        span.setAttribute(STEP_SPAN_ATTRIBUTES.errorCode, errorCode ?? 'UNKNOWN');
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.slice(0, 1000) });
      }
      span.end(report.finishedAt);
      const log = activityContext()?.log;
      const fields = { durationMs: Math.round(durationSeconds * 1000), cache, ...(errorCode ? { errorCode } : {}) };
      if (outcome.ok) log?.info('step completed', fields);
      else log?.warn('step failed', fields);
      return Promise.resolve();
    },
  };
}
