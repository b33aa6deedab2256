/**
 * A pipeline whose artifact store is `s3://` on a real S3-compatible server (s3rver in a child process): built-in and
 * command steps write their outputs there, the cache and the lineage records live there too, a second run is served
 * from the cache, and `mloe lineage` and `mloe logs` read back through S3.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

import { parseS3StoreConfig, s3ClientConfig } from '../activities/artifacts';
import { HOUSING_DATA } from './support/examples';
import { runLineage } from '../clients/lineage';
import { runLogs } from '../clients/logs';
import { startPipeline, waitForPipeline } from '../clients/pipelines';
import type { PipelineRunStatus } from '../workflows/types';
import { type TestEnv } from './devserver/harness';
import { startPipelineTestWorker } from './pipeline-harness';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from './s3-server';

const BUCKET = 'mloe-pipelines';

const SPEC = {
  apiVersion: 'mloe.dev/v1',
  kind: 'Pipeline',
  metadata: { name: 's3-store' },
  steps: {
    ingest: { uses: 'ingest@1', with: { dataPath: HOUSING_DATA } },
    count: {
      needs: ['ingest'],
      run: { command: ['sh', '-c', 'wc -l < "$MLOE_INPUTS_DIR/data" > "$MLOE_OUTPUTS_DIR/lines"; echo counted'] },
      inputs: { data: { type: 'dataset' } },
      outputs: { lines: { type: 'file' } },
      with: { data: '${{ steps.ingest.outputs.dataset }}' },
    },
  },
};

describe('a pipeline on an s3:// artifact store', () => {
  let s3: S3TestServer;
  let env: TestEnv;
  let stopWorker: (() => Promise<void>) | undefined;
  let directory: string;
  let raw: S3Client;
  const taskQueue = `mloe-s3-test-${process.pid}-${Date.now()}`;
  const storeUri = `s3://${BUCKET}/team-a`;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mloe-s3-pipeline-'));
    s3 = await startS3Server({ buckets: [BUCKET] });
    const settings = { endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS };
    raw = new S3Client(s3ClientConfig(parseS3StoreConfig(settings)));
    ({ env, stop: stopWorker } = await startPipelineTestWorker({ taskQueue, artifactStore: { s3: settings } }));
  });

  afterAll(async () => {
    await stopWorker?.();
    raw?.destroy();
    await s3?.stop();
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  async function run(): Promise<{ status: PipelineRunStatus; workflowId: string }> {
    const started = await startPipeline(env.client, {
      spec: SPEC,
      artifactStore: storeUri,
      workingDir: directory,
      taskQueue,
    });
    const outcome = await waitForPipeline(started.handle, { pollIntervalMs: 50 });
    expect(outcome.error).toBeUndefined();
    return { status: outcome.status, workflowId: started.workflowId };
  }

  async function keys(prefix: string): Promise<string[]> {
    const listed = await raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    return (listed.Contents ?? []).map((object) => object.Key ?? '');
  }

  it('stores outputs, cache entries and records in the bucket; a second run hits; lineage and logs read them', async () => {
    const first = await run();
    const lines = first.status.steps.find((step) => step.id === 'count')?.outputs?.lines as { uri: string };
    expect(lines.uri).toMatch(new RegExp(`^s3://${BUCKET}/team-a/sha256/[0-9a-f]{2}/[0-9a-f]{64}$`));
    const body = await raw.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: lines.uri.slice(`s3://${BUCKET}/`.length) }),
    );
    expect((await body.Body?.transformToString())?.trim()).toBe('401'); // header + 400 rows

    expect(await keys('team-a/records/runs/')).toEqual([`team-a/records/runs/${first.workflowId}.json`]);
    expect(await keys(`team-a/records/steps/${first.workflowId}.`)).toHaveLength(2);
    expect((await keys('team-a/records/cache/')).length).toBeGreaterThanOrEqual(4); // 2 entries + 2 pointers

    const second = await run();
    expect(second.status.steps.map((step) => step.cache)).toEqual(['hit', 'hit']);

    const out: string[] = [];
    const io = { stdout: (line: string) => out.push(line), stderr: (line: string) => out.push(`ERR ${line}`) };
    const s3Settings = { endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS };
    expect(await runLineage(second.workflowId, { artifactStore: storeUri, s3: s3Settings }, io)).toBe(0);
    expect(out.join('\n')).toContain(`cache hit from ${first.workflowId}`);

    out.length = 0;
    const config = {
      address: process.env.TEMPORAL_TEST_ADDRESS ?? '',
      namespace: 'default',
      addressOrigin: 'TEMPORAL_ADDRESS' as const,
      s3: s3Settings,
    };
    expect(await runLogs(first.workflowId, 'count', config, io)).toBe(0);
    expect(out.join('\n')).toContain('counted');
  });
});
