/**
 * An activity interceptor that puts the step on every log line of a `runStep` execution: the SDK's activity logger
 * already carries the workflow id, run id and attempt; this adds `pipeline`, `step` and (for `foreach` iterations)
 * `index`, read from the activity's request.
 */
import type {
  ActivityExecuteInput,
  ActivityInboundCallsInterceptor,
  ActivityInterceptorsFactory,
  ActivityOutboundCallsInterceptor,
  GetLogAttributesInput,
  Next,
} from '@temporalio/worker';

/** The step fields of a request, when it is a `runStep` request. */
function stepOf(input: ActivityExecuteInput): Record<string, unknown> | undefined {
  const request: unknown = input.args[0];
  if (typeof request !== 'object' || request === null) return undefined;
  const { stepId, pipeline, index } = request as Record<string, unknown>;
  if (typeof stepId !== 'string') return undefined;
  return {
    step: stepId,
    ...(typeof pipeline === 'string' ? { pipeline } : {}),
    ...(typeof index === 'number' ? { index } : {}),
  };
}

/** The interceptors factory: one inbound and one outbound interceptor per activity execution, sharing the step. */
export const stepLogAttributes: ActivityInterceptorsFactory = () => {
  let step: Record<string, unknown> | undefined;
  const inbound: ActivityInboundCallsInterceptor = {
    execute(input, next: Next<ActivityInboundCallsInterceptor, 'execute'>) {
      step = stepOf(input);
      return next(input);
    },
  };
  const outbound: ActivityOutboundCallsInterceptor = {
    getLogAttributes(input: GetLogAttributesInput, next: Next<ActivityOutboundCallsInterceptor, 'getLogAttributes'>) {
      return next(step === undefined ? input : { ...input, ...step });
    },
  };
  return { inbound, outbound };
};
