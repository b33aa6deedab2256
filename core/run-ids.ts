/**
 * The identity of a pipeline run. A run is identified by its Temporal **workflow id** (`workflowId` everywhere in
 * mloe: the CLI's `RUN` arguments, the status, the records, the docs); Temporal's own run id of an execution is
 * always called `temporalRunId`, and `firstExecutionRunId` is the Temporal run id of the first execution under that
 * workflow id, which a Temporal reset keeps. Records are filed under the workflow id and owned by the first execution
 * run id, so two runs that share a workflow id can never overwrite each other's records.
 *
 * Pure (the workflow sandbox loads it); new ids are made by the client (`clients/run-ids.ts`).
 */

/**
 * A run's workflow id as records can file it: letters, digits, `_`, `-` and `:`, starting with a letter or digit, at
 * most 160 characters. No dots, so `records/steps/<workflowId>.<stepId>[.<index>]` splits unambiguously; `:` because
 * Temporal names a scheduled run `<schedule>-<scheduled time, RFC 3339>` (`nightly-2026-01-01T00:00:00Z`).
 */
export const WORKFLOW_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_:-]{0,159}$/;

/** A step id as records name it: an identifier. */
export const STEP_ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** What is wrong with a workflow id for a pipeline run, or `undefined` when it is usable. */
export function workflowIdProblem(workflowId: string): string | undefined {
  if (WORKFLOW_ID_PATTERN.test(workflowId)) return undefined;
  if (workflowId.length === 0) return 'a run id cannot be empty';
  if (workflowId.length > 160) return `a run id has at most 160 characters, this one has ${workflowId.length}`;
  return (
    `run id ${JSON.stringify(workflowId)} may hold only letters, digits, '_', '-' and ':', starting with a letter or ` +
    `digit (it names files in the artifact store)`
  );
}
