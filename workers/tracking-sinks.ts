/**
 * The worker's side of the `mloeTracking` sink (`activities/tracking/prepared-runs.ts`): a pipeline workflow says it
 * scheduled a step, and a worker that tracks runs in MLflow creates the step's run while Temporal dispatches the
 * activity. The creation starts after the workflow task's completion is on its way (it never delays it) and is not
 * waited for. A worker that tracks nothing registers the sink all the same, doing nothing, so that workflows never
 * call an unregistered sink. Not called on replay.
 */
import type { InjectedSinks } from '@temporalio/worker';

import { prepareStepRun, type MlflowTracker } from '../activities/tracking';
import type { StepTrackingSinks } from '../activities/tracking/types';

/** The `mloeTracking` sink of a worker, preparing step runs through `tracker` when there is one. */
export function trackingSinks(tracker: MlflowTracker | undefined): InjectedSinks<StepTrackingSinks> {
  return {
    mloeTracking: {
      stepScheduled: {
        fn: (_info, step) => {
          if (tracker === undefined) return;
          const scheduledAt = new Date();
          setImmediate(() => prepareStepRun(tracker, step, scheduledAt));
        },
        callDuringReplay: false,
      },
    },
  };
}
