/**
 * `mloe status` links the run's pipeline view when it knows a Web UI: `MLOE_TEMPORAL_UI_URL`, else the embedded UI
 * that a dev server on this machine serves on its gRPC port + 1000, found by asking that port for the UI's settings.
 * Without either, it prints no link. On the jest dev server with a real worker, through the official client.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { BUILTIN_IMPLEMENTATIONS, createStepImplementations } from '../activities/steps';
import { startPipeline, waitForPipeline } from '../clients/pipelines';
import { runStatus } from '../clients/run';
import { pipelineViewUrl, UI_PORT_OFFSET } from '../clients/ui';
import { startUiServer, type UiServerHandle } from '../infra/ui/server';
import { loadConnectionConfig } from '../workers/config';
import { serverAddress } from './devserver/harness';
import { ECHO_STEP } from './fixtures/test-steps';
import { startPipelineTestWorker, type PipelineTestWorker } from './pipeline-harness';

const steps = createStepImplementations(BUILTIN_IMPLEMENTATIONS, [ECHO_STEP]);

describe('mloe status: the pipeline view link', () => {
  let worker: PipelineTestWorker;
  let directory: string;
  let workflowId: string;
  const taskQueue = `mloe-status-link-test-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mloe-status-link-'));
    worker = await startPipelineTestWorker({ taskQueue, steps });
    const run = await startPipeline(worker.env.client, {
      spec: {
        apiVersion: 'mloe.dev/v1',
        kind: 'Pipeline',
        metadata: { name: 'status-link' },
        steps: { say: { uses: 'echo@1', with: { message: 'hello' } } },
      },
      artifactRoot: directory,
      workingDir: resolve(__dirname, '..'),
      taskQueue,
      descriptors: steps.descriptors,
    });
    workflowId = run.workflowId;
    expect((await waitForPipeline(run.handle, { pollIntervalMs: 100 })).status.state).toBe('completed');
  });

  afterAll(async () => {
    await worker?.stop();
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  /** What `mloe status` prints for the run, with `env` (no user's config file: HOME is the test's directory). */
  async function statusLines(env: Record<string, string>): Promise<string[]> {
    const lines: string[] = [];
    const config = loadConnectionConfig({ env: { HOME: directory, TEMPORAL_ADDRESS: serverAddress() } });
    const code = await runStatus(
      workflowId,
      config,
      { stdout: (line) => lines.push(line), stderr: () => undefined },
      env,
    );
    expect(code).toBe(0);
    return lines;
  }

  it('links to the UI that MLOE_TEMPORAL_UI_URL names', async () => {
    const lines = await statusLines({ MLOE_TEMPORAL_UI_URL: 'https://temporal.example.com/' });
    expect(lines).toContain(
      `pipeline view: https://temporal.example.com/mloe/pipelines/?namespace=default&run=${workflowId}`,
    );
  });

  it('finds the embedded UI beside a local dev server, and prints no link when none answers', async () => {
    expect((await statusLines({})).some((line) => line.startsWith('pipeline view:'))).toBe(false);
    const grpcPort = Number(serverAddress().split(':').pop());
    let ui: UiServerHandle | undefined;
    try {
      ui = await startUiServer({ port: grpcPort + UI_PORT_OFFSET });
      expect(await statusLines({})).toContain(`pipeline view: ${pipelineViewUrl(ui.url, 'default', workflowId)}`);
    } finally {
      await ui?.close();
    }
  });
});
