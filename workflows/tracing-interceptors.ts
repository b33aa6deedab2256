/**
 * The workflow interceptors of a tracing worker (bundled by `workers/workflow-bundle.ts` when the worker traces; never
 * imported by `workflows/index.ts`): Temporal's OpenTelemetry interceptors, for runs that started with them only.
 *
 * Those interceptors wrap every activity and child workflow start in a few more `await`s, which shifts when their
 * results reach the workflow relative to other promises settled in the same activation. A run recorded without them
 * and replayed with them (or the other way round) could then issue its commands in another order (promotion's
 * Update handlers run beside step scheduling). So the choice is made once per run, at its first activation, and
 * recorded in the history through the SDK flag the interceptors themselves use (`OpenTelemetryInterceptorsInstrumentsAllMethods`, an SDK flag: workflow task
 * metadata, not a command): a new run turns it on and is traced; a run replayed whose first workflow task did not
 * set it (it started on a worker that did not trace, or before tracing was turned on) runs without the interceptors,
 * exactly as it was recorded.
 */
import { interceptors as openTelemetryInterceptors } from '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors';
import type { WorkflowInterceptors } from '@temporalio/workflow';
import { SdkFlags } from '@temporalio/workflow/lib/flags';
import { getActivator } from '@temporalio/workflow/lib/global-attributes';

/** The SDK's workflow interceptors factory: Temporal's OpenTelemetry interceptors when this run is traced. */
export const interceptors = (): WorkflowInterceptors =>
  getActivator().hasFlag(SdkFlags.OpenTelemetryInterceptorsInstrumentsAllMethods) ? openTelemetryInterceptors() : {};
