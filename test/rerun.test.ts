/**
 * `mloe rerun RUN --from STEP` on the jest dev server with a real worker and file store. The demo pipeline, started
 * from a copy of its spec that is deleted before the rerun: a rerun from `featurize` executes exactly featurize, train
 * and evaluate (counted by the steps themselves, and said by the step records) and takes ingest and validate from
 * the first run (status `reused`, records naming the first run as their source, lineage following them there). An
 * output deleted from the store makes its step, and what needs it, run again. A pipeline with `foreach` (in the
 * workflow and over batch children), a sub-pipeline, a command step, a failed optional step and skipped steps is
 * rerun from its last step. The CLI prints the plan and the summary. Refusals: an unknown run, an unknown step
 * (listing the steps), a run still running, a workflow that is not a pipeline run, a `foreach` whose outputs the
 * status leaves out.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import type { Client } from '@temporalio/client';
import { parse, stringify } from 'yaml';

import { FileArtifactStore } from '../activities/artifacts';
import { LineageGraph, readRunRecord, readStepRecord } from '../activities/lineage';
import {
  BUILTIN_IMPLEMENTATIONS,
  createStepImplementations,
  type StepImplementation,
  type StepImplementations,
} from '../activities/steps';
import { buildProgram } from '../clients/cli';
import { startPipeline, waitForPipeline, type PipelineRun } from '../clients/pipelines';
import { planRerun, rerunPipeline } from '../clients/rerun';
import { formatRunSummary } from '../clients/run';
import { MloeError } from '../core/errors';
import type { PipelineSpec } from '../core/spec';
import type { StepRunStatus } from '../workflows/types';
import { serverAddress } from './devserver/harness';
import { pollUntil } from './support/poll';
import { mloeRejection } from './support/rejection';
import { ECHO_STEP, FAIL_STEP, WAIT_CANCEL_STEP, startedActivities } from './fixtures/test-steps';
import { startPipelineTestWorker, stepIn } from './pipeline-harness';
import { suiteTemporaryDirectories } from './temporary-directories';

const REPO = resolve(__dirname, '..');
const DEMO_SPEC = join(REPO, 'pipelines', 'demo', 'pipeline.yaml');
const HISTORY_SPEC = join(REPO, 'test', 'histories', 'specs', 'pipeline.yaml');
const DEMO_STEPS = ['ingest', 'validate', 'featurize', 'train', 'evaluate'];

/** The steps that executed (not served from a cache, not reused), by run: `workflowId` → step ids in order. */
const executed = new Map<string, string[]>();

/** A step implementation that notes each execution before doing what the original does. */
function counting(implementation: StepImplementation): StepImplementation {
  return {
    ...implementation,
    run: async (inputs, context) => {
      executed.set(context.workflowId, [...(executed.get(context.workflowId) ?? []), context.stepId]);
      return implementation.run(inputs, context);
    },
  };
}

const steps: StepImplementations = createStepImplementations(
  BUILTIN_IMPLEMENTATIONS.map(counting),
  [ECHO_STEP, FAIL_STEP, WAIT_CANCEL_STEP].map(counting),
);

/** What a function threw; fails the test if it returned. */
function thrownBy(body: () => unknown): MloeError {
  try {
    body();
  } catch (error) {
    if (error instanceof MloeError) return error;
    throw error;
  }
  throw new Error('expected an MloeError');
}

/** The code and message of an error, for one assertion. */
function described(error: MloeError): { code: string; message: string } {
  return { code: error.code, message: error.message };
}

