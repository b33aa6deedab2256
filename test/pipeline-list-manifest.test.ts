/**
 * A list of 10,000 artifact references handed to one step, on the jest dev server (which enforces Temporal's 2 MB
 * blob limit) with a real worker: a `foreach` of 10,000 iterations each writes an artifact, and one downstream step
 * receives the gathered list as one input. At about 300 bytes a reference the list is ~3 MB, so it travels as a
 * manifest artifact (docs/pipeline-spec.md); the step must still see every reference, in order, each one verifying
 * against its digest, and its step record must list every element.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Client } from '@temporalio/client';

import { getText, parseArtifactRef, type ArtifactRef } from '../activities/artifacts';
import { readStepRecord } from '../activities/lineage';
import {
  BUILTIN_IMPLEMENTATIONS,
  createStepImplementations,
  type StepImplementation,
  type StepImplementations,
} from '../activities/steps';
import { FileArtifactStore } from '../activities/artifacts';
import { startPipeline, waitForPipeline } from '../clients/pipelines';
import { startPipelineTestWorker } from './pipeline-harness';

const ITEMS = 10_000;

/** What the consuming step saw: the length of its list, and how many references it read back intact and in order. */
const received: { length: number; intactInOrder: number; payloadBytes: number }[] = [];

const LIST_STEPS: StepImplementation[] = [
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
      name: 'emit',
      version: '1',
      inputs: { n: { type: 'integer' } },
      outputs: { file: { type: 'file' } },
    },
    async run(inputs, context) {
      const file = await context.store.put(`item ${Number(inputs.n)}\n`, {
        type: 'file',
        metadata: { n: Number(inputs.n) },
      });
      return { outputs: { file } };
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

const steps: StepImplementations = createStepImplementations(BUILTIN_IMPLEMENTATIONS, LIST_STEPS);

describe('a list of 10,000 artifact references as one step input', () => {
  let directory: string;
  let client: Client;
  let stopWorker: (() => Promise<void>) | undefined;
  const taskQueue = `mloe-list-manifest-test-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    // In memory where the system has it: 10,000 artifacts and their step records are 30,000 fsyncs on a disk, which
    // would make this test measure the disk rather than the engine.
    directory = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'mloe-list-manifest-test-'));
    const started = await startPipelineTestWorker({ taskQueue, steps, maxConcurrentActivityTaskExecutions: 64 });
    client = started.env.client;
    stopWorker = started.stop;
  });

  afterAll(async () => {
    await stopWorker?.();
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  it('reaches the step complete, in order and verified, though it is larger than a Temporal payload may be', async () => {
    const started = performance.now();
    const run = await startPipeline(client, {
      artifactRoot: directory,
      workingDir: directory,
      taskQueue,
      descriptors: steps.descriptors,
      noCache: true,
      spec: {
        apiVersion: 'mloe.dev/v1',
        kind: 'Pipeline',
        metadata: { name: 'list-manifest' },
        params: { count: { type: 'integer', default: ITEMS } },
        steps: {
          range: { uses: 'range@1', with: { count: '${{ params.count }}' } },
          fan: {
            uses: 'emit@1',
            needs: ['range'],
            foreach: '${{ steps.range.outputs.items }}',
            maxParallel: 200,
            with: { n: '${{ item }}' },
          },
          check: { uses: 'check-all@1', needs: ['fan'], with: { files: '${{ steps.fan.outputs.file }}' } },
        },
      },
    });
    const outcome = await waitForPipeline(run.handle, { pollIntervalMs: 1_000 });
    const seconds = (performance.now() - started) / 1000;
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.state).toBe('completed');

    // The step saw the whole list, each reference intact and in order; the list is well over the 2 MB blob limit.
    expect(received).toHaveLength(1);
    const [seen] = received;
    expect(seen).toMatchObject({ length: ITEMS, intactInOrder: ITEMS });
    expect(seen?.payloadBytes ?? 0).toBeGreaterThan(2 * 1024 * 1024);
    expect(outcome.status.steps.find((step) => step.id === 'check')?.outputs).toEqual({ checked: ITEMS });

    // Lineage sees every element, in order: the step record lists 10,000 inputs, the digests of the fan-out's outputs.
    const store = FileArtifactStore.inWorkingDirectory(directory);
    try {
      const record = await readStepRecord(store, run.workflowId, 'check');
      expect(record?.inputs).toHaveLength(ITEMS);
      const last = await readStepRecord(store, run.workflowId, 'fan', ITEMS - 1);
      expect(record?.inputs[ITEMS - 1]?.digest).toBe(last?.outputs[0]?.digest);
      expect(new Set(record?.inputs.map((use) => use.port))).toEqual(new Set(['files']));
    } finally {
      await store.close();
    }
    const took = (id: string): string =>
      `${id} ${((outcome.status.steps.find((step) => step.id === id)?.durationMs ?? 0) / 1000).toFixed(1)} s`;
    console.log(
      `${ITEMS} artifact references to one step in ${seconds.toFixed(1)} s (${took('fan')}, ${took('check')})`,
    );
  }, 180_000);
});
