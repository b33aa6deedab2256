/**
 * The versioning rule of docs/versioning.md, proven with the SDK's replayer on histories recorded here from the real
 * worker: a change that adds a command replays the histories of executions the old code started when it is guarded
 * with `patched()`, and fails with a nondeterminism error when it is not; `deprecatePatch()` then retires the old
 * branch once only executions the patched code started remain.
 */
import type { temporal } from '@temporalio/proto';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';

import * as activities from './fixtures/versioning/activities';
import { AUDIT_PATCH } from './fixtures/versioning/patches';
import { connect, uniqueQueue, withWorker, type TestEnv } from './devserver/harness';
import { suiteWorkflowBundle } from './pipeline-harness';

type History = temporal.api.history.v1.IHistory;

const VERSIONS = ['v1', 'v2', 'v2-unguarded', 'v3'] as const;
type Version = (typeof VERSIONS)[number];

describe('changing workflow code under runs in flight', () => {
  let env: TestEnv;
  const bundles = new Map<Version, WorkflowBundle>();
  /** Histories of one `greeting` execution each, recorded with the worker running v1 and v2. */
  const recorded = new Map<'v1' | 'v2', { workflowId: string; history: History; result: string }>();

  /** Runs `greeting` to completion on a worker of `version` and keeps its history. */
  async function record(version: 'v1' | 'v2'): Promise<void> {
    const taskQueue = uniqueQueue(`versioning-${version}`);
    const workflowId = `versioning-${version}-${Date.now()}`;
    const result = await withWorker(env, { taskQueue, workflowBundle: bundle(version), activities }, () =>
      env.client.workflow.execute<(name: string) => Promise<string>>('greeting', {
        taskQueue,
        workflowId,
        args: ['Ada'],
      }),
    );
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    recorded.set(version, { workflowId, history, result });
  }

  function bundle(version: Version): WorkflowBundle {
    const found = bundles.get(version);
    if (found === undefined) throw new Error(`no bundle for ${version}`);
    return found;
  }

  function history(version: 'v1' | 'v2'): { workflowId: string; history: History; result: string } {
    const found = recorded.get(version);
    if (found === undefined) throw new Error(`no history recorded with ${version}`);
    return found;
  }

  /** Replays a recorded history with the bundle of `version`: resolves, or rejects with the replayer's error. */
  function replay(recordedWith: 'v1' | 'v2', version: Version): Promise<void> {
    const { workflowId, history: events } = history(recordedWith);
    return Worker.runReplayHistory(
      { workflowBundle: bundle(version), replayName: `${recordedWith}-under-${version}` },
      events,
      workflowId,
    );
  }

  beforeAll(async () => {
    env = await connect();
    for (const version of VERSIONS) {
      const { code } = await suiteWorkflowBundle(require.resolve(`./fixtures/versioning/${version}`));
      bundles.set(version, { code });
    }
    await record('v1');
    await record('v2');
  });

  afterAll(async () => {
    await env?.close();
  });

  /** The activity types a history scheduled, in order. */
  function scheduledActivities(events: History): string[] {
    return (events.events ?? []).flatMap(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
    );
  }

  it('runs v1 with one activity, and v2 with the new one behind a recorded patch marker', () => {
    expect(history('v1').result).toBe('hello Ada');
    expect(scheduledActivities(history('v1').history)).toEqual(['greet']);
    expect(history('v2').result).toBe('hello Ada');
    expect(scheduledActivities(history('v2').history)).toEqual(['audit', 'greet']);
    const markers = (history('v2').history.events ?? []).flatMap((event) => event.markerRecordedEventAttributes ?? []);
    expect(markers.map((marker) => marker.markerName)).toEqual(['core_patch']);
    const data = markers[0]?.details?.['patch-data']?.payloads?.[0]?.data;
    expect(JSON.parse(Buffer.from(data ?? []).toString())).toEqual({ id: AUDIT_PATCH, deprecated: false });
  });

  it('replays a history recorded from v1 under v2, whose new command is guarded by patched()', async () => {
    await expect(replay('v1', 'v2')).resolves.toBeUndefined();
    await expect(replay('v2', 'v2')).resolves.toBeUndefined();
  });

  it('fails to replay the v1 history under the same change without the patched() guard', async () => {
    const error = await replay('v1', 'v2-unguarded').then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(DeterminismViolationError);
    expect((error as Error).message).toMatch(/\[TMPRL1100\] Nondeterminism error/);
  });

  it('retires the old branch with deprecatePatch(): v2 histories replay under v3, v1 histories no longer do', async () => {
    await expect(replay('v2', 'v3')).resolves.toBeUndefined();
    await expect(replay('v1', 'v3')).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
