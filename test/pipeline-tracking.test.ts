/**
 * Every pipeline run tracked in MLflow, on the jest dev server with a real worker and the jest MLflow server
 * (`MLFLOW_TEST_TRACKING_URI`), read back through the typed client: the pipeline run and its nested step runs
 * (params, metrics per epoch, tags that lead both ways, datasets, status and end time) for completed, failed and
 * cancelled runs; a retried step logs once; data MLflow would refuse is reported by step and key while the rest is
 * logged; and a tracking server that is down fails the run with a message naming it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import type { WorkflowHandle } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';

import { FileArtifactStore, putJson } from '../activities/artifacts';
import { readRunRecord } from '../activities/lineage';
import { createMlflowClient, mlflowConfig, type MlflowClient, type Run } from '../activities/mlflow';
import {
  BUILTIN_IMPLEMENTATIONS,
  createRunStep,
  createStepImplementations,
  type StepImplementation,
  type StepImplementations,
} from '../activities/steps';
import { trackingObserver } from '../activities/steps/tracking-observer';
import { MlflowTracker, trackingConfigFromEnv, type TrackingConfig } from '../activities/tracking';
import { cancelPipeline, startPipeline, waitForPipeline, type StartPipelineOptions } from '../clients/pipelines';
import { MloeError } from '../core/errors';
import type { PipelineRunStatus, RunPipelineWorkflow } from '../workflows/types';
import { FAIL_STEP, WAIT_CANCEL_STEP, startedActivities } from './fixtures/test-steps';
import { type PipelineTestWorker, specOf, startPipelineTestWorker, uniqueName } from './pipeline-harness';
import { pollUntil } from './support/poll';
import { closedPort } from './support/ports';

const REPO = resolve(__dirname, '..');
const TRACKING_URI = process.env.MLFLOW_TEST_TRACKING_URI ?? '';

/** `history@1`: a training step that reports per-epoch values in a `metrics` output, and a summary. */
const HISTORY_STEP: StepImplementation = {
  descriptor: {
    name: 'history',
    version: '1',
    inputs: { data: { type: 'dataset' }, lr: { type: 'number' }, layers: { type: 'list', items: 'integer' } },
    outputs: { curve: { type: 'metrics' }, model: { type: 'model' } },
  },
  async run(inputs, context) {
    const curve = await putJson(
      context.store,
      {
        loss: [0.9, 0.5, 0.25],
        acc: [
          { step: 1, value: 0.6 },
          { step: 2, value: 0.8 },
        ],
        epochs: 3,
      },
      { type: 'metrics' },
    );
    const model = await putJson(context.store, { lr: inputs.lr }, { type: 'model' });
    return { outputs: { curve, model }, metrics: { loss: 0.25, final: 1 } };
  },
};

/** `flaky-metric@1`: fails its first attempt (retryably), then reports one metric. */
const FLAKY_STEP: StepImplementation = {
  descriptor: { name: 'flaky-metric', version: '1', inputs: {}, outputs: { attempt: { type: 'integer' } } },
  async run(_inputs, context) {
    if (context.attempt === 1) throw new MloeError('ARTIFACT_STORE_FAILED', 'first attempt fails', { retryable: true });
    return { outputs: { attempt: context.attempt }, metrics: { score: 7 } };
  },
};

/** `bad-metrics@1`: reports what MLflow refuses beside what it takes. */
const BAD_STEP: StepImplementation = {
  descriptor: { name: 'bad-metrics', version: '1', inputs: { big: { type: 'string' } }, outputs: {} },
  async run() {
    return {
      outputs: {},
      metrics: { good: 1, 'bad@key': 2, notANumber: Number.NaN, tooBig: Number.POSITIVE_INFINITY },
    };
  },
};

/** `square@1`: one metric per item. */
const SQUARE_STEP: StepImplementation = {
  descriptor: {
    name: 'square',
    version: '1',
    inputs: { n: { type: 'integer' } },
    outputs: { sq: { type: 'integer' } },
  },
  async run(inputs) {
    const n = Number(inputs.n);
    return { outputs: { sq: n * n }, metrics: { n } };
  },
};

const steps: StepImplementations = createStepImplementations(BUILTIN_IMPLEMENTATIONS, [
  HISTORY_STEP,
  FLAKY_STEP,
  BAD_STEP,
  SQUARE_STEP,
  FAIL_STEP,
  WAIT_CANCEL_STEP,
]);

