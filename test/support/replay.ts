/**
 * Replays the histories of workflows a suite ran against its workflow bundle, on one replay worker for all of them
 * (`Worker.runReplayHistories`): a replay worker per history costs a worker's start each, which on a loaded machine
 * made "replay everything" tests the slowest of their suites.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

/** Where histories that failed to replay are written. */
const FAILED_HISTORIES = resolve(__dirname, '..', '..', 'test-output', 'replay-failures');

/** The bundle option replay workers take (a bundle, or its code alone). */
export type ReplayBundle = WorkflowBundleWithSourceMap | { code: string };

/**
 * Fetches each handle's history and replays them all; throws with every workflow id that failed to replay (and
 * why), and when there is nothing to replay (replaying nothing would prove nothing).
 */
export async function replayAll(workflowBundle: ReplayBundle, handles: readonly WorkflowHandle[]): Promise<void> {
  if (handles.length === 0) throw new Error('no workflow histories to replay');
  const histories = await Promise.all(
    handles.map(async (handle) => ({ workflowId: handle.workflowId, history: await handle.fetchHistory() })),
  );
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories({ workflowBundle }, histories)) {
    replayed += 1;
    if (result.error === undefined) continue;
    // The history that failed is kept (test-output/, ignored by git) for `Worker.runReplayHistory` by hand.
    const history = histories.find((entry) => entry.workflowId === result.workflowId)?.history;
    const file = join(FAILED_HISTORIES, `${result.workflowId}.json`);
    await mkdir(FAILED_HISTORIES, { recursive: true });
    await writeFile(file, history === undefined ? 'null' : historyToJSON(history));
    failures.push(`${result.workflowId}: ${result.error.name}: ${result.error.message} (history in ${file})`);
  }
  if (failures.length > 0) throw new Error(`histories failed to replay:\n${failures.join('\n')}`);
  if (replayed !== handles.length) throw new Error(`replayed ${replayed} of ${handles.length} histories`);
}
