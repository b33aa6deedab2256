/**
 * Runs in flight survive a deploy: every history recorded in `test/histories/` (one per workflow type and released
 * behaviour, see docs/versioning.md) replays against the current bundle of the workflows entry it was recorded from.
 * A change to workflow code that changes its commands without a `patched()` guard fails here with the SDK's
 * nondeterminism error. The suite fails too when it replayed fewer histories than there are files, and when a
 * workflow an entry exports has no recorded history.
 */
import { Worker, type ReplayResult } from '@temporalio/worker';

import { HISTORY_SETS, historyFiles, readHistory, type HistorySet } from './histories/sets';
import { suiteWorkflowBundle } from './pipeline-harness';

/** Replays every history of a set against the current bundle of its entry; one result per history replayed. */
async function replaySet(set: HistorySet): Promise<ReplayResult[]> {
  const histories = historyFiles(set).map(readHistory);
  const { code } = await suiteWorkflowBundle(set.workflowsPath);
  const results: ReplayResult[] = [];
  const replays = Worker.runReplayHistories(
    { workflowBundle: { code }, replayName: `recorded-${set.directory}` },
    histories.map(({ workflowId, history }) => ({ workflowId, history })),
  );
  for await (const result of replays) results.push(result);
  return results;
}

describe('recorded workflow histories replay against the current workflow code', () => {
  it.each(HISTORY_SETS.map((set) => [set.directory, set] as const))(
    '%s: every history replays, without nondeterminism',
    async (_name, set) => {
      const files = historyFiles(set);
      expect(files.length).toBeGreaterThan(0);
      const results = await replaySet(set);
      const outcomes = results.map((result) => ({
        workflowId: result.workflowId,
        error: result.error === undefined ? undefined : `${result.error.name}: ${result.error.message}`,
      }));
      expect(outcomes).toEqual(files.map((file) => ({ workflowId: readHistory(file).workflowId, error: undefined })));
    },
  );

  it.each(HISTORY_SETS.map((set) => [set.directory, set] as const))(
    '%s: every workflow the entry exports has a recorded history',
    async (_name, set) => {
      const entry = (await import(set.workflowsPath)) as Record<string, unknown>;
      const exported = Object.entries(entry)
        .filter(([, value]) => typeof value === 'function')
        .map(([name]) => name)
        .sort();
      const recorded = new Set(historyFiles(set).map((file) => readHistory(file).workflowType));
      expect(exported.length).toBeGreaterThan(0);
      expect(exported.filter((name) => !recorded.has(name))).toEqual([]);
    },
  );
});
