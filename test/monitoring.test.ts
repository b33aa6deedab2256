/**
 * Drift monitors end to end, on the jest dev server and MLflow server with a real pipeline worker, through the
 * official clients: a monitor (a Temporal Schedule made with the ScheduleClient) ticks (`trigger`) over batches of a
 * real dataset split in time, Seattle's daily weather of vega-datasets. The reference is the training year (odd days
 * of 2012); an undrifted batch (even days of 2012) starts nothing; the 2015 batch (warmer: temp_max PSI 0.22, KS
 * p = 0.008; and labelled differently: "fog" and "sun" for much of what 2012 called "drizzle" and "rain") starts
 * exactly one retraining run, whose promote step waits at the approval gate; a second tick of the same episode starts
 * nothing; a new episode within the cooldown starts nothing. Bad input is refused before anything is created.
 */
import { mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Client } from '@temporalio/client';
import { z } from 'zod';

import { storeForUri, getJson } from '../activities/artifacts';
import { BUILTIN_IMPLEMENTATIONS, createStepImplementations } from '../activities/steps';
import { MlflowTracker, trackingConfigFromEnv } from '../activities/tracking';
import { monitorExperimentName } from '../activities/monitoring/activities';
import { buildProgram } from '../clients/cli';
import { approvePromotion } from '../clients/approvals';
import {
  createMonitor,
  deleteMonitor,
  describeMonitor,
  listMonitors,
  pauseMonitor,
  triggerMonitor,
  type CreateMonitorOptions,
} from '../clients/monitors';
import { monitorScheduleId, retrainWorkflowId } from '../core/monitoring/definition';
import { MloeError } from '../core/errors';
import {
  PIPELINE_SEARCH_ATTRIBUTE,
  pipelineStatusQuery,
  type MonitorModelWorkflow,
  type MonitorTickResult,
  type RunPipelineWorkflow,
} from '../workflows/types';
import { startPipelineTestWorker, type PipelineTestWorker } from './pipeline-harness';
import { pollUntil } from './support/poll';
import { writeWeatherSplits } from './support/monitoring-weather';

const TRACKING_URI = process.env.MLFLOW_TEST_TRACKING_URI ?? '';
const steps = createStepImplementations(BUILTIN_IMPLEMENTATIONS);
const suffix = `${process.pid}-${Math.floor(Math.random() * 1e6)}`;

const reportSchema = z
  .object({
    format: z.literal('mloe.drift-report'),
    observation: z.string(),
    features: z.array(z.object({ feature: z.string(), psi: z.number() }).loose()),
    skipped: z.array(z.string()),
  })
  .loose();

/** The retraining pipeline: train on the batch, evaluate against the champion, register, promote at a manual gate. */
function retrainSpec(name: string, model: string, webhook?: string): Record<string, unknown> {
  return {
    apiVersion: 'mloe.dev/v1',
    kind: 'Pipeline',
    metadata: { name },
    ...(webhook === undefined ? {} : { notifications: { webhooks: [{ url: webhook, events: ['drift.detected'] }] } }),
    params: { data: { type: 'string' } },
    steps: {
      ingest: { uses: 'ingest@2', with: { source: '${{ params.data }}' } },
      split: {
        uses: 'split@1',
        needs: ['ingest'],
        with: { dataset: '${{ steps.ingest.outputs.dataset }}', testFraction: 0.25, seed: 7 },
      },
      features: {
        uses: 'features@1',
        needs: ['split'],
        with: {
          train: '${{ steps.split.outputs.train }}',
          test: '${{ steps.split.outputs.test }}',
          label: 'weather',
          numeric: ['precipitation', 'temp_max', 'temp_min', 'wind'],
          categorical: [],
        },
      },
      train: {
        uses: 'train@2',
        needs: ['features'],
        with: {
          train: '${{ steps.features.outputs.train }}',
          transform: '${{ steps.features.outputs.transform }}',
          algorithm: 'softmax-regression',
        },
      },
      evaluate: {
        uses: 'evaluate@2',
        needs: ['train'],
        with: {
          model: '${{ steps.train.outputs.model }}',
          test: '${{ steps.split.outputs.test }}',
          champion: `models:/${model}@champion`,
        },
      },
      register: {
        uses: 'register@1',
        needs: ['evaluate'],
        with: {
          model: '${{ steps.train.outputs.model }}',
          name: model,
          fileName: 'model.json',
          signatureInputs: '${{ steps.train.outputs.signatureInputs }}',
          signatureOutputs: '${{ steps.train.outputs.signatureOutputs }}',
        },
      },
      promote: {
        needs: ['register', 'evaluate'],
        with: {
          model,
          version: '${{ steps.register.outputs.version }}',
          candidate: '${{ steps.evaluate.outputs.metrics }}',
        },
        promote: {
          policies: [{ name: 'accurate-enough', rule: 'candidate.metrics.accuracy >= 0.3' }],
          approval: { mode: 'manual', timeout: '1h' },
        },
      },
    },
  };
}

