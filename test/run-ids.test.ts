/**
 * Run identity: new runs get `<pipeline>-<ULID>` workflow ids; a chosen id (`workflowId`) is never used for a second
 * run (Fail refuses, UseExisting returns the run the same request started, anything else is refused); two runs that
 * share a workflow id past Temporal's policy cannot overwrite each other's records; a namespace without mloe's
 * search attributes says what to run. On the jest dev server, with a real pipeline worker.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client, WorkflowFailedError } from '@temporalio/client';
import Long from 'long';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';

import { FileArtifactStore } from '../activities/artifacts/file-store';
import { createStepImplementations, BUILTIN_IMPLEMENTATIONS } from '../activities/steps';
import { readRunRecord, listStepRecords } from '../activities/lineage';
import { newRunWorkflowId } from '../clients/run-ids';
import { startPipeline, waitForPipeline, type IdConflictPolicy } from '../clients/pipelines';
import { runSetup } from '../clients/setup';
import { WORKFLOW_ID_PATTERN, workflowIdProblem } from '../core/run-ids';
import type { ConnectionConfig } from '../workers/config';
import { MLOE_SEARCH_ATTRIBUTES, registerSearchAttributes } from '../workers/search-attributes';
import { RUN_PIPELINE_WORKFLOW_TYPE, type RunPipelineWorkflow } from '../workflows/types';
import { ECHO_STEP } from './fixtures/test-steps';
import { startPipelineTestWorker, type PipelineTestWorker } from './pipeline-harness';

const steps = createStepImplementations(BUILTIN_IMPLEMENTATIONS, [ECHO_STEP]);

function specOf(name: string, greeting = 'hello'): Record<string, unknown> {
  return {
    apiVersion: 'mloe.dev/v1',
    kind: 'Pipeline',
    metadata: { name },
    params: { greeting: { type: 'string', default: greeting } },
    steps: { a: { uses: 'echo@1', with: { message: '${{ params.greeting }}' } } },
  };
}

describe('new run ids', () => {
  it('are <pipeline>-<ULID>: usable as record names, unique, and sorted by start time', () => {
    const ids = Array.from({ length: 10_000 }, () => newRunWorkflowId('housing-price'));
    for (const id of ids.slice(0, 50)) {
      expect(id).toMatch(/^housing-price-[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(WORKFLOW_ID_PATTERN.test(id)).toBe(true);
    }
    expect(new Set(ids).size).toBe(ids.length);
    // Made within the same milliseconds, they still sort in the order they were made (monotonic ULIDs).
    expect([...ids].sort()).toEqual(ids);
    const earlier = newRunWorkflowId('p', Date.UTC(2026, 0, 1));
    const later = newRunWorkflowId('p', Date.UTC(2026, 0, 2));
    expect(earlier < later).toBe(true);
  });

  it('a chosen id that records cannot file says what is wrong', () => {
    expect(workflowIdProblem('nightly-2026-12-06')).toBeUndefined();
    // A scheduled run's id, as Temporal makes it: the schedule's action id and the scheduled time.
    expect(workflowIdProblem('nightly-2026-12-06T00:00:00Z')).toBeUndefined();
    expect(workflowIdProblem('a.b')).toMatch(/only letters, digits, '_', '-' and ':'/);
    expect(workflowIdProblem('../x')).toMatch(/only letters/);
    expect(workflowIdProblem('')).toMatch(/cannot be empty/);
    expect(workflowIdProblem('x'.repeat(161))).toMatch(/at most 160 characters, this one has 161/);
  });
});

describe('starting runs by id on the dev server', () => {
  let worker: PipelineTestWorker;
  let client: Client;
  let root: string;
  const taskQueue = `mloe-run-ids-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mloe-run-ids-'));
    worker = await startPipelineTestWorker({ taskQueue, steps });
    client = worker.env.client;
  });
  afterAll(async () => {
    await worker?.stop();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  const start = (name: string, extra: { workflowId?: string; idConflictPolicy?: IdConflictPolicy }) =>
    startPipeline(client, {
      spec: specOf(name),
      taskQueue,
      artifactRoot: root,
      workingDir: root,
      descriptors: steps.descriptors,
      ...extra,
    });

  it("a second start with the same id is refused, or returns the first run, by the caller's choice", async () => {
    const workflowId = `nightly-${randomUUID()}`;
    const first = await start('by-id', { workflowId });
    expect(first.existing).toBe(false);
    expect(first.workflowId).toBe(workflowId);

    // While it runs or after it completed: Fail (the default) refuses, naming the run and how to get it instead.
    const refused = start('by-id', { workflowId });
    await expect(refused).rejects.toMatchObject({ code: 'RUN_ID_CONFLICT' });
    await expect(refused).rejects.toThrow(/of this same request; pass --id-conflict-policy UseExisting/);
    await waitForPipeline(first.handle, { pollIntervalMs: 50 });

    const again = await start('by-id', { workflowId, idConflictPolicy: 'UseExisting' });
    expect(again.existing).toBe(true);
    expect((await again.handle.describe()).runId).toBe((await first.handle.describe()).runId);

    // A different request under the same id is never the same run, whatever the policy.
    const other = startPipeline(client, {
      spec: specOf('by-id', 'bonjour'),
      taskQueue,
      artifactRoot: root,
      workingDir: root,
      descriptors: steps.descriptors,
      workflowId,
      idConflictPolicy: 'UseExisting',
    });
    await expect(other).rejects.toMatchObject({ code: 'RUN_ID_CONFLICT' });
    await expect(other).rejects.toThrow(/with another spec, parameters or settings/);

    // Exactly one execution exists under the id.
    let executions = 0;
    for await (const _ of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) executions += 1;
    expect(executions).toBe(1);
  });

  it('refuses an id that records cannot file before anything starts', async () => {
    await expect(start('by-id', { workflowId: 'has.dots' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('a run forced past the id policy under a used id fails with RECORD_CONFLICT and overwrites nothing', async () => {
    const first = await start('collide', {});
    const { status } = await waitForPipeline(first.handle, { pollIntervalMs: 50 });
    expect(status.state).toBe('completed');
    const store = new FileArtifactStore({ root: join(root, '.mloe', 'artifacts') });
    const recordBefore = await readRunRecord(store, first.workflowId);
    const stepsBefore = await listStepRecords(store, first.workflowId);
    expect(recordBefore?.state).toBe('completed');
    expect(stepsBefore).toHaveLength(1);

    // Start a second execution under the same workflow id, bypassing mloe's REJECT_DUPLICATE, with the same input.
    const intruder = await client.workflow.start<RunPipelineWorkflow>(RUN_PIPELINE_WORKFLOW_TYPE, {
      workflowId: first.workflowId,
      taskQueue,
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      args: [await inputOf(client, first.workflowId, recordBefore?.temporalRunId ?? '')],
    });
    const failure = await intruder.result().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('RECORD_CONFLICT');
    expect(cause?.message).toMatch(new RegExp(`belongs to Temporal run ${recordBefore?.firstExecutionRunId}`));

    // The first run's records are as they were; no step of the intruder ran.
    expect(await readRunRecord(store, first.workflowId)).toEqual(recordBefore);
    expect(await listStepRecords(store, first.workflowId)).toEqual(stepsBefore);
    const history = await intruder.fetchHistory();
    const scheduled = (history.events ?? [])
      .map((event) => event.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter((name) => name !== undefined);
    expect(scheduled).toEqual(['recordRun']);
  });

  it('a namespace without mloe search attributes: the start says to run mloe setup, which fixes it', async () => {
    const namespace = `mloe-setup-${randomUUID().slice(0, 8)}`;
    await worker.env.connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(86_400) },
    });
    const bare = new Client({ connection: worker.env.connection, namespace });
    const refused = startPipeline(bare, {
      spec: specOf('bare'),
      taskQueue,
      artifactRoot: root,
      workingDir: root,
      descriptors: steps.descriptors,
    });
    await expect(refused).rejects.toMatchObject({ code: 'SEARCH_ATTRIBUTES_MISSING' });
    await expect(refused).rejects.toThrow(`run \`mloe setup --namespace ${namespace}\` once`);

    const lines: string[] = [];
    const io = { stdout: (line: string) => lines.push(line), stderr: (line: string) => lines.push(`ERR ${line}`) };
    const address = process.env.TEMPORAL_TEST_ADDRESS ?? '';
    const config: ConnectionConfig = { address, addressOrigin: '--address', namespace };
    expect(await runSetup(config, io)).toBe(0);
    expect(lines).toContain(`search attribute MloePipeline (Keyword): registered in namespace ${namespace}`);
    // Idempotent: a second setup (or a worker starting) finds them.
    expect(await registerSearchAttributes(worker.env.connection, namespace)).toEqual({
      added: [],
      present: [...MLOE_SEARCH_ATTRIBUTES],
    });
    const started = await startPipeline(bare, {
      spec: specOf('bare'),
      taskQueue,
      artifactRoot: root,
      workingDir: root,
      descriptors: steps.descriptors,
    });
    expect(started.workflowId).toMatch(/^bare-/);
    await started.handle.terminate('no worker polls this namespace');
  });
});

/** The input a run was started with, from its first history event. */
async function inputOf(client: Client, workflowId: string, runId: string): Promise<Parameters<RunPipelineWorkflow>[0]> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (payload === undefined) throw new Error(`no input in the history of ${workflowId}`);
  return defaultPayloadConverter.fromPayload(payload);
}
