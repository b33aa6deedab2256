/**
 * Step caching on the jest dev server with a real worker and a real file store: hits skip execution (counted),
 * misses say which part of the key changed (an input, a parameter of a command step, a data file, a script, the
 * code), deleted or damaged outputs make the step run again, `--no-cache` and `cache: false` turn it off, and
 * `mloe explain` prints the decision. Every history replays.
 */
import { mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import type { Client, WorkflowHandle } from '@temporalio/client';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';

import { putJson, FileArtifactStore } from '../activities/artifacts';
import {
  BUILTIN_IMPLEMENTATIONS,
  createStepImplementations,
  type StepImplementation,
  type StepImplementations,
} from '../activities/steps';
import { readRunRecord, readStepRecord } from '../activities/lineage';
import { runExplain } from '../clients/explain';
import { runLineage } from '../clients/lineage';
import packageJson from '../package.json';
import { startPipeline, waitForPipeline, type StartPipelineOptions } from '../clients/pipelines';
import type { RunPipelineWorkflow } from '../workflows/types';
import { type TestEnv } from './devserver/harness';
import { specOf, startPipelineTestWorker, stepIn } from './pipeline-harness';
import { replayAll } from './support/replay';

/** Executions of the counting steps, by `step:input`. */
const executions = new Map<string, number>();

function counted(key: string): number {
  return executions.get(key) ?? 0;
}

/** Steps that count their executions and write artifacts, so hits and misses can be told apart. */
const CACHE_TEST_STEPS: StepImplementation[] = [
  {
    descriptor: {
      name: 'make-data',
      version: '1',
      inputs: { rows: { type: 'integer' } },
      outputs: { data: { type: 'dataset' }, rows: { type: 'integer' } },
    },
    async run(inputs, context) {
      const rows = Number(inputs.rows);
      executions.set(`make-data:${rows}`, counted(`make-data:${rows}`) + 1);
      const data = await putJson(
        context.store,
        { rows: Array.from({ length: rows }, (_, i) => i) },
        { type: 'dataset' },
      );
      return { outputs: { data, rows } };
    },
  },
  {
    descriptor: {
      name: 'summarise',
      version: '1',
      inputs: { data: { type: 'dataset' } },
      outputs: { report: { type: 'report' } },
    },
    async run(inputs, context) {
      const digest = (inputs.data as { digest: string }).digest;
      executions.set(`summarise:${digest}`, counted(`summarise:${digest}`) + 1);
      return { outputs: { report: await putJson(context.store, { of: digest }, { type: 'report' }) } };
    },
  },
];

const steps: StepImplementations = createStepImplementations(BUILTIN_IMPLEMENTATIONS, CACHE_TEST_STEPS);

/** make-data → summarise, with the row count as a parameter. */
function chainSpec(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return specOf(name, {
    params: { rows: { type: 'integer', default: 3 } },
    steps: {
      make: { uses: 'make-data', with: { rows: '${{ params.rows }}' } },
      summarise: { uses: 'summarise', needs: ['make'], with: { data: '${{ steps.make.outputs.data }}' }, ...extra },
    },
  });
}

describe('step caching', () => {
  let env: TestEnv;
  let client: Client;
  let workflowBundle: WorkflowBundleWithSourceMap;
  let stopWorker: (() => Promise<void>) | undefined;
  let directory: string;
  const taskQueue = `mloe-cache-test-${process.pid}-${Date.now()}`;
  const handles: WorkflowHandle<RunPipelineWorkflow>[] = [];

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mloe-cache-test-'));
    ({ env, workflowBundle, stop: stopWorker } = await startPipelineTestWorker({ taskQueue, steps }));
    client = env.client;
  });

  afterAll(async () => {
    await stopWorker?.();
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  /** Runs a pipeline in the test's artifact directory and returns its final status (it must complete). */
  async function run(options: Partial<StartPipelineOptions> & ({ spec: unknown } | { file: string })) {
    const started = await startPipeline(client, {
      artifactRoot: directory,
      workingDir: directory,
      taskQueue,
      descriptors: steps.descriptors,
      ...options,
    });
    handles.push(started.handle);
    const outcome = await waitForPipeline(started.handle, { pollIntervalMs: 50 });
    expect(outcome.error).toBeUndefined();
    return { status: outcome.status, workflowId: started.workflowId };
  }

  it('serves a second identical run from the cache without executing its steps', async () => {
    const spec = chainSpec('cache-same');
    const first = await run({ spec, params: { rows: 11 } });
    expect(first.status.steps.map((step) => step.cache)).toEqual(['miss', 'miss']);
    expect(stepIn(first.status, 'make').cacheReasons).toEqual(['no earlier cached run of this step']);
    expect(counted('make-data:11')).toBe(1);

    const second = await run({ spec, params: { rows: 11 } });
    expect(second.status.steps.map((step) => step.cache)).toEqual(['hit', 'hit']);
    expect(counted('make-data:11')).toBe(1);
    expect(stepIn(second.status, 'make').outputs).toEqual(stepIn(first.status, 'make').outputs);
    expect(stepIn(second.status, 'summarise').cacheReasons).toEqual([
      `reused the outputs of run ${first.workflowId} (step summarise, same key)`,
    ]);
    expect(stepIn(second.status, 'make').cacheKey).toBe(stepIn(first.status, 'make').cacheKey);
  });

  it('a changed parameter misses only the steps it reaches, and says which input changed', async () => {
    const spec = chainSpec('cache-param');
    const first = await run({ spec, params: { rows: 4 } });
    const second = await run({ spec, params: { rows: 5 } });
    const make = stepIn(second.status, 'make');
    expect(make.cache).toBe('miss');
    expect(make.cacheReasons).toEqual([`input rows changed: 4 → 5 (since run ${first.workflowId})`]);
    const summarise = stepIn(second.status, 'summarise');
    expect(summarise.cache).toBe('miss');
    expect(summarise.cacheReasons?.[0]).toMatch(/^input data changed: sha256:[0-9a-f]{12} → sha256:[0-9a-f]{12} \(/);
  });

  it('re-runs a step whose cached output was deleted from the store, instead of serving it', async () => {
    const spec = chainSpec('cache-deleted');
    const first = await run({ spec, params: { rows: 21 } });
    const report = stepIn(first.status, 'summarise').outputs?.report as { uri: string; digest: string };
    const before = counted(`summarise:${(stepIn(first.status, 'make').outputs?.data as { digest: string }).digest}`);
    await unlink(fileURLToPath(report.uri));

    const second = await run({ spec, params: { rows: 21 } });
    expect(stepIn(second.status, 'make').cache).toBe('hit');
    const summarise = stepIn(second.status, 'summarise');
    expect(summarise.cache).toBe('miss');
    expect(summarise.cacheReasons).toEqual([
      `cached output report (${report.digest.slice(0, 19)}) of run ${first.workflowId} is missing from the store`,
    ]);
    expect(counted(`summarise:${(stepIn(first.status, 'make').outputs?.data as { digest: string }).digest}`)).toBe(
      before + 1,
    );
    // The re-run wrote the same bytes again: the artifact is back and verifies.
    const store = new FileArtifactStore({ root: join(directory, '.mloe', 'artifacts') });
    expect(await store.verify(report.uri)).toBe('intact');
  });

  it('re-runs a step whose cached output was damaged', async () => {
    const spec = chainSpec('cache-corrupt');
    const first = await run({ spec, params: { rows: 31 } });
    const data = stepIn(first.status, 'make').outputs?.data as { uri: string; digest: string };
    await writeFile(fileURLToPath(data.uri), 'not what was stored');
    const second = await run({ spec, params: { rows: 31 } });
    expect(stepIn(second.status, 'make').cache).toBe('miss');
    expect(stepIn(second.status, 'make').cacheReasons?.[0]).toContain('is corrupt');
    expect(counted('make-data:31')).toBe(2);
    expect(stepIn(second.status, 'summarise').cache).toBe('hit');
  });

  it('--no-cache and cache: false run the step and record why', async () => {
    const spec = chainSpec('cache-off', { cache: false });
    await run({ spec, params: { rows: 41 } });
    const second = await run({ spec, params: { rows: 41 } });
    expect(stepIn(second.status, 'make').cache).toBe('hit');
    expect(stepIn(second.status, 'summarise')).toMatchObject({
      cache: 'disabled',
      cacheReasons: ['cache disabled by cache: false'],
    });
    const third = await run({ spec, params: { rows: 41 }, noCache: true });
    expect(third.status.steps.map((step) => [step.cache, step.cacheReasons])).toEqual([
      ['disabled', ['cache disabled by --no-cache']],
      ['disabled', ['cache disabled by --no-cache']],
    ]);
    expect(counted('make-data:41')).toBe(2);
  });

  it('the built-in ingest step misses when the data file changes, though its path does not', async () => {
    const dataPath = join(directory, 'input.csv');
    await writeFile(dataPath, 'a,b\n1,2\n');
    const spec = specOf('cache-ingest', { steps: { ingest: { uses: 'ingest@1', with: { dataPath: 'input.csv' } } } });
    const first = await run({ spec });
    expect(stepIn((await run({ spec })).status, 'ingest').cache).toBe('hit');
    await writeFile(dataPath, 'a,b\n1,3\n');
    const third = await run({ spec });
    const ingest = stepIn(third.status, 'ingest');
    expect(ingest.cache).toBe('miss');
    expect(ingest.cacheReasons).toEqual([
      expect.stringMatching(
        new RegExp(
          `^file dataPath changed: sha256:[0-9a-f]{12} → sha256:[0-9a-f]{12} \\(since run ${first.workflowId}\\)$`,
        ),
      ),
    ]);
  });

  it('a command step misses when its script or a parameter changes, and keeps its logs on a hit', async () => {
    const script = join(directory, 'step.sh');
    await writeFile(script, 'echo "version 1"; echo 1 > "$MLOE_OUTPUTS_DIR/result"\n');
    const spec = specOf('cache-command', {
      params: { level: { type: 'integer', default: 1 } },
      steps: {
        shell: { run: { command: ['sh', 'step.sh'], workingDir: '.' }, outputs: { result: { type: 'file' } } },
      },
    });
    const first = await run({ spec });
    const shell = stepIn(first.status, 'shell');
    expect(shell.logs).toMatchObject({ stdout: { uri: expect.stringMatching(/^file:\/\//) as string } });
    const hit = stepIn((await run({ spec })).status, 'shell');
    expect(hit.cache).toBe('hit');
    expect(hit.logs).toEqual(shell.logs);

    await writeFile(script, 'echo "version 2"; echo 1 > "$MLOE_OUTPUTS_DIR/result"\n');
    const changed = stepIn((await run({ spec })).status, 'shell');
    expect(changed.cache).toBe('miss');
    expect(changed.cacheReasons?.[0]).toMatch(/^file argv\[1\] step\.sh changed: /);

    const withParam = stepIn((await run({ spec, params: { level: 2 } })).status, 'shell');
    expect(withParam.cacheReasons?.[0]).toMatch(/^parameter level changed: 1 → 2 /);
  });

  it('a foreach step caches per iteration and reports partial hits', async () => {
    const spec = specOf('cache-foreach', {
      params: { sizes: { type: 'list', items: 'integer' } },
      steps: { make: { uses: 'make-data', foreach: '${{ params.sizes }}', with: { rows: '${{ item }}' } } },
    });
    await run({ spec, params: { sizes: [51, 52] } });
    const second = stepIn((await run({ spec, params: { sizes: [51, 52, 53] } })).status, 'make');
    expect(second).toMatchObject({ cache: 'partial', cacheCounts: { hits: 2, misses: 1 } });
    expect(counted('make-data:51')).toBe(1);
    expect(counted('make-data:53')).toBe(1);
  });

  it('mloe explain prints the decision and its reasons, and names the steps when one is unknown', async () => {
    const spec = chainSpec('cache-explain');
    await run({ spec, params: { rows: 61 } });
    const { workflowId } = await run({ spec, params: { rows: 62 } });
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (line: string) => out.push(line), stderr: (line: string) => err.push(line) };
    const config = {
      address: process.env.TEMPORAL_TEST_ADDRESS ?? '',
      namespace: 'default',
      addressOrigin: 'TEMPORAL_ADDRESS' as const,
    };
    expect(await runExplain(workflowId, 'make', config, io)).toBe(0);
    expect(out.join('\n')).toMatch(/make \(make-data@1\) in run cache-explain-[0-9A-HJKMNP-TV-Z]{26}: miss/);
    expect(out.join('\n')).toContain('input rows changed: 61 → 62');
    expect(out.join('\n')).toMatch(/key: [0-9a-f]{64}/);

    // With no Temporal to ask (nothing listens on port 1), the step records in the store answer the same.
    out.length = 0;
    const storeUri = pathToFileURL(join(directory, '.mloe', 'artifacts')).href;
    const offline = { ...config, address: '127.0.0.1:1' };
    expect(await runExplain(workflowId, 'make', offline, io, () => ({ artifactStore: storeUri }))).toBe(0);
    expect(out[0]).toMatch(/^\(from the step records in file:\/\/.*; the run's status could not be read: no Temporal/);
    expect(out.join('\n')).toContain('make (make-data@1) in run');
    expect(out.join('\n')).toContain('input rows changed: 61 → 62');

    expect(await runExplain(workflowId, 'nope', config, io)).toBe(1);
    expect(err.join('\n')).toContain('no step nope in run');
    expect(err.join('\n')).toContain('make, summarise');
  });

  it('records the run and every step execution, and mloe lineage walks them', async () => {
    const spec = chainSpec('lineage-e2e');
    const first = await run({ spec, params: { rows: 71 } });
    const second = await run({ spec, params: { rows: 71 } });
    const store = new FileArtifactStore({ root: join(directory, '.mloe', 'artifacts') });
    const record = await readRunRecord(store, first.workflowId);
    expect(record).toMatchObject({
      workflowId: first.workflowId,
      pipeline: 'lineage-e2e',
      specHash: first.status.specHash,
      mloeVersion: packageJson.version,
      params: { rows: 71 },
      state: 'completed',
      namespace: 'default',
      artifactStore: pathToFileURL(join(directory, '.mloe', 'artifacts')).href,
    });
    expect(record?.temporalRunId).toMatch(/^[0-9a-f-]{36}$/);
    expect(record?.gitCommit).toMatch(/^[0-9a-f]{40}(-dirty)?$/); // the tests run from the repository
    expect(record?.steps.map((step) => [step.id, step.state, step.cache])).toEqual([
      ['make', 'completed', 'miss'],
      ['summarise', 'completed', 'miss'],
    ]);

    const data = stepIn(first.status, 'make').outputs?.data as { digest: string };
    const summarise = await readStepRecord(store, second.workflowId, 'summarise');
    expect(summarise).toMatchObject({
      state: 'completed',
      cache: { decision: 'hit', sourceWorkflowId: first.workflowId },
      inputs: [{ port: 'data', digest: data.digest }],
    });

    const out: string[] = [];
    const io = { stdout: (line: string) => out.push(line), stderr: (line: string) => out.push(`ERR ${line}`) };
    expect(await runLineage(data.digest, { artifactStore: store.rootUri, downstream: true }, io)).toBe(0);
    const text = out.join('\n');
    expect(text).toContain(first.workflowId);
    expect(text).toContain('summarise');
    out.length = 0;
    expect(await runLineage(second.workflowId, { artifactStore: store.rootUri }, io)).toBe(0);
    expect(out.join('\n')).toContain(`cache hit from ${first.workflowId}`);
  });

  it('keeps cache entries as records in the store', async () => {
    const names = await readdir(join(directory, '.mloe', 'artifacts', 'records', 'cache'));
    expect(names.some((name) => /^[0-9a-f]{64}\.json$/.test(name))).toBe(true);
    expect(names).toContain('last.cache-same.make.json');
  });

  it('replays every history of this suite', async () => {
    await replayAll(workflowBundle, handles);
  });
});
