/**
 * A 10,000-item `foreach` on the jest dev server with a real worker: the iterations run over `foreachBatch` children
 * (500 items each), the outputs come back complete and in order, every workflow's history stays far below Temporal's
 * 51,200-event limit, the `status` query answers while the fan-out runs, and the parent's history replays.
 *
 * Each iteration also writes an artifact, and one downstream step receives the 10,000 references as one input. At
 * about 300 bytes a reference the list is ~3 MB, over the 2 MB blob limit the dev server enforces as Temporal does, so
 * it travels as a manifest artifact (docs/pipeline-spec.md); the step must still see every reference, in order, each
 * one verifying against its digest, and its step record must list every element. (One fan-out serves both checks: two
 * 10,000-iteration runs side by side made the suite's slowest minutes on a loaded machine.)
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

import { FileArtifactStore, getText, parseArtifactRef, type ArtifactRef } from '../activities/artifacts';
import { readStepRecord } from '../activities/lineage';
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
  {
    descriptor: {
      name: 'inc-and-emit',
      version: '1',
      inputs: { n: { type: 'integer' } },
      outputs: { m: { type: 'integer' }, file: { type: 'file' } },
    },
    async run(inputs, context) {
      const n = Number(inputs.n);
      const file = await context.store.put(`item ${n}\n`, { type: 'file', metadata: { n } });
      return { outputs: { m: n + 1, file } };
    },
  },
  {
    descriptor: {
      name: 'check-all',
      version: '1',
      inputs: { files: { type: 'list', items: 'file' } },
      outputs: { checked: { type: 'integer' } },
    },
    async run(inputs, context) {
      const files = inputs.files;
      if (!Array.isArray(files)) throw new Error(`files is not a list: ${JSON.stringify(files).slice(0, 200)}`);
      const refs: ArtifactRef[] = files.map((file) => parseArtifactRef(file));
      let intactInOrder = 0;
      // Read back through the store: every read hashes the bytes and fails on a digest mismatch.
      for (let start = 0; start < refs.length; start += 64) {
        const texts = await Promise.all(refs.slice(start, start + 64).map((ref) => getText(context.store, ref)));
        texts.forEach((text, offset) => {
          if (text === `item ${start + offset}\n`) intactInOrder += 1;
        });
      }
      received.push({ length: refs.length, intactInOrder, payloadBytes: JSON.stringify(files).length });
      return { outputs: { checked: intactInOrder } };
    },
  },
];

/** What the consuming step saw: the length of its list, and how many references it read back intact and in order. */
const received: { length: number; intactInOrder: number; payloadBytes: number }[] = [];

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
    // In memory where the system has it: 10,000 artifacts and their step records are 30,000 fsyncs on a disk, which
    // would make this test measure the disk rather than the engine.
    artifactRoot = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'mloe-scale-test-'));
    ({
      env,
      workflowBundle,
      stop: stopWorker,
    } = await startPipelineTestWorker({
      taskQueue,
      steps,
      maxConcurrentActivityTaskExecutions: 64,
    }));
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
            uses: 'inc-and-emit@1',
            needs: ['range'],
            foreach: '${{ steps.range.outputs.items }}',
            maxParallel: 200,
            with: { n: '${{ item }}' },
          },
          total: { uses: 'inc@1', needs: ['fan'], with: { n: '${{ steps.fan.outputs.m.size() }}' } },
          check: { uses: 'in-order@1', needs: ['fan'], with: { values: '${{ steps.fan.outputs.m }}' } },
          checkFiles: { uses: 'check-all@1', needs: ['fan'], with: { files: '${{ steps.fan.outputs.file }}' } },
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

    // The list of 10,000 artifact references reached its step whole, in order and verified, though it is larger than
    // a Temporal payload may be; lineage sees every element (the step record lists 10,000 inputs).
    expect(received).toHaveLength(1);
    const [seen] = received;
    expect(seen).toMatchObject({ length: ITEMS, intactInOrder: ITEMS });
    expect(seen?.payloadBytes ?? 0).toBeGreaterThan(2 * 1024 * 1024);
    expect(status.steps.find((step) => step.id === 'checkFiles')?.outputs).toEqual({ checked: ITEMS });
    const store = FileArtifactStore.inWorkingDirectory(artifactRoot);
    try {
      const record = await readStepRecord(store, run.workflowId, 'checkFiles');
      expect(record?.inputs).toHaveLength(ITEMS);
      const last = await readStepRecord(store, run.workflowId, 'fan', ITEMS - 1);
      expect(record?.inputs[ITEMS - 1]?.digest).toBe(last?.outputs.find((use) => use.port === 'file')?.digest);
      expect(new Set(record?.inputs.map((use) => use.port))).toEqual(new Set(['files']));
    } finally {
      await store.close();
    }

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
    // The 10,000 artifact references pass through the parent twice (the batch children's results and the manifest
    // parts the parent writes), about 3 MB each.
    expect(parentBytes).toBeLessThan(HISTORY_SIZE_LIMIT / 4);
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
    // Alone on a quiet 2-core machine this takes under a minute; beside the other jest worker, which shares the
    // dev server's event loop in the jest parent, it took over three minutes in CI. The timeout is a hang guard, not a
    // speed check (bench/ measures speed).
  }, 600_000);
});