describe('mloe rerun --from', () => {
  const temporaryDirectory = suiteTemporaryDirectories('mloe-rerun-test-');
  let client: Client;
  let stopWorker: (() => Promise<void>) | undefined;
  const taskQueue = `mloe-rerun-test-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    const started = await startPipelineTestWorker({ taskQueue, steps });
    client = started.env.client;
    stopWorker = started.stop;
  });

  afterAll(async () => {
    await stopWorker?.();
  });

  /** Runs the demo pipeline from a copy of its spec (deleted afterwards) into a fresh store; it must complete. */
  async function demoRun(): Promise<{ run: PipelineRun; store: FileArtifactStore; directory: string }> {
    const directory = await temporaryDirectory();
    const file = join(directory, 'pipeline.yaml');
    // The demo spec without its register step: reruns are about reuse, not the model registry, and this worker tracks
    // nothing (register@1 needs MLflow; docs/tracking.md).
    const spec = parse(await readFile(DEMO_SPEC, 'utf8')) as { steps: Record<string, unknown> };
    delete spec.steps.register;
    await writeFile(file, stringify(spec));
    const run = await startPipeline(client, {
      file,
      artifactRoot: directory,
      // The spec's dataPath is relative to the repository.
      workingDir: REPO,
      taskQueue,
      descriptors: steps.descriptors,
    });
    const outcome = await waitForPipeline(run.handle, { pollIntervalMs: 100 });
    expect(outcome.error).toBeUndefined();
    expect(executed.get(run.workflowId)).toEqual(DEMO_STEPS);
    // The rerun reads the spec from the run, not from the file.
    await rm(file);
    return { run, store: FileArtifactStore.inWorkingDirectory(directory), directory };
  }

  it('re-runs exactly the chosen step and those after it, and takes the others from the first run', async () => {
    const { run: first, store } = await demoRun();
    const firstStatus = await first.handle.result();
    const rerun = await rerunPipeline(client, { workflowId: first.workflowId, fromStep: 'featurize' });
    expect(rerun.plan).toEqual({
      sourceWorkflowId: first.workflowId,
      fromStep: 'featurize',
      reused: ['ingest', 'validate'],
      runAgain: ['featurize', 'train', 'evaluate'],
      notCompleted: [],
    });
    expect(rerun.workflowId).toMatch(/^housing-price-[0-9A-Z]{26}$/);
    expect(rerun.workflowId).not.toBe(first.workflowId);
    const outcome = await waitForPipeline(rerun.handle, { pollIntervalMs: 100 });
    expect(outcome.error).toBeUndefined();
    const { status } = outcome;

    // Exactly the chosen step and those after it executed; the cache would have served them all.
    expect(executed.get(rerun.workflowId)).toEqual(['featurize', 'train', 'evaluate']);
    expect(status.rerunOf).toEqual({ workflowId: first.workflowId, fromSteps: ['featurize'] });
    for (const id of ['ingest', 'validate']) {
      expect(stepIn(status, id)).toMatchObject({
        state: 'completed',
        cache: 'reused',
        reusedFrom: first.workflowId,
        outputs: stepIn(firstStatus, id).outputs,
        attempts: 0,
      });
    }
    // The summary table `mloe run` and `mloe status` print says so in its cache column.
    const cacheColumn = formatRunSummary(status)
      .slice(3, 8)
      .map((line) => line.split(/\s{2,}/)[3]);
    expect(cacheColumn).toEqual(['reused', 'reused', 'off', 'off', 'off']);
    for (const id of ['featurize', 'train', 'evaluate']) {
      expect(stepIn(status, id)).toMatchObject({
        state: 'completed',
        cache: 'disabled',
        cacheReasons: ['cache disabled by mloe rerun --from featurize'],
        attempts: 1,
      });
    }
    // Deterministic steps on the same inputs: the same model and metrics.
    expect(stepIn(status, 'evaluate').metrics).toEqual(stepIn(firstStatus, 'evaluate').metrics);

    // The step records say the same: reused steps as hits whose source is the first run, the others executed.
    for (const id of ['ingest', 'validate']) {
      const record = await readStepRecord(store, rerun.workflowId, id);
      const original = await readStepRecord(store, first.workflowId, id);
      expect(record?.cache).toMatchObject({ decision: 'hit', sourceWorkflowId: first.workflowId });
      expect(record?.cache.reasons[0]).toContain(`reused from run ${first.workflowId} by mloe rerun --from featurize`);
      expect(record?.outputs).toEqual(original?.outputs);
      expect(record?.inputs).toEqual(original?.inputs);
    }
    for (const id of ['featurize', 'train', 'evaluate']) {
      expect((await readStepRecord(store, rerun.workflowId, id))?.cache.decision).toBe('disabled');
    }
    const runRecord = await readRunRecord(store, rerun.workflowId);
    expect(runRecord).toMatchObject({
      state: 'completed',
      rerunOf: { workflowId: first.workflowId, fromSteps: ['featurize'] },
      params: firstStatus.params,
      specHash: firstStatus.specHash,
    });
    expect(runRecord?.steps.map((step) => step.cache)).toEqual([
      'reused',
      'reused',
      'disabled',
      'disabled',
      'disabled',
    ]);
    expect((await rerun.handle.describe()).memo).toMatchObject({ rerunOf: first.workflowId, fromStep: 'featurize' });

    // Lineage: the rerun's validate output was reused, made by the first run's validate.
    const lineage = (await LineageGraph.load(store)).lineageOfRun(rerun.workflowId);
    const validate = lineage.steps.find((step) => step.stepId === 'validate');
    expect(validate?.outputs.length).toBeGreaterThan(0);
    for (const output of validate?.outputs ?? []) {
      expect(output).toMatchObject({
        relation: 'reused',
        source: { workflowId: first.workflowId, stepId: 'validate' },
      });
    }
    const featurize = lineage.steps.find((step) => step.stepId === 'featurize');
    expect(featurize?.inputs[0]?.producedBy[0]).toMatchObject({ sameRun: true, relation: 'reused' });
    await store.close();
  });

  it('runs a step again, with what needs it, when an output of the first run is gone from the store', async () => {
    const { run: first, store } = await demoRun();
    const ingest = await readStepRecord(store, first.workflowId, 'ingest');
    const dataset = ingest?.outputs[0];
    if (dataset === undefined) throw new Error('ingest recorded no output');
    await rm(store.pathOf(dataset.digest));

    const rerun = await rerunPipeline(client, { workflowId: first.workflowId, fromStep: 'train' });
    expect(rerun.plan.reused).toEqual(['ingest', 'validate', 'featurize']);
    const outcome = await waitForPipeline(rerun.handle, { pollIntervalMs: 100 });
    expect(outcome.error).toBeUndefined();
    const { status } = outcome;
    expect(stepIn(status, 'ingest').notReused).toBe(
      `output dataset (${dataset.digest.slice(0, 19)}) of run ${first.workflowId} is missing from the store`,
    );
    expect(stepIn(status, 'validate').notReused).toBe('it needs ingest, which could not be reused');
    expect(stepIn(status, 'featurize').notReused).toBe('it needs validate, which could not be reused');
    // ingest ran again (and put the same bytes back); validate and featurize were then cache hits on those bytes.
    expect(executed.get(rerun.workflowId)).toEqual(['ingest', 'train', 'evaluate']);
    expect(status.steps.map((step) => step.cache)).toEqual(['miss', 'hit', 'hit', 'disabled', 'disabled']);
    expect(await store.verify(dataset)).toBe('intact');
    expect(await readStepRecord(store, rerun.workflowId, 'validate')).toMatchObject({
      cache: { decision: 'hit', sourceWorkflowId: first.workflowId },
    });
    await store.close();
  });

  it('reuses foreach steps, a sub-pipeline and a command step, and decides afresh what did not complete', async () => {
    const directory = await temporaryDirectory();
    const first = await startPipeline(client, {
      file: HISTORY_SPEC,
      artifactRoot: directory,
      workingDir: directory,
      taskQueue,
      descriptors: steps.descriptors,
      foreachBatchSize: 4,
    });
    const firstStatus = (await waitForPipeline(first.handle, { pollIntervalMs: 100 })).status;
    expect(stepIn(firstStatus, 'optional').state).toBe('failed');

    const rerun = await rerunPipeline(client, { workflowId: first.workflowId, fromStep: 'gather' });
    expect(rerun.plan).toMatchObject({
      reused: ['prepare', 'small', 'large', 'sub', 'shout'],
      runAgain: ['gather'],
      notCompleted: ['optional', 'gated', 'after_gated'],
    });
    const { status } = await waitForPipeline(rerun.handle, { pollIntervalMs: 100 });
    // The failed optional step ran again (and failed again); gated was skipped again by its condition.
    expect([...(executed.get(rerun.workflowId) ?? [])].sort()).toEqual(['gather', 'optional']);
    expect(status.state).toBe('completed');
    expect(status.steps.map((step) => [step.id, step.state, step.cache])).toEqual([
      ['prepare', 'completed', 'reused'],
      ['small', 'completed', 'reused'],
      ['large', 'completed', 'reused'],
      ['sub', 'completed', 'reused'],
      ['shout', 'completed', 'reused'],
      ['optional', 'failed', 'unchecked'],
      ['gated', 'skipped', 'unchecked'],
      ['after_gated', 'skipped', 'unchecked'],
      ['gather', 'completed', 'disabled'],
    ]);
    expect(stepIn(status, 'large')).toMatchObject({
      outputs: stepIn(firstStatus, 'large').outputs,
      foreach: { total: 9, completed: 9 },
    });
    expect(stepIn(status, 'sub').childWorkflow).toEqual(stepIn(firstStatus, 'sub').childWorkflow);
    expect(stepIn(status, 'gather').outputs).toEqual(stepIn(firstStatus, 'gather').outputs);
    // Every iteration of a reused foreach has its record in the rerun; no sub-pipeline child ran.
    const store = FileArtifactStore.inWorkingDirectory(directory);
    for (let index = 0; index < 9; index += 1) {
      expect((await readStepRecord(store, rerun.workflowId, 'large', index))?.cache).toMatchObject({
        decision: 'hit',
        sourceWorkflowId: first.workflowId,
      });
    }
    expect((await readStepRecord(store, rerun.workflowId, 'sub'))?.cache.sourceWorkflowId).toBe(
      `${first.workflowId}-sub`,
    );
    expect(executed.has(`${rerun.workflowId}-sub`)).toBe(false);
    await store.close();
  });

  it('prints the plan and the summary through the CLI', async () => {
    const { run: first } = await demoRun();
    const stdout: string[] = [];
    const stderr: string[] = [];
    let code = -1;
    const program = buildProgram(
      { stdout: (line) => stdout.push(line), stderr: (line) => stderr.push(line) },
      (exitCode) => {
        code = exitCode;
      },
      { TEMPORAL_ADDRESS: serverAddress() },
    );
    await program.parseAsync(['node', 'mloe', 'rerun', first.workflowId, '--from', 'train', '--wait']);
    expect(stderr).toEqual([]);
    expect(code).toBe(0);
    const text = stdout.join('\n');
    expect(text).toContain(`rerun of ${first.workflowId} from train`);
    expect(text).toContain(`taken from ${first.workflowId} (once their outputs verify): ingest, validate, featurize`);
    expect(text).toContain('run again, without the cache: train, evaluate');
    expect(text).toContain(`reused from ${first.workflowId}: ingest, validate, featurize`);
    const rerunId = /^started (\S+) \(pipeline housing-price\)$/m.exec(text)?.[1] ?? '';
    expect(executed.get(rerunId)).toEqual(['train', 'evaluate']);
  });

  it('refuses an unknown run, an unknown step, a run still running and a workflow that is not a pipeline run', async () => {
    const unknownRun = await mloeRejection(
      rerunPipeline(client, { workflowId: 'housing-price-nothing', fromStep: 'x' }),
    );
    expect(unknownRun.code).toBe('RUN_NOT_FOUND');
    expect(unknownRun.message).toContain('no run housing-price-nothing in namespace default');

    const { run: first } = await demoRun();
    const unknownStep = await mloeRejection(rerunPipeline(client, { workflowId: first.workflowId, fromStep: 'tune' }));
    expect(unknownStep.code).toBe('STEP_NOT_FOUND');
    expect(unknownStep.message).toContain('its steps are ingest, validate, featurize, train, evaluate');

    const directory = await temporaryDirectory();
    const running = await startPipeline(client, {
      spec: {
        apiVersion: 'mloe.dev/v1',
        kind: 'Pipeline',
        metadata: { name: 'rerun-running' },
        steps: {
          fan: { uses: 'echo@1', foreach: ['a', 'b', 'c'], with: { message: '${{ item }}' } },
          slow: { uses: 'wait-cancel@1', needs: ['fan'] },
        },
      },
      artifactRoot: directory,
      workingDir: directory,
      taskQueue,
      descriptors: steps.descriptors,
      foreachBatchSize: 2,
    });
    await pollUntil(`step slow of ${running.workflowId} to start`, () =>
      startedActivities.has(`${running.workflowId}/slow`),
    );
    const stillRunning = await mloeRejection(
      rerunPipeline(client, { workflowId: running.workflowId, fromStep: 'slow' }),
    );
    expect(stillRunning.code).toBe('RUN_NOT_FINISHED');
    expect(stillRunning.message).toContain(`mloe cancel ${running.workflowId}`);
    const batch = await mloeRejection(
      rerunPipeline(client, { workflowId: `${running.workflowId}-fan-batch-0`, fromStep: 'fan' }),
    );
    expect(described(batch)).toEqual({
      code: 'RERUN_UNSUPPORTED',
      message: `${running.workflowId}-fan-batch-0 is a foreachBatch workflow, not a pipeline run: rerun the run that started it`,
    });
    await running.handle.cancel();
    await waitForPipeline(running.handle, { pollIntervalMs: 100 });
  });
});

describe('planRerun', () => {
  const spec = {
    apiVersion: 'mloe.dev/v1',
    kind: 'Pipeline',
    metadata: { name: 'plan' },
    steps: {
      data: { uses: 'echo@1', with: { message: 'x' } },
      fan: { uses: 'echo@1', needs: ['data'], foreach: '${{ [1, 2] }}', with: { message: 'y' } },
      train: { uses: 'echo@1', needs: ['fan'], with: { message: 'z' } },
    },
  } as unknown as PipelineSpec;
  const completed = (id: string, extra: Partial<StepRunStatus> = {}): StepRunStatus => ({
    id,
    needs: [],
    uses: 'echo@1',
    state: 'completed',
    attempts: 1,
    cache: 'miss',
    outputs: { message: id },
    ...extra,
  });

  it('refuses to take a foreach whose outputs the status leaves out, saying which --from would work', () => {
    const { outputs: _outputs, ...withoutOutputs } = completed('fan');
    const omitted: StepRunStatus = {
      ...withoutOutputs,
      outputsOmitted: '5000 items, more than the status shows (1000)',
    };
    const status = {
      steps: [completed('data'), omitted, completed('train')],
    };
    const refused = thrownBy(() => planRerun({ spec }, status, 'plan-1', 'train'));
    expect(refused.code).toBe('RERUN_UNSUPPORTED');
    expect(refused.message).toContain('step fan of run plan-1 completed, but its outputs are not in the run');
    expect(refused.message).toContain('rerun from fan or a step before it');
    // From the foreach itself, nothing of it is taken.
    expect(planRerun({ spec }, status, 'plan-1', 'fan').plan).toMatchObject({
      reused: ['data'],
      runAgain: ['fan', 'train'],
    });
  });

  it('says a step inside a sub-pipeline cannot be chosen', () => {
    const refused = thrownBy(() => planRerun({ spec }, { steps: [] }, 'plan-1', 'sub.greet'));
    expect(refused.code).toBe('STEP_NOT_FOUND');
    expect(refused.message).toContain('its steps are data, fan, train (a step inside a sub-pipeline cannot be chosen');
  });
});
