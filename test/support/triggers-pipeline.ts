/**
 * The pipeline of the trigger suites and the steps of their workers (in-process and child-process ones alike): kept
 * apart from test/support/triggers-harness.ts so a worker process loads no test servers.
 */
import { BUILTIN_IMPLEMENTATIONS, createStepImplementations, type StepImplementations } from '../../activities/steps';

/** The steps of the suites' workers: the built-in ones and `note@1`, which hands its `uri` input back. */
export const triggerSteps: StepImplementations = createStepImplementations(BUILTIN_IMPLEMENTATIONS, [
  {
    descriptor: {
      name: 'note',
      version: '1',
      inputs: { uri: { type: 'string' } },
      outputs: { uri: { type: 'string' } },
    },
    run: (inputs) => Promise.resolve({ outputs: { uri: typeof inputs.uri === 'string' ? inputs.uri : '' } }),
  },
]);

/** The pipeline the suites' triggers start: one `note` step of the `uri` parameter. */
export const triggerSpec = {
  apiVersion: 'mloe.dev/v1',
  kind: 'Pipeline',
  metadata: { name: 'on-arrival' },
  params: { uri: { type: 'string' } },
  steps: { note: { uses: 'note@1', with: { uri: '${{ params.uri }}' } } },
};
