/**
 * The built-in steps that can run in a container on a remote executor (`executor: kubernetes | batch` on a `uses:`
 * step), where `mloe step exec NAME@VERSION` runs them under the command-step contract. They read only their inputs
 * and write only artifacts and values; steps that reach the worker's MLflow registry (`register@1`, `evaluate@2` with
 * a champion, `deploy@1`), serve (`deploy@1`) or read files and URLs on the worker's host (`ingest@1`, `ingest@2`)
 * run on the worker. Data only: the validator and `mloe step exec` both read it.
 */

/** `name@version` of every built-in step a remote executor can run. */
export const CONTAINER_BUILTIN_STEPS: readonly string[] = [
  'validate@1',
  'featurize@1',
  'train@1',
  'evaluate@1',
  'validate@2',
  'split@1',
  'features@1',
  'train@2',
];

/** Whether the built-in step `name@version` can run on a remote executor. */
export function runsInContainer(ref: string): boolean {
  return CONTAINER_BUILTIN_STEPS.includes(ref);
}
