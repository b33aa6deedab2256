/**
 * The code-first helper (`workflows/mloe-steps.ts`): a hand-written workflow runs the built-in steps and a command
 * step on the jest dev server with the pipeline worker, gets the same artifacts as a spec run, and the same cache:
 * a second run executes nothing. Its history replays.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

import { FileArtifactStore, getText } from '../activities/artifacts';
import { DEFAULT_DEMO_DATA } from '../clients/demo';
import { codeFirstHousing } from './fixtures/code-first-workflows';
import { type TestEnv } from './devserver/harness';
import { startPipelineTestWorker } from './pipeline-harness';

describe('mloeSteps in a hand-written workflow', () => {
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

  it('runs the steps with artifacts in the store, and serves an identical second run from the cache', async () => {
    const root = join(directory, 'store');
    const input = { dataPath: DEFAULT_DEMO_DATA, workingDir: directory, artifactStore: pathToFileURL(root).href };
    const first = await env.client.workflow.execute(codeFirstHousing, {
      taskQueue,
      workflowId: `code-first-${Date.now()}-1`,
      args: [input],
    });
    expect(Object.values(first).map((result) => result.cache.decision)).toEqual(Array(6).fill('miss'));
    expect(first.evaluate?.metrics?.r2).toBeGreaterThan(0.9);
    const store = new FileArtifactStore({ root });
    const report = first.report?.outputs.report as { uri: string };
    expect(JSON.parse(await getText(store, report.uri))).toMatchObject({ r2: first.evaluate?.metrics?.r2 });

    const handle = await env.client.workflow.start(codeFirstHousing, {
      taskQueue,
      workflowId: `code-first-${Date.now()}-2`,
      args: [input],
    });
    const second = await handle.result();
    expect(Object.values(second).map((result) => result.cache.decision)).toEqual(Array(6).fill('hit'));
    expect(second.train?.outputs).toEqual(first.train?.outputs);
    expect(second.train?.cache.sourceWorkflowId).toMatch(/-1$/);

    const third = await env.client.workflow.execute(codeFirstHousing, {
      taskQueue,
      workflowId: `code-first-${Date.now()}-3`,
      args: [{ ...input, noCache: true }],
    });
    expect(Object.values(third).map((result) => result.cache.decision)).toEqual(Array(6).fill('disabled'));
    expect(third.train?.outputs).toEqual(first.train?.outputs); // deterministic steps, same digests

    await Worker.runReplayHistory({ workflowBundle }, await handle.fetchHistory(), handle.workflowId);
  });
});