const tagsOf = (run: Run): Record<string, string> => Object.fromEntries(run.data.tags.map((t) => [t.key, t.value]));
const paramsOf = (run: Run): Record<string, string> => Object.fromEntries(run.data.params.map((p) => [p.key, p.value]));
const metricsOf = (run: Run): Record<string, number> =>
  Object.fromEntries(run.data.metrics.map((m) => [m.key, m.value]));

describe('pipeline runs tracked in MLflow', () => {
  let worker: PipelineTestWorker;
  let mlflow: MlflowClient;
  let tracking: TrackingConfig;
  let artifactRoot: string;
  const warnings: string[] = [];
  const taskQueue = `mloe-tracking-test-${process.pid}-${Date.now()}`;
  const handles: WorkflowHandle<RunPipelineWorkflow>[] = [];

  beforeAll(async () => {
    if (TRACKING_URI === '') throw new Error('MLFLOW_TEST_TRACKING_URI is not set (jest globalSetup publishes it)');
    artifactRoot = await mkdtemp(join(tmpdir(), 'mloe-tracking-test-'));
    const config = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: TRACKING_URI });
    if (config === undefined) throw new Error('no tracking configuration');
    tracking = config;
    mlflow = createMlflowClient(mlflowConfig({ trackingUri: TRACKING_URI }));
    worker = await startPipelineTestWorker({
      taskQueue,
      steps,
      tracking: new MlflowTracker(tracking, { warn: (message) => warnings.push(message) }),
    });
  });

  afterAll(async () => {
    await worker?.stop();
    if (artifactRoot !== undefined) await rm(artifactRoot, { recursive: true, force: true });
  });

  async function run(options: StartPipelineOptions, queue = taskQueue) {
    const started = await startPipeline(worker.env.client, {
      artifactRoot,
      workingDir: REPO,
      taskQueue: queue,
      descriptors: steps.descriptors,
      ...options,
    });
    handles.push(started.handle);
    const outcome = await waitForPipeline(started.handle, { pollIntervalMs: 50 });
    return { ...outcome, handle: started.handle, workflowId: started.workflowId };
  }

  /** The pipeline run found by its mloe tag, and its nested runs by name. */
  async function tracked(
    status: PipelineRunStatus,
  ): Promise<{ parent: Run; children: Map<string, Run>; experimentId: string }> {
    const experiment = await mlflow.experiments.getByName(status.pipeline);
    const page = await mlflow.runs.search({
      experimentIds: [experiment.experimentId],
      filter: `tags.\`mloe.workflowId\` = '${status.workflowId}' and tags.\`mloe.kind\` = 'pipeline'`,
    });
    expect(page.items).toHaveLength(1); // never a second pipeline run
    const parent = page.items[0] as Run;
    const children = new Map<string, Run>();
    for await (const child of mlflow.runs.searchAll({
      experimentIds: [experiment.experimentId],
      filter: `tags.\`mlflow.parentRunId\` = '${parent.info.runId}'`,
    })) {
      expect(children.has(child.info.runName)).toBe(false); // one run per step execution
      children.set(child.info.runName, child);
    }
    return { parent, children, experimentId: experiment.experimentId };
  }

  it('tracks a completed run: nested steps, params, per-epoch metrics, datasets, tags both ways, end time', async () => {
    const dataPath = join(artifactRoot, 'data.csv');
    await writeFile(dataPath, 'x,y\n1,2\n');
    const name = uniqueName('tracked');
    const { status, error, workflowId, handle } = await run({
      spec: specOf(name, {
        params: { lr: { type: 'number', default: 0.1 }, secretToken: { type: 'string', default: 'hunter2' } },
        steps: {
          ingest: { uses: 'ingest@1', with: { dataPath } },
          fit: {
            uses: 'history@1',
            needs: ['ingest'],
            with: { data: '${{ steps.ingest.outputs.dataset }}', lr: '${{ params.lr }}', layers: [4, 2] },
          },
          sq: { uses: 'square@1', foreach: [1, 2, 3], with: { n: '${{ item }}' } },
        },
      }),
    });
    expect(error).toBeUndefined();
    const { parent, children, experimentId } = await tracked(status);

    // mloe → MLflow: the status and the run record name the MLflow run.
    expect(status.mlflow).toEqual({
      runId: parent.info.runId,
      experimentId,
      url: `${TRACKING_URI}/#/experiments/${experimentId}/runs/${parent.info.runId}`,
    });
    const record = await readRunRecord(FileArtifactStore.inWorkingDirectory(artifactRoot), workflowId);
    expect(record?.mlflow).toEqual(status.mlflow);

    // MLflow → mloe: the run's tags lead back to the workflow; MLflow's own tags are set.
    const description = await handle.describe();
    expect(tagsOf(parent)).toMatchObject({
      'mloe.kind': 'pipeline',
      'mloe.workflowId': workflowId,
      'mloe.temporalRunId': description.runId,
      'mloe.firstExecutionRunId': description.runId,
      'mloe.specHash': status.specHash,
      'mloe.version': expect.stringMatching(/^\d+\.\d+\.\d+/) as string,
      'mloe.state': 'completed',
      'mlflow.runName': workflowId,
      'mlflow.source.type': 'JOB',
      'mlflow.source.name': name,
      'mlflow.user': expect.any(String) as string,
    });
    expect(parent.info).toMatchObject({
      runName: workflowId,
      status: 'FINISHED',
      startTime: Date.parse(status.startedAt),
      endTime: Date.parse(status.finishedAt ?? ''),
    });
    // The run's params (a secret-looking one redacted), and its steps' latest metrics.
    expect(paramsOf(parent)).toEqual({ lr: '0.1', secretToken: '[redacted]' });
    expect(metricsOf(parent)).toMatchObject({ 'fit.loss': 0.25, 'fit.acc': 0.8, 'fit.final': 1, 'fit.epochs': 3 });
    const perItem = await mlflow.runs.metricHistory(parent.info.runId, 'sq.n');
    expect(perItem.map((point) => [point.step, point.value]).sort()).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);

    // Each step execution (each foreach iteration) is a nested run.
    expect([...children.keys()].sort()).toEqual(['fit', 'ingest', 'sq[0]', 'sq[1]', 'sq[2]']);
    const fit = children.get('fit') as Run;
    expect(tagsOf(fit)).toMatchObject({
      'mlflow.parentRunId': parent.info.runId,
      'mloe.kind': 'step',
      'mloe.workflowId': workflowId,
      'mloe.stepId': 'fit',
      'mloe.uses': 'history@1',
      'mloe.execution': `${workflowId}/fit`,
      // Created while the step was dispatched (the workflow's sink), taken by its first attempt.
      'mloe.prepared': `${workflowId}/fit`,
      'mloe.attempt': '1',
      'mloe.cache': 'miss',
      'mloe.output.model': (stepOutput(status, 'fit', 'model') as { digest: string }).digest,
    });
    expect(tagsOf(children.get('sq[1]') as Run)).toMatchObject({ 'mloe.index': '1', 'mloe.stepId': 'sq' });
    expect(paramsOf(fit)).toEqual({ lr: '0.1', layers: '[4,2]' });
    expect(fit.info.status).toBe('FINISHED');
    const fitStatus = status.steps.find((step) => step.id === 'fit');
    expect(fit.info.endTime).toBeGreaterThanOrEqual(fit.info.startTime ?? Number.POSITIVE_INFINITY);
    expect(fitStatus?.state).toBe('completed');
    // Per-epoch values from the `metrics` output, with their steps; the summary where there is no history.
    const loss = await mlflow.runs.metricHistory(fit.info.runId, 'loss');
    expect(loss.map((point) => [point.step, point.value])).toEqual([
      [0, 0.9],
      [1, 0.5],
      [2, 0.25],
    ]);
    const acc = await mlflow.runs.metricHistory(fit.info.runId, 'acc');
    expect(acc.map((point) => [point.step, point.value])).toEqual([
      [1, 0.6],
      [2, 0.8],
    ]);
    expect(metricsOf(fit)).toMatchObject({ final: 1, epochs: 3 });
    // The dataset it read, with its digest, on the step's run and the pipeline's.
    const dataset = stepOutput(status, 'ingest', 'dataset') as { digest: string; uri: string };
    expect(fit.inputs.datasetInputs).toEqual([
      expect.objectContaining({
        dataset: expect.objectContaining({
          name: 'data',
          digest: dataset.digest.slice('sha256:'.length, 'sha256:'.length + 36),
          sourceType: 'local',
          source: JSON.stringify({ uri: dataset.uri, digest: dataset.digest }),
        }) as unknown,
      }),
    ]);
    expect(parent.inputs.datasetInputs.map((input) => input.dataset.name)).toEqual(['fit.data']);
  });

  it('tracks a failed run: the failed step and the pipeline run end FAILED with the error', async () => {
    const { status } = await run({
      spec: specOf(uniqueName('tracked-failure'), { steps: { boom: { uses: 'fail@1' } } }),
    });
    expect(status.state).toBe('failed');
    const { parent, children } = await tracked(status);
    expect(parent.info).toMatchObject({ status: 'FAILED', endTime: Date.parse(status.finishedAt ?? '') });
    expect(tagsOf(parent)).toMatchObject({
      'mloe.state': 'failed',
      'mloe.error': expect.stringContaining('DATA_INVALID') as string,
    });
    const boom = children.get('boom') as Run;
    expect(boom.info.status).toBe('FAILED');
    expect(boom.info.endTime).toBeDefined();
    expect(tagsOf(boom)['mloe.error']).toContain('this step always fails');
  });

  it('tracks a cancelled run: the cancelled step and the pipeline run end KILLED', async () => {
    const started = await startPipeline(worker.env.client, {
      artifactRoot,
      workingDir: REPO,
      taskQueue,
      descriptors: steps.descriptors,
      spec: specOf(uniqueName('tracked-cancel'), { steps: { block: { uses: 'wait-cancel@1' } } }),
    });
    handles.push(started.handle);
    await pollUntil(`step block of ${started.workflowId} to start`, () =>
      startedActivities.has(`${started.workflowId}/block`),
    );
    await cancelPipeline(worker.env.client, started.workflowId);
    const { status } = await waitForPipeline(started.handle, { pollIntervalMs: 50 });
    expect(status.state).toBe('cancelled');
    const { parent, children } = await tracked(status);
    expect(parent.info).toMatchObject({ status: 'KILLED', endTime: Date.parse(status.finishedAt ?? '') });
    // The step never reported its end (a cancelled activity runs no more code): the run's end settled it.
    expect((children.get('block') as Run).info.status).toBe('KILLED');
  });

  it('a retried step has one run, finished by the attempt that succeeded, its metric logged once', async () => {
    const { status } = await run({
      spec: specOf(uniqueName('tracked-retry'), {
        steps: { flaky: { uses: 'flaky-metric@1', retry: { maxAttempts: 3, initialInterval: '100ms' } } },
      }),
    });
    expect(status.state).toBe('completed');
    const { children } = await tracked(status);
    const flaky = children.get('flaky') as Run;
    expect(flaky.info.status).toBe('FINISHED');
    expect(tagsOf(flaky)['mloe.attempt']).toBe('2');
    expect(tagsOf(flaky)['mloe.error']).toContain('first attempt fails'); // what attempt 1 left
    expect(await mlflow.runs.metricHistory(flaky.info.runId, 'score')).toHaveLength(1);
  });

  it('an execution reported again after a lost result (a retry) logs nothing twice and creates no second run', async () => {
    const name = uniqueName('tracked-replay');
    // The pipeline run, as the start of a run records it.
    const { status } = await run({ spec: specOf(name, { steps: { first: { uses: 'square@1', with: { n: 1 } } } }) });
    const tracker = new MlflowTracker(tracking, { warn: (message) => warnings.push(message) });
    const runStep = createRunStep(steps, {
      stores: () => FileArtifactStore.inWorkingDirectory(artifactRoot),
      observers: [trackingObserver(tracker)],
      tracking: tracker,
      warn: () => undefined,
    });
    const request = {
      stepId: 'again',
      workflowId: status.workflowId,
      firstExecutionRunId: 'run-1',
      pipeline: name,
      uses: 'history@1',
      inputs: { data: await dataArtifact(), lr: 0.5, layers: [1] },
      params: {},
      outputs: {},
      workingDir: REPO,
      noCache: 'the test',
    };
    await new MockActivityEnvironment({ attempt: 1 }).run(runStep, request);
    // The same execution again, as Temporal retries an activity whose result was lost.
    await new MockActivityEnvironment({ attempt: 2 }).run(runStep, request);
    await tracker.flush(); // the data is written behind the step (a run's next step or its end waits for it)
    const { children, parent } = await tracked(status);
    const again = children.get('again') as Run;
    expect(again.info.status).toBe('FINISHED');
    expect(tagsOf(again)['mloe.attempt']).toBe('1'); // the second report found the run finished and left it
    const loss = await mlflow.runs.metricHistory(again.info.runId, 'loss');
    expect(loss.map((point) => point.step)).toEqual([0, 1, 2]);
    expect(await mlflow.runs.metricHistory(parent.info.runId, 'again.loss')).toHaveLength(1);
  });

  it('reports NaN and infinite metrics, an oversized param and a key MLflow refuses by step and key; logs the rest', async () => {
    warnings.length = 0;
    const { status } = await run({
      spec: specOf(uniqueName('tracked-bad'), {
        steps: { odd: { uses: 'bad-metrics@1', with: { big: 'x'.repeat(7000) } } },
      }),
    });
    // The step's work is done and valid: tracking problems do not fail it.
    expect(status.state).toBe('completed');
    const { children, parent } = await tracked(status);
    const odd = children.get('odd') as Run;
    expect(odd.info.status).toBe('FINISHED');
    expect(metricsOf(odd)).toEqual({ good: 1 });
    expect(paramsOf(odd)).toEqual({});
    const problems = tagsOf(odd)['mloe.tracking.problems'] ?? '';
    expect(problems).toContain('metric "bad@key"');
    expect(problems).toContain('metric "notANumber": NaN is not a finite number');
    expect(problems).toContain('metric "tooBig": Infinity is not a finite number');
    expect(problems).toContain('param "big": a value of 7000 characters');
    expect(metricsOf(parent)).toEqual({ 'odd.good': 1 });
    expect(warnings.some((line) => line.includes('step odd of') && line.includes('"notANumber"'))).toBe(true);
  });

  it('fails the run naming the tracking server when it is down, after the steps retried', async () => {
    const port = await closedPort();
    const down = trackingConfigFromEnv({
      MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}`,
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
    });
    const queue = `${taskQueue}-down`;
    const downWorker = await startPipelineTestWorker({
      taskQueue: queue,
      steps,
      ...(down === undefined ? {} : { tracking: new MlflowTracker(down, { warn: () => undefined }) }),
    });
    try {
      const { status } = await run(
        {
          spec: specOf(uniqueName('tracked-down'), {
            steps: { one: { uses: 'square@1', with: { n: 2 }, retry: { maxAttempts: 2, initialInterval: '100ms' } } },
          }),
        },
        queue,
      );
      expect(status.state).toBe('failed');
      const one = status.steps.find((step) => step.id === 'one');
      expect(one?.attempts).toBe(2);
      expect(one?.error).toContain(`MLflow tracking server http://127.0.0.1:${port}`);
      expect(status.error).toContain(`http://127.0.0.1:${port}`);
    } finally {
      await downWorker.stop();
    }
  });

  /** A small dataset artifact in the suite's store. */
  async function dataArtifact() {
    return putJson(FileArtifactStore.inWorkingDirectory(artifactRoot), { rows: [1, 2] }, { type: 'dataset' });
  }
});

function stepOutput(status: PipelineRunStatus, stepId: string, port: string): unknown {
  return status.steps.find((step) => step.id === stepId)?.outputs?.[port];
}

describe("the typed client's createId, which step runs are created with", () => {
  it('creates the run as create does and answers its id only', async () => {
    const mlflow = createMlflowClient(mlflowConfig({ trackingUri: TRACKING_URI }));
    const experiment = await mlflow.experiments.ensure({ name: `create-id-${Date.now()}` });
    const runId = await mlflow.runs.createId({
      experimentId: experiment.experimentId,
      runName: 'step',
      startTime: 1_700_000_000_000,
      tags: { 'mloe.execution': 'wf/step' },
    });
    expect(runId).toMatch(/^[0-9a-f]{32}$/);
    const run = await mlflow.runs.get(runId);
    expect(run.info).toMatchObject({ runName: 'step', status: 'RUNNING', startTime: 1_700_000_000_000 });
    expect(run.data.tags).toEqual(expect.arrayContaining([{ key: 'mloe.execution', value: 'wf/step' }]));
    await expect(mlflow.runs.createId({ experimentId: '999999999' })).rejects.toMatchObject({
      errorCode: 'RESOURCE_DOES_NOT_EXIST',
    });
  });
});
