/**
 * A 10,000-item `foreach` on the jest dev server with a real worker: the iterations run over `foreachBatch` children
 * (500 items each), the outputs come back complete and in order, every workflow's history stays far below Temporal's
 * 51,200-event limit, the `status` query answers while the fan-out runs, and the parent's history replays.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

import {
  BUILTIN_IMPLEMENTATIONS,
  createStepImplementations,
  type StepImplementation,
  type StepImplementations,
} from '../activities/steps';
import { startPipeline, waitForPipeline } from '../clients/pipelines';
import { DEFAULT_FOREACH_BATCH_SIZE, type PipelineRunStatus } from '../workflows/types';
import { serverAddress, type TestEnv } from './devserver/harness';
import { startPipelineTestWorker } from './pipeline-harness';

const ITEMS = 10_000;
/** Temporal's default limit of events in one workflow's history. */
const HISTORY_EVENT_LIMIT = 51_200;
/** Temporal's default limit of one workflow's history size. */
const HISTORY_SIZE_LIMIT = 50 * 1024 * 1024;

/** A step that produces the list, and the cheap step the fan-out runs. */
const SCALE_STEPS: StepImplementation[] = [
  {
    descriptor: {
      name: 'range',
      version: '1',
      inputs: { count: { type: 'integer' } },
      outputs: { items: { type: 'list', items: 'integer' } },
    },
    async run(inputs) {
      return { outputs: { items: Array.from({ length: Number(inputs.count) }, (_, i) => i) } };
    },
  },
  {
    descriptor: {
      name: 'in-order',
      version: '1',
      inputs: { values: { type: 'list', items: 'integer' } },
      outputs: { checked: { type: 'integer' } },
    },
    async run(inputs) {
      const values = inputs.values as number[];
      const wrong = values.findIndex((value, i) => value !== i + 1);
      if (wrong >= 0) throw new Error(`values[${wrong}] is ${values[wrong]}, expected ${wrong + 1}`);
      return { outputs: { checked: values.length } };
    },
  },
  {
    descriptor: {
      name: 'inc',
      version: '1',
      inputs: { n: { type: 'integer' } },
      outputs: { m: { type: 'integer' } },
    },
    async run(inputs) {
      return { outputs: { m: Number(inputs.n) + 1 } };
    },
  },
];

const steps: StepImplementations = createStepImplementations(BUILTIN_IMPLEMENTATIONS, SCALE_STEPS);

