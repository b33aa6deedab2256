/**
 * A drift monitor over a simulated day, on mloe's time-skipping test server (`createMloeTimeSkippingEnv`) with a real
 * pipeline worker: the monitor's Temporal Schedule (`--every 1h`) ticks on the hour by itself, no trigger, while the
 * test plays a model's sampled serving inputs into the request log hour by hour, in server time (Seattle's weather:
 * even days of 2012 are undrifted, 2015 is drifted). An undrifted stretch starts nothing; the first drifted hour starts
 * exactly one retraining run for its episode; later ticks of that episode, and new episodes within the cooldown, start
 * none; the daily cap (two) holds for the rest of the day and lifts at midnight. A day and a half of ticks takes seconds.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';

import { storeForUri, type ArtifactStore } from '../activities/artifacts';
import { BUILTIN_IMPLEMENTATIONS, createStepImplementations } from '../activities/steps';
import { RequestLog } from '../activities/serving/request-log';
import { createMonitor, deleteMonitor, describeMonitor, pauseMonitor } from '../clients/monitors';
import { episodeId, type RetrainDecision } from '../core/monitoring/episodes';
import { monitorScheduleId, retrainWorkflowId } from '../core/monitoring/definition';
import { createPipelineWorker } from '../workers/pipeline-worker';
import { registerSearchAttributes } from '../workers/search-attributes';
import { PIPELINE_SEARCH_ATTRIBUTE, type MonitorModelWorkflow } from '../workflows/types';
import { runInBackground } from './devserver/harness';
import { createMloeTimeSkippingEnv } from './devserver/time-skipping-env';
import { suiteWorkflowBundle } from './pipeline-harness';
import { servingInputsOf, writeWeatherSplits } from './support/monitoring-weather';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/**
 * Six intervals exactly: a tick starts a millisecond or so after its scheduled time, and counts from its scheduled time
 * (`mloe-monitor-scheduled-time`), so the cooldown ends on the sixth tick, not a millisecond after it.
 */
const COOLDOWN = 6 * HOUR;
const MAX_RUNS_PER_DAY = 2;

const steps = createStepImplementations(BUILTIN_IMPLEMENTATIONS);
const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The serving inputs of the hour before each tick, from the tick at midnight (0) to the next midnight (24): drifted
 * hours come in three stretches, separated by undrifted ones.
 */
const DRIFTED_BEFORE_TICK = new Set([6, 7, 8, 10, 11, 12, ...Array.from({ length: 11 }, (_, i) => 14 + i)]);
const TICKS = 25;

/** The light retraining pipeline: ingests the data it is given (which run it is, not what it does, is under test). */
const retrainSpec = (name: string): Record<string, unknown> => ({
  apiVersion: 'mloe.dev/v1',
  kind: 'Pipeline',
  metadata: { name },
  params: { data: { type: 'string' } },
  steps: { ingest: { uses: 'ingest@2', with: { source: '${{ params.data }}' } } },
});

