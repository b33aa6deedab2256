/**
 * New workflow ids for pipeline runs: `<pipeline>-<ULID>`, e.g. `housing-price-01JF3Y8Z6KQ4W5ZP0B4N3C2V1D`. The
 * pipeline name makes an id readable in the Temporal Web UI and in `mloe list`; the ULID (48 bits of milliseconds,
 * 80 random bits, Crockford base32) makes ids of one pipeline sort by start time and never collide in practice (two
 * starts in the same millisecond collide with probability 2^-80). Callers may choose their own id instead
 * (`mloe run --id`, `startPipeline({ workflowId })`) to make a start idempotent.
 */
import { monotonicFactory } from 'ulid';

import { WORKFLOW_ID_PATTERN } from '../core/run-ids';
import { MloeError } from '../core/errors';

/** One generator per process: ids made in the same millisecond still sort in the order they were made. */
const nextUlid = monotonicFactory();

/** A new workflow id for a run of `pipeline` (a spec's `metadata.name`). */
export function newRunWorkflowId(pipeline: string, now: number = Date.now()): string {
  const id = `${pipeline}-${nextUlid(now)}`;
  if (!WORKFLOW_ID_PATTERN.test(id)) {
    throw new MloeError('INTERNAL', `generated run id ${JSON.stringify(id)} does not fit the run id pattern`);
  }
  return id;
}
