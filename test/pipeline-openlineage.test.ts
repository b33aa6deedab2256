/**
 * OpenLineage events of real pipeline runs on the jest dev server, through the file transport: the pipeline run and
 * every step emit START and COMPLETE (or FAIL with an error message), steps point at their pipeline run as parent,
 * and datasets are the artifacts each step read and wrote, named by digest in the store's namespace.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createLineageEmitter, type LineageEmitter } from '../activities/lineage';
import { HOUSING_DATA } from './support/examples';
import { startPipeline, waitForPipeline } from '../clients/pipelines';
import { type TestEnv } from './devserver/harness';
import { startPipelineTestWorker } from './pipeline-harness';

interface Event {
  eventType: string;
  eventTime: string;
  schemaURL: string;
  producer: string;
  run: { runId: string; facets?: Record<string, Record<string, unknown>> };
  job: { namespace: string; name: string };
  inputs?: { namespace: string; name: string }[];
  outputs?: { namespace: string; name: string }[];
}

const spec = (dataPath: string): Record<string, unknown> => ({
  apiVersion: 'mloe.dev/v1',
  kind: 'Pipeline',
  metadata: { name: 'lineage-events' },
  steps: {
    ingest: { uses: 'ingest@1', with: { dataPath } },
    validate: {
      uses: 'validate@1',
      needs: ['ingest'],
      retry: { maxAttempts: 1 },
      with: {
        dataset: '${{ steps.ingest.outputs.dataset }}',
        columns: ['sqft', 'bedrooms', 'age_years', 'distance_km', 'price_k'],
      },
    },
  },
});

describe('OpenLineage events of pipeline runs', () => {
  let env: TestEnv;
  let stopWorker: (() => Promise<void>) | undefined;
  let directory: string;
  let eventsFile: string;
  let emitter: LineageEmitter;
  const warnings: string[] = [];
  const taskQueue = `mloe-openlineage-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mloe-openlineage-'));
    eventsFile = join(directory, 'events.jsonl');
    emitter = createLineageEmitter(
      { namespace: 'mloe-test', transport: { type: 'file', path: eventsFile } },
      { warn: (message) => warnings.push(message), info: () => undefined },
    );
    ({ env, stop: stopWorker } = await startPipelineTestWorker({ taskQueue, lineage: emitter }));
  });

  afterAll(async () => {
    await stopWorker?.();
    await emitter?.close();
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  async function runAndRead(dataPath: string): Promise<{ workflowId: string; events: Event[]; failed: boolean }> {
    const started = await startPipeline(env.client, { spec: spec(dataPath), artifactRoot: directory, taskQueue });
    const outcome = await waitForPipeline(started.handle, { pollIntervalMs: 50 });
    const text = await readFile(eventsFile, 'utf8');
    return {
      workflowId: started.workflowId,
      events: relevant(text, started.workflowId),
      failed: outcome.error !== undefined,
    };
  }

  /** The events of one mloe run: its pipeline run's and its steps' (whose parent is that run). */
  function relevant(text: string, workflowId: string): Event[] {
    const all = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Event);
    const pipelineRunIds = new Set(
      all
        .filter((event) => event.job.name === 'lineage-events' && JSON.stringify(event).includes(workflowId))
        .map((event) => event.run.runId),
    );
    return all.filter(
      (event) =>
        pipelineRunIds.has(event.run.runId) ||
        pipelineRunIds.has(String((event.run.facets?.parent?.run as { runId?: string } | undefined)?.runId)),
    );
  }

  it('emits START and COMPLETE for the run and each step, with parents and artifact datasets', async () => {
    const { events, failed } = await runAndRead(HOUSING_DATA);
    expect(failed).toBe(false);
    const summary = events.map((event) => `${event.job.name} ${event.eventType}`);
    expect(summary).toEqual(
      expect.arrayContaining([
        'lineage-events START',
        'lineage-events.ingest START',
        'lineage-events.ingest COMPLETE',
        'lineage-events.validate START',
        'lineage-events.validate COMPLETE',
        'lineage-events COMPLETE',
      ]),
    );
    for (const event of events) {
      expect(event.schemaURL).toMatch(/^https:\/\/openlineage\.io\/spec\/2-0-2\/OpenLineage\.json/);
      expect(event.run.runId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(event.job.namespace).toBe('mloe-test');
      expect(Number.isNaN(Date.parse(event.eventTime))).toBe(false);
    }
    const pipelineRun = events.find((event) => event.job.name === 'lineage-events')?.run.runId;
    const ingestDone = events.find((e) => e.job.name === 'lineage-events.ingest' && e.eventType === 'COMPLETE');
    expect((ingestDone?.run.facets?.parent?.run as { runId: string }).runId).toBe(pipelineRun);
    const dataset = ingestDone?.outputs?.[0];
    expect(dataset?.namespace).toMatch(/^file:\/\/.*\/\.mloe\/artifacts$/);
    expect(dataset?.name).toMatch(/sha256:?[0-9a-f]{64}|[0-9a-f]{64}/);
    const validateDone = events.find((e) => e.job.name === 'lineage-events.validate' && e.eventType === 'COMPLETE');
    expect(validateDone?.inputs?.map((input) => input.name)).toContain(dataset?.name);
    expect(warnings).toEqual([]);
  });

  it('emits FAIL with the error message for a failing step and its run', async () => {
    const bad = join(directory, 'bad.csv');
    await writeFile(bad, 'sqft,bedrooms,age_years,distance_km,price_k\n1000,2,10,far,200\n');
    const { events, failed } = await runAndRead(bad);
    expect(failed).toBe(true);
    const stepFail = events.find((e) => e.job.name === 'lineage-events.validate' && e.eventType === 'FAIL');
    expect(JSON.stringify(stepFail?.run.facets?.errorMessage)).toContain('DATA_INVALID');
    expect(events.some((e) => e.job.name === 'lineage-events' && e.eventType === 'FAIL')).toBe(true);
  });
});
