/**
 * The code-first demo (`pipelines/demo/code-first.ts`, a hand-written workflow using `mloeSteps`) on the jest dev
 * server with the pipeline worker: it runs the built-in steps with artifacts in the store and the same cache as a
 * spec run (a second run executes nothing), agrees with `pipeline.yaml` on its steps, and its history replays. A
 * command step through `mloeSteps` reads one of its artifacts.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

import { FileArtifactStore, getText } from '../activities/artifacts';
import { HOUSING_DATA, HOUSING_SPEC } from './support/examples';
import { parseSpecText } from '../core/spec';
import { DEMO_STEPS } from '../pipelines/demo/code-first';
import { housingPrice, reportMetrics } from './fixtures/code-first-workflows';
import { type TestEnv } from './devserver/harness';
import { startPipelineTestWorker } from './pipeline-harness';

describe('the code-first demo (mloeSteps in a hand-written workflow)', () => {
  let env: TestEnv;
  let workflowBundle: WorkflowBundleWithSourceMap;
  let stopWorker: (() => Promise<void>) | undefined;
  let directory: string;
  const taskQueue = `mloe-code-first-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mloe-code-first-'));
    ({
      env,
      workflowBundle,
      stop: stopWorker,
    } = await startPipelineTestWorker({
      taskQueue,
      workflowsPath: require.resolve('./fixtures/code-first-workflows'),
    }));
  });

  afterAll(async () => {
    await stopWorker?.();
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  it('has the steps of pipeline.yaml, in its order, but register', async () => {
    const spec = parseSpecText(await readFile(HOUSING_SPEC, 'utf8')).value as { steps: Record<string, unknown> };
    // pipeline.yaml also registers the model in MLflow; the code-first workflow does not (pipelines/demo/README.md).
    expect(Object.keys(spec.steps)).toEqual([...DEMO_STEPS, 'register']);
  });

  it('runs the steps with artifacts in the store, and serves an identical second run from the cache', async () => {
    const root = join(directory, 'store');
    const input = { dataPath: HOUSING_DATA, workingDir: directory, artifactStore: pathToFileURL(root).href };
    const first = await env.client.workflow.execute(housingPrice, {
      taskQueue,
      workflowId: `code-first-${Date.now()}-1`,
      args: [input],
    });
    expect(Object.keys(first)).toEqual([...DEMO_STEPS]);
    expect(Object.values(first).map((result) => result.cache.decision)).toEqual(Array(5).fill('miss'));
    expect(first.evaluate.metrics?.r2).toBeGreaterThan(0.9);
    expect(first.validate.outputs.rows).toBe(400);
    const store = new FileArtifactStore({ root });
    const metrics = first.evaluate.outputs.metrics as { uri: string };
    expect(JSON.parse(await getText(store, metrics.uri))).toEqual(first.evaluate.metrics);

    const handle = await env.client.workflow.start(housingPrice, {
      taskQueue,
      workflowId: `code-first-${Date.now()}-2`,
      args: [input],
    });
    const second = await handle.result();
    expect(Object.values(second).map((result) => result.cache.decision)).toEqual(Array(5).fill('hit'));
    expect(second.train.outputs).toEqual(first.train.outputs);
    expect(second.train.cache.sourceWorkflowId).toMatch(/-1$/);

    const third = await env.client.workflow.execute(housingPrice, {
      taskQueue,
      workflowId: `code-first-${Date.now()}-3`,
      args: [{ ...input, noCache: true }],
    });
    expect(Object.values(third).map((result) => result.cache.decision)).toEqual(Array(5).fill('disabled'));
    expect(third.train.outputs).toEqual(first.train.outputs); // deterministic steps, same digests

    await Worker.runReplayHistory({ workflowBundle }, await handle.fetchHistory(), handle.workflowId);

    const report = await env.client.workflow.execute(reportMetrics, {
      taskQueue,
      workflowId: `code-first-${Date.now()}-report`,
      args: [
        { metrics: first.evaluate.outputs.metrics ?? null, workingDir: directory, artifactStore: input.artifactStore },
      ],
    });
    expect(report.cache.decision).toBe('miss');
    const reported = report.outputs.report as { uri: string };
    expect(JSON.parse(await getText(store, reported.uri))).toEqual(first.evaluate.metrics);
  });
});
