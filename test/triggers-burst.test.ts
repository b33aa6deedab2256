/**
 * A burst of 1,000 objects on an S3-compatible server (s3rver) starts exactly 1,000 runs of a trivial pipeline, one
 * per object, with ids derived from each object's URI and ETag, although the worker is replaced in the middle; and a
 * batch of starts repeated (as a retried activity repeats it after a crash) starts nothing. The other trigger
 * behaviours are in triggers.test.ts, a SIGKILLed worker and a restarted server in triggers-crash.test.ts; this suite
 * is on its own because it is heavy.
 *
 * The trigger's workflow runs on the suite's worker, its runs on a queue nobody polls: what is at stake here is which
 * runs the trigger starts, and running 1,000 pipelines to the end (what triggers.test.ts checks for a few) took two
 * minutes of the suite's CPU. They are terminated at the end.
 */
import { createHash } from 'node:crypto';

import { deleteTrigger, describeTrigger, prepareTrigger } from '../clients/triggers';
import { startTriggeredRuns } from '../activities/triggers/start-runs';
import { pollUntil } from './support/poll';
import { TRIGGER_BUCKET as BUCKET, startTriggerSuite, type TriggerSuite } from './support/triggers-harness';

jest.setTimeout(900_000);

const BURST = 1_000;

describe('a burst of 1,000 objects', () => {
  let suite: TriggerSuite;

  beforeAll(async () => {
    suite = await startTriggerSuite();
  });

  afterAll(async () => {
    await suite?.stop();
  });

  it('starts exactly one run per object of a 1,000-object burst, across a worker restart', async () => {
    const { client, suffix, create, put, runsOf, describeWhen, triggerOptions } = suite;
    const name = `burst-${suffix}`;
    const parked = { taskQueue: `${suite.taskQueue}-parked`, triggerTaskQueue: suite.taskQueue };
    await create('burst', { on: `s3://${BUCKET}/burst/`, poll: '500ms', ...parked });
    try {
      await describeWhen(name, 'the baseline listing', (d) => d.counters.polls >= 1);
      const etags = new Map<string, string>();
      const keys = Array.from({ length: BURST }, (_, i) => `burst/object-${String(i).padStart(4, '0')}.csv`);
      for (let i = 0; i < keys.length; i += 25) {
        await Promise.all(keys.slice(i, i + 25).map(async (key) => etags.set(key, await put(key))));
      }
      // The worker goes away mid-stream and another takes over: the trigger replays from its history.
      await pollUntil('a third of the runs started', async () => (await runsOf(name)).length >= BURST / 3, {
        timeoutMs: 300_000,
        intervalMs: 500,
      });
      await suite.restartWorker();

      const runs = await pollUntil(
        'every run started',
        async () => {
          const listed = await runsOf(name);
          return listed.length >= BURST ? listed : undefined;
        },
        { timeoutMs: 420_000, intervalMs: 1_000 },
      );
      const expected = new Map(
        keys.map((key) => {
          const uri = `s3://${BUCKET}/${key}`;
          const digest = createHash('sha256')
            .update(`${uri}\n${etags.get(key) ?? ''}`)
            .digest('hex');
          return [`${name}-${digest.slice(0, 32)}`, uri];
        }),
      );
      expect(runs).toHaveLength(BURST);
      expect(new Set(runs.map((run) => run.workflowId))).toEqual(new Set(expected.keys()));
      for (const run of runs) expect(run.uri).toBe(expected.get(run.workflowId));
      expect(new Set(runs.map((run) => run.status))).toEqual(new Set(['RUNNING']));
      const description = await describeTrigger(client, name);
      expect(description.counters).toMatchObject({ runsStarted: BURST, objectsSeen: BURST });
      expect(description.pending).toBe(0);

      // A batch started again (as a retried activity after a crash does) starts nothing: every run exists.
      const input = await prepareTrigger(triggerOptions('burst', { on: `s3://${BUCKET}/burst/`, ...parked }));
      const batch = [...expected]
        .slice(0, 50)
        .map(([runId, uri]) => ({ runId, uri, objects: 1, firstKey: uri, lastKey: uri }));
      const again = await startTriggeredRuns(client, { ...input, runs: batch });
      expect(again.every((run) => run.existing)).toBe(true);
      expect(await runsOf(name)).toHaveLength(BURST);
    } finally {
      await deleteTrigger(client, name);
      const started = await runsOf(name);
      for (let i = 0; i < started.length; i += 50) {
        await Promise.all(
          started.slice(i, i + 50).map((run) => client.workflow.getHandle(run.workflowId).terminate('test over')),
        );
      }
    }
  });
});