describe('a 10,000-item foreach', () => {
  let env: TestEnv;
  let client: Client;
  /** A connection that accepts messages above gRPC's 4 MB default: the parent's history is one page of ~5 MB. */
  let historyConnection: Connection;
  let workflowBundle: WorkflowBundleWithSourceMap;
  let stopWorker: (() => Promise<void>) | undefined;
  let artifactRoot: string;
  const taskQueue = `mloe-scale-test-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    artifactRoot = await mkdtemp(join(tmpdir(), 'mloe-scale-test-'));
    ({ env, workflowBundle, stop: stopWorker } = await startPipelineTestWorker({ taskQueue, steps }));
    client = env.client;
    historyConnection = await Connection.connect({
      address: serverAddress(),
      channelArgs: { 'grpc.max_receive_message_length': 64 * 1024 * 1024 },
    });
  });

  afterAll(async () => {
    await stopWorker?.();
    await historyConnection?.close();
    if (artifactRoot !== undefined) await rm(artifactRoot, { recursive: true, force: true });
  });

  it('runs over child batches, gathers every output in order, and keeps every history small', async () => {
    const started = performance.now();
    const run = await startPipeline(client, {
      artifactRoot,
      workingDir: artifactRoot,
      taskQueue,
      descriptors: steps.descriptors,
      noCache: true,
      spec: {
        apiVersion: 'mloe.dev/v1',
        kind: 'Pipeline',
        metadata: { name: 'scale' },
        params: { count: { type: 'integer', default: ITEMS } },
        steps: {
          range: { uses: 'range@1', with: { count: '${{ params.count }}' } },
          fan: {
            uses: 'inc@1',
            needs: ['range'],
            foreach: '${{ steps.range.outputs.items }}',
            maxParallel: 200,
            with: { n: '${{ item }}' },
          },
          total: { uses: 'inc@1', needs: ['fan'], with: { n: '${{ steps.fan.outputs.m.size() }}' } },
          check: { uses: 'in-order@1', needs: ['fan'], with: { values: '${{ steps.fan.outputs.m }}' } },
        },
      },
    });

    // The status query answers while the fan-out runs, with its progress.
    const during: PipelineRunStatus[] = [];
    const outcome = await waitForPipeline(run.handle, {
      pollIntervalMs: 500,
      onStatus: (status) => {
        if (status.state === 'running') during.push(status);
      },
    });
    const seconds = (performance.now() - started) / 1000;
    expect(outcome.error).toBeUndefined();
    const { status } = outcome;
    const progress = during
      .map((snapshot) => snapshot.steps.find((step) => step.id === 'fan')?.foreach?.completed)
      .filter((completed): completed is number => completed !== undefined);
    // Answers came while it ran (how far each got depends on the machine's speed: batches may all end together),
    // and the progress they report never goes back.
    expect(during.length).toBeGreaterThan(0);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.every((completed) => completed >= 0 && completed <= ITEMS)).toBe(true);

    const fan = status.steps.find((step) => step.id === 'fan');
    const batches = Math.ceil(ITEMS / DEFAULT_FOREACH_BATCH_SIZE);
    expect(fan).toMatchObject({
      state: 'completed',
      foreach: { total: ITEMS, completed: ITEMS, failed: 0, batches },
    });
    // The 10,000 outputs reach downstream steps complete and in order; the status leaves them out (payload limit).
    expect(fan?.outputs).toBeUndefined();
    expect(fan?.outputsOmitted).toContain(`${ITEMS} items`);
    expect(status.steps.find((step) => step.id === 'total')?.outputs).toEqual({ m: ITEMS + 1 });
    expect(status.steps.find((step) => step.id === 'check')?.outputs).toEqual({ checked: ITEMS });

    // Every workflow's history stays well within Temporal's limit: the parent holds one child per batch, each
    // child one batch of activities.
    const histories = new Client({ connection: historyConnection });
    const parentHistory = await histories.workflow.getHandle(run.workflowId).fetchHistory();
    const parentEvents = parentHistory.events?.length ?? 0;
    const parentBytes = temporal.api.history.v1.History.encode(parentHistory).finish().byteLength;
    const childEvents: number[] = [];
    const children: WorkflowHandle[] = [];
    for (let number = 0; number < batches; number += 1) {
      const child = histories.workflow.getHandle(`${run.workflowId}-fan-batch-${number}`);
      children.push(child);
      childEvents.push((await child.fetchHistory()).events?.length ?? 0);
    }
    expect(parentEvents).toBeLessThan(1_000);
    expect(parentBytes).toBeLessThan(HISTORY_SIZE_LIMIT / 5);
    expect(Math.max(...childEvents)).toBeLessThan(HISTORY_EVENT_LIMIT / 10);
    expect(Math.min(...childEvents)).toBeGreaterThan(3 * DEFAULT_FOREACH_BATCH_SIZE); // the activities are there

    await Worker.runReplayHistory({ workflowBundle }, parentHistory, run.workflowId);
    const [firstChild] = children;
    if (firstChild === undefined) throw new Error('no child workflow to replay');
    await Worker.runReplayHistory({ workflowBundle }, await firstChild.fetchHistory(), firstChild.workflowId);
    console.log(
      `${ITEMS} items in ${seconds.toFixed(1)} s; parent history ${parentEvents} events ` +
        `(${(parentBytes / 1024 / 1024).toFixed(1)} MB), ` +
        `batch children ${Math.min(...childEvents)}-${Math.max(...childEvents)} events; ${during.length} status answers`,
    );
  }, 180_000);
});