describe('drift monitors', () => {
  let worker: PipelineTestWorker;
  let client: Client;
  let directory: string;
  let files: Record<'reference' | 'holdout' | 'y2015' | 'batch' | 'pipeline', string>;
  const taskQueue = `mloe-monitoring-test-${suffix}`;
  const model = `weather-${suffix}`;
  const pipelineName = `weather-retrain-${suffix}`;
  const monitorName = `weather-${suffix}`;
  const monitors: string[] = [];
  /** The bodies of the webhook POSTs the retraining pipeline's `drift.detected` webhook received. */
  const notified: { type?: string; data?: Record<string, unknown> }[] = [];
  const receiver = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      notified.push(JSON.parse(body) as (typeof notified)[number]);
      response.writeHead(204).end();
    });
  });
  /** The retraining run the drifted batch started. */
  let retrainRun = '';

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mloe-monitoring-test-'));
    files = {
      ...(await writeWeatherSplits(directory)),
      batch: join(directory, 'batch.parquet'),
      pipeline: join(directory, 'retrain.json'),
    };
    await new Promise<void>((resolveListen) => receiver.listen(0, '127.0.0.1', resolveListen));
    const webhook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    await writeFile(files.pipeline, JSON.stringify(retrainSpec(pipelineName, model, webhook), null, 2));
    await copyFile(files.holdout, files.batch);
    const config = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: TRACKING_URI });
    if (config === undefined) throw new Error('MLFLOW_TEST_TRACKING_URI is not set (jest globalSetup publishes it)');
    worker = await startPipelineTestWorker({
      taskQueue,
      steps,
      tracking: new MlflowTracker(config, { warn: () => undefined }),
    });
    client = worker.env.client;
  });

  afterAll(async () => {
    for (const name of monitors) await deleteMonitor(client, name).catch(() => undefined);
    if (worker !== undefined) {
      for await (const run of client.workflow.list({
        query: `${PIPELINE_SEARCH_ATTRIBUTE.name} = '${pipelineName}' AND ExecutionStatus = 'Running'`,
      })) {
        await client.workflow
          .getHandle(run.workflowId)
          .terminate('test over')
          .catch(() => undefined);
      }
      await worker.stop();
    }
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
    await new Promise((resolveClose) => receiver.close(resolveClose));
  });

  const options = (overrides: Partial<CreateMonitorOptions> = {}): CreateMonitorOptions => ({
    model: `${model}@champion`,
    name: monitorName,
    pipeline: files.pipeline,
    paramTexts: [`data=${files.batch}`],
    reference: files.reference,
    batch: files.batch,
    every: '1h',
    psi: 0.2,
    cooldown: '1h',
    maxRunsPerDay: 3,
    workingDir: directory,
    taskQueue,
    // Ticks come from `trigger` only (Temporal triggers paused schedules too): a tick of the schedule itself, on the
    // hour, would change the state under the test, and a trigger in the same second gets the same workflow id.
    paused: true,
    ...overrides,
  });

  /** The retraining runs of the pipeline, as visibility lists them. */
  async function retrainingRuns(): Promise<string[]> {
    const ids: string[] = [];
    for await (const run of client.workflow.list({ query: `${PIPELINE_SEARCH_ATTRIBUTE.name} = '${pipelineName}'` })) {
      ids.push(run.workflowId);
    }
    return ids.sort();
  }

  /** Triggers a tick and returns its result, once it completed. */
  async function tick(name: string): Promise<MonitorTickResult & { workflowId: string; runId: string }> {
    const before = new Set((await describeMonitor(client, name)).recentTicks.map((entry) => entry.runId));
    await triggerMonitor(client, name);
    const started = await pollUntil(
      `a new tick of ${name}`,
      async () => (await describeMonitor(client, name)).recentTicks.find((entry) => !before.has(entry.runId)),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const result = await client.workflow.getHandle<MonitorModelWorkflow>(started.workflowId, started.runId).result();
    return { ...result, workflowId: started.workflowId, runId: started.runId };
  }

  it('refuses bad input before creating anything, with coded errors', async () => {
    const refused = async (overrides: Partial<CreateMonitorOptions>, code: string, message: RegExp) => {
      const error = await createMonitor(client, options({ name: `bad-${suffix}`, ...overrides })).catch(
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(MloeError);
      expect((error as MloeError).code).toBe(code);
      expect((error as MloeError).message).toMatch(message);
    };
    await refused({ model: 'no-alias' }, 'CONFIG_INVALID', /MODEL@ALIAS: expected a registered model and an alias/);
    await refused({ every: 'hourly' }, 'CONFIG_INVALID', /--every: "hourly" is not a duration/);
    await refused({ psi: -1 }, 'CONFIG_INVALID', /--psi: expected a positive number/);
    await refused({ ks: 5 }, 'CONFIG_INVALID', /--ks: expected a p-value between 0 and 1, got 5/);
    await refused({ cooldown: '1 fortnight' }, 'CONFIG_INVALID', /--cooldown/);
    await refused({ maxRunsPerDay: 0 }, 'CONFIG_INVALID', /--max-runs-per-day: expected a positive integer/);
    await refused({ reference: join(directory, 'missing.parquet') }, 'CONFIG_INVALID', /--reference: .*does not exist/);
    await refused({ reference: files.pipeline.replace('.json', '.xlsx') }, 'CONFIG_INVALID', /cannot tell the format/);
    await refused({ name: 'Bad Name' }, 'CONFIG_INVALID', /is not a monitor name/);
    const badPipeline = join(directory, 'bad.json');
    await writeFile(badPipeline, JSON.stringify({ ...retrainSpec('bad', model), steps: { x: { uses: 'nope@9' } } }));
    await refused(
      { pipeline: badPipeline },
      'SPEC_INVALID',
      /bad.json:1:\d+ +steps.x.uses +no registered step is called 'nope'/,
    );
    await expect(describeMonitor(client, `bad-${suffix}`)).rejects.toMatchObject({ code: 'MONITOR_NOT_FOUND' });
  });

  it('an undrifted batch starts nothing; a drifted one starts exactly one run, which waits at the approval gate', async () => {
    await copyFile(files.holdout, files.batch);
    const created = await createMonitor(client, options({ ks: 0.01, chiSquare: 0.001 }));
    monitors.push(created.name);
    expect(created.scheduleId).toBe(monitorScheduleId(monitorName));
    await expect(createMonitor(client, options())).rejects.toMatchObject({ code: 'MONITOR_EXISTS' });

    // Even days of the training year: nothing drifted, nothing starts.
    const stable = await tick(monitorName);
    expect(stable.observation).toBe('stable');
    expect(stable.decision).toEqual({ action: 'none', reason: 'stable' });
    expect(stable.started).toBe(false);
    expect(stable.driftedFeatures).toEqual([]);
    expect(await retrainingRuns()).toEqual([]);

    // The report is a content-addressed artifact in the monitor's store.
    const store = storeForUri(created.definition.artifactStore);
    try {
      const report = await getJson(store, stable.report, reportSchema, 'a drift report');
      expect(report.features.map((feature) => feature.feature)).toEqual([
        'precipitation',
        'temp_max',
        'temp_min',
        'wind',
        'weather',
      ]);
      expect(report.skipped).toEqual(['date: type DATE']);
    } finally {
      await store.close();
    }

    // 2015: warmer, and labelled differently. One run, derived from the monitor and the drift episode.
    await copyFile(files.y2015, files.batch);
    const drifted = await tick(monitorName);
    expect(drifted.observation).toBe('drifted');
    expect(drifted.driftedFeatures).toEqual(expect.arrayContaining(['temp_max', 'weather']));
    expect(drifted.driftedFeatures).not.toContain('wind');
    expect(drifted.decision.action).toBe('start');
    expect(drifted.started).toBe(true);
    const episode = drifted.decision.action === 'start' ? drifted.decision.episode : '';
    const runId = retrainWorkflowId(monitorName, episode);
    retrainRun = runId;
    expect(
      await pollUntil(
        'the retraining run in visibility',
        async () => {
          const runs = await retrainingRuns();
          return runs.length > 0 ? runs : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      ),
    ).toEqual([runId]);

    const run = client.workflow.getHandle<RunPipelineWorkflow>(runId);
    const gate = await pollUntil(
      `${runId} to wait at its approval gate`,
      async () => {
        const status = await run.query(pipelineStatusQuery);
        if (status.state === 'failed') throw new Error(`the retraining run failed: ${JSON.stringify(status.error)}`);
        const promote = status.steps.find((step) => step.id === 'promote');
        return promote?.promotion?.state === 'awaiting-approval' ? promote : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 500 },
    );
    expect(gate.promotion?.model).toBe(model);
    const description = await run.describe();
    expect(description.memo).toMatchObject({ monitor: monitorName, driftEpisode: episode, pipeline: pipelineName });

    // The pipeline's webhook heard of it once, with the episode and its run.
    const heard = await pollUntil('the drift.detected webhook', () =>
      notified.find((message) => message.type === 'mloe.drift.detected'),
    );
    expect(heard.data).toMatchObject({ monitor: monitorName, episode, retrainingRun: runId, observation: 'drifted' });
    expect(heard.data?.driftedFeatures).toEqual(expect.arrayContaining(['temp_max', 'weather']));

    // The same episode ticks again: nothing more starts.
    const again = await tick(monitorName);
    expect(again.observation).toBe('drifted');
    expect(again.decision).toEqual({ action: 'none', reason: 'already-retrained', episode });
    expect(await retrainingRuns()).toEqual([runId]);

    // The state written after the start is lost (the episode was saved as open before it): the next tick decides
    // to start the episode's run again, under the same workflow id, and Temporal refuses it.
    const stateStore = storeForUri(created.definition.artifactStore);
    try {
      await stateStore.putRecord('monitors', monitorName, {
        version: 1,
        episode: { id: episode, openedAt: new Date().toISOString() },
        runs: [],
      });
    } finally {
      await stateStore.close();
    }
    const lost = await tick(monitorName);
    expect(lost.decision).toEqual({ action: 'start', episode, workflowId: runId });
    expect(lost.started).toBe(false);
    expect(await retrainingRuns()).toEqual([runId]);

    // The drift goes away (the episode closes), then comes back: a new episode, but within the cooldown.
    await copyFile(files.holdout, files.batch);
    expect((await tick(monitorName)).decision).toEqual({ action: 'none', reason: 'stable' });
    await copyFile(files.y2015, files.batch);
    const cooled = await tick(monitorName);
    expect(cooled.decision).toMatchObject({ action: 'suppressed', reason: 'cooldown' });
    expect(cooled.started).toBe(false);
    expect(await retrainingRuns()).toEqual([runId]);

    // describe shows the state the ticks keep; MLflow has one run per tick with the figures.
    const details = await describeMonitor(client, monitorName);
    expect(details.state?.runs.map((entry) => entry.workflowId)).toEqual([runId]);
    expect(details.state?.episode?.run).toBeUndefined();
    expect(details.recentTicks.length).toBe(6);
    const tracker = new MlflowTracker(trackingConfigFromEnv({ MLFLOW_TRACKING_URI: TRACKING_URI })!);
    const experiment = await tracker.client.experiments.getByName(monitorExperimentName(monitorName));
    const tickRun = await tracker.findRun(
      experiment.experimentId,
      `tags.\`mloe.monitor.tick\` = '${drifted.workflowId}/${drifted.runId}'`,
    );
    expect(tickRun).toBeDefined();
    const full = await tracker.client.runs.get(tickRun!.runId);
    const metrics = Object.fromEntries((full.data.metrics ?? []).map((metric) => [metric.key, metric.value]));
    expect(metrics['drift.temp_max.psi']).toBeGreaterThan(0.2);
    expect(metrics['drift.drifted_features']).toBe(drifted.driftedFeatures.length);
  }, 420_000);

  it('measures performance on labelled batches: the retrained model loses accuracy on the other period', async () => {
    // Approve the retraining run: its model (trained on 2015) becomes the champion.
    expect(retrainRun).not.toBe('');
    await approvePromotion(client, retrainRun, { identity: 'monitoring-test', reason: 'retrained on 2015' });
    await client.workflow.getHandle<RunPipelineWorkflow>(retrainRun).result();
    const batch = join(directory, 'labelled-batch.parquet');
    await copyFile(files.holdout, batch);
    const name = `weather-perf-${suffix}`;
    const created = await createMonitor(
      client,
      options({
        name,
        reference: files.y2015,
        batch,
        paramTexts: [`data=${batch}`],
        psi: 100, // features decide nothing here: only the performance check
        label: 'weather',
        evaluation: files.y2015,
        maxDegradation: 0.05,
      }),
    );
    monitors.push(created.name);
    const result = await tick(name);
    expect(result.driftedFeatures).toEqual([]);
    expect(result.observation).toBe('drifted');
    expect(result.decision.action).toBe('start');
    const store = storeForUri(created.definition.artifactStore);
    try {
      const report = await getJson(
        store,
        result.report,
        z
          .object({
            performance: z
              .object({
                status: z.literal('measured'),
                metric: z.literal('accuracy'),
                current: z.number(),
                evaluation: z.number(),
                degraded: z.boolean(),
              })
              .loose(),
          })
          .loose(),
        'a drift report',
      );
      // Trained on 2015, it scores its own year far better than 2012's labels (drizzle and snow, rare in 2015).
      expect(report.performance.degraded).toBe(true);
      expect(report.performance.evaluation - report.performance.current).toBeGreaterThan(0.05);
    } finally {
      await store.close();
    }
  }, 300_000);

  it('lists, pauses, resumes and deletes monitors, from the API and the command line', async () => {
    const listed = await listMonitors(client);
    expect(listed.map((monitor) => monitor.name)).toContain(monitorName);
    await pauseMonitor(client, monitorName, { note: 'holiday' });
    expect((await describeMonitor(client, monitorName)).paused).toBe(true);
    await pauseMonitor(client, monitorName, { paused: false });
    expect((await describeMonitor(client, monitorName)).paused).toBe(false);

    const out: string[] = [];
    const err: string[] = [];
    let code = -1;
    // The real `mloe` program, as bin/mloe.js builds it, against the jest dev server.
    const program = buildProgram(
      { stdout: (line) => out.push(line), stderr: (line) => err.push(line) },
      (value) => {
        code = value;
      },
      { TEMPORAL_ADDRESS: process.env.TEMPORAL_TEST_ADDRESS ?? '' },
    );
    await program.parseAsync(['node', 'mloe', 'monitor', 'describe', monitorName]);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(new RegExp(`monitor +${monitorName}`));
    expect(out.join('\n')).toMatch(/runs +weather-/);
    out.length = 0;
    await program.parseAsync(['node', 'mloe', 'monitor', 'describe', 'nobody-here']);
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/no monitor named nobody-here/);

    out.length = 0;
    err.length = 0;
    await program.parseAsync(['node', 'mloe', 'monitor', 'list']);
    expect(code).toBe(0);
    expect(out[0]).toMatch(/^name +model +pipeline +every +current +state +next tick$/);
    expect(out.join('\n')).toMatch(new RegExp(`${monitorName} +${model}@champion +${pipelineName} +1h +batch +active`));
    // A bad flag: exit 1 with the reason, and nothing created.
    const args = ['monitor', 'create', `${model}@champion`, '--name', `cli-${suffix}`, '--pipeline', files.pipeline];
    await program.parseAsync([
      'node',
      'mloe',
      ...args,
      '--reference',
      files.reference,
      '--every',
      'hourly',
      '--psi',
      '0.2',
    ]);
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/error: --every: "hourly" is not a duration/);
    expect((await listMonitors(client)).map((monitor) => monitor.name)).not.toContain(`cli-${suffix}`);

    await deleteMonitor(client, monitorName);
    expect((await listMonitors(client)).map((monitor) => monitor.name)).not.toContain(monitorName);
  }, 60_000);
});