describe('a drift monitor with time skipping', () => {
  let env: TestWorkflowEnvironment;
  let stopWorker: (() => Promise<void>) | undefined;
  let directory: string;
  let store: ArtifactStore | undefined;
  const id = randomUUID().slice(0, 8);
  const taskQueue = `mloe-monitoring-skip-${id}`;
  const model = `weather-${id}`;
  const monitorName = `weather-skip-${id}`;
  const pipelineName = `weather-skip-retrain-${id}`;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mloe-monitoring-skip-'));
    env = await createMloeTimeSkippingEnv();
    await registerSearchAttributes(env.connection, 'default');
    const { code } = await suiteWorkflowBundle();
    stopWorker = runInBackground(
      await createPipelineWorker({ connection: env.nativeConnection, taskQueue, workflowBundle: { code }, steps }),
    );
  }, 120_000);

  afterAll(async () => {
    await deleteMonitor(env.client, monitorName).catch(() => undefined);
    await store?.close();
    await stopWorker?.();
    await env?.teardown();
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  /** Sleeps in server time until `at` (ms since the epoch). */
  const sleepUntil = async (at: number): Promise<void> => env.sleep(at - (await env.currentTimeMs()));

  it('ticks on the hour; one run per episode, none within the cooldown, at most two a UTC day', async () => {
    const files = await writeWeatherSplits(directory);
    const [undrifted, drifted] = await Promise.all([servingInputsOf(files.holdout), servingInputsOf(files.y2015)]);
    const pipeline = join(directory, 'retrain.json');
    await writeFile(pipeline, JSON.stringify(retrainSpec(pipelineName)));

    // The simulated day starts at a midnight at least an hour ahead; the monitor is created just before it.
    const now = await env.currentTimeMs();
    let midnight = Math.ceil(now / DAY) * DAY;
    if (midnight - now < HOUR) midnight += DAY;
    await sleepUntil(midnight - 55 * 60_000);

    const created = await createMonitor(env.client, {
      model: `${model}@champion`,
      name: monitorName,
      pipeline,
      paramTexts: [`data=${files.reference}`],
      reference: files.reference,
      every: '1h',
      psi: 0.2,
      ks: 0.01,
      cooldown: '6h',
      maxRunsPerDay: MAX_RUNS_PER_DAY,
      workingDir: directory,
      taskQueue,
    });
    expect(created.definition.current).toEqual({ kind: 'serving', windowMs: HOUR });
    expect(created.nextRuns[0]?.getTime()).toBe(midnight);

    // `mloe serve`'s request log, in server time, into the monitor's store: each hour's requests, ten minutes in.
    let servedAt = 0;
    const openedStore = storeForUri(created.definition.artifactStore);
    store = openedStore;
    const log = new RequestLog({ store: openedStore, sampleRate: 1, flushRows: 10_000, now: () => servedAt });
    for (let tick = 0; tick < TICKS; tick += 1) {
      await sleepUntil(midnight + (tick - 1) * HOUR + 10 * 60_000);
      servedAt = await env.currentTimeMs();
      const rows = DRIFTED_BEFORE_TICK.has(tick) ? drifted : undrifted;
      for (let i = 0; i < rows.length; i += 5) {
        const request = rows.slice(i, i + 5);
        log.record(
          { name: model, version: '1' },
          request,
          request.map(() => 'rain'),
        );
      }
      await log.flush();
    }
    expect(log.written).toHaveLength(TICKS);
    await sleepUntil(midnight + (TICKS - 1) * HOUR + 30 * 60_000);
    await pauseMonitor(env.client, monitorName, { note: 'the simulated day is over' });

    // Every hour ticked, on the hour, and none was skipped or missed.
    const schedule = await env.client.schedule.getHandle(monitorScheduleId(monitorName)).describe();
    expect(schedule.info.numActionsTaken).toBe(TICKS);
    expect(schedule.info.numActionsSkippedOverlap).toBe(0);
    expect(schedule.info.numActionsMissedCatchupWindow).toBe(0);
    const ticks: { at: number; decision: RetrainDecision; started: boolean; observation: string }[] = [];
    for (let tick = 0; tick < TICKS; tick += 1) {
      const scheduled = midnight + tick * HOUR;
      const handle = env.client.workflow.getHandle<MonitorModelWorkflow>(
        `${monitorScheduleId(monitorName)}-${rfc3339(scheduled)}`,
      );
      const at = (await handle.describe()).startTime.getTime();
      expect(at).toBeGreaterThanOrEqual(scheduled);
      expect(at).toBeLessThan(scheduled + 60_000);
      ticks.push({ at, ...(await handle.result()) });
    }
    expect(ticks.map((tick) => tick.observation)).toEqual(
      ticks.map((_, tick) => (DRIFTED_BEFORE_TICK.has(tick) ? 'drifted' : 'stable')),
    );

    // An episode is named by the time of its first drifted tick, to the second: the hour.
    const episodeAt = (tick: number): string => episodeId(new Date(midnight + tick * HOUR));
    const [first, second, third] = [episodeAt(6), episodeAt(10), episodeAt(14)];
    const run = (name: string): string => retrainWorkflowId(monitorName, name);
    // The monitor's state keeps the runs it started, with their ticks' start times; a cooldown counts from those.
    const started = (await describeMonitor(env.client, monitorName)).state?.runs ?? [];
    expect(started.map((entry) => entry.workflowId)).toEqual([run(first), run(second), run(third)]);
    // Counted from the ticks' scheduled times, on the hour: 06:00 and 12:00.
    expect(started.map((entry) => entry.startedAt)).toEqual(
      [6, 12, 24].map((hour) => new Date(midnight + hour * HOUR).toISOString()),
    );
    const untilCooldown = (index: number): string =>
      new Date(Date.parse(started[index]?.startedAt ?? '') + COOLDOWN).toISOString();
    const expected: RetrainDecision[] = [
      // 00:00–05:00: undrifted, nothing starts.
      ...Array.from({ length: 6 }, (): RetrainDecision => ({ action: 'none', reason: 'stable' })),
      // 06:00: drifted inputs arrived: the episode's one run; 07:00, 08:00: the same episode, none.
      { action: 'start', episode: first, workflowId: run(first) },
      { action: 'none', reason: 'already-retrained', episode: first },
      { action: 'none', reason: 'already-retrained', episode: first },
      { action: 'none', reason: 'stable' },
      // 10:00, 11:00: a new episode within the cooldown of the 06:00 run (until 12:00); 12:00: it is over.
      { action: 'suppressed', reason: 'cooldown', episode: second, until: untilCooldown(0) },
      { action: 'suppressed', reason: 'cooldown', episode: second, until: untilCooldown(0) },
      { action: 'start', episode: second, workflowId: run(second) },
      { action: 'none', reason: 'stable' },
      // 14:00–17:00: a third episode in the cooldown of the 12:00 run; 18:00–23:00: two runs today, the cap.
      ...Array.from({ length: 4 }, (): RetrainDecision => ({
        action: 'suppressed',
        reason: 'cooldown',
        episode: third,
        until: untilCooldown(1),
      })),
      ...Array.from({ length: 6 }, (): RetrainDecision => ({
        action: 'suppressed',
        reason: 'daily-cap',
        episode: third,
        until: new Date(midnight + DAY).toISOString(),
      })),
      // The next midnight: a new UTC day, the waiting episode gets its run.
      { action: 'start', episode: third, workflowId: run(third) },
    ];
    expect(ticks.map((tick) => tick.decision)).toEqual(expected);
    expect(ticks.map((tick) => tick.started)).toEqual(expected.map((decision) => decision.action === 'start'));

    // Visibility: exactly those three retraining runs, each completed, two on the day and one the next.
    const runs: { workflowId: string; status: string; start: number }[] = [];
    for await (const found of env.client.workflow.list({
      query: `${PIPELINE_SEARCH_ATTRIBUTE.name} = '${pipelineName}'`,
    })) {
      runs.push({ workflowId: found.workflowId, status: found.status.name, start: found.startTime.getTime() });
    }
    runs.sort((a, b) => a.start - b.start);
    expect(runs.map((found) => found.workflowId)).toEqual([run(first), run(second), run(third)]);
    expect(runs.map((found) => found.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    expect(runs.filter((found) => Math.floor(found.start / DAY) === midnight / DAY)).toHaveLength(MAX_RUNS_PER_DAY);

    // The ticks counted from their scheduled times under the patch, and replay as they ran (the one that started a
    // run, one held by the cooldown, one by the cap).
    const { code } = await suiteWorkflowBundle();
    for (const tick of [6, 10, 18]) {
      const handle = env.client.workflow.getHandle(
        `${monitorScheduleId(monitorName)}-${rfc3339(midnight + tick * HOUR)}`,
      );
      const history = await handle.fetchHistory();
      const markers = (history.events ?? []).filter((event) => event.markerRecordedEventAttributes);
      expect(markers).toHaveLength(1);
      await Worker.runReplayHistory({ workflowBundle: { code } }, history, handle.workflowId);
    }
  }, 240_000);
});
