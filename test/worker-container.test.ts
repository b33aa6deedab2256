/**
 * The worker image's entrypoint (bin/docker-entrypoint.js, what infra/docker/Dockerfile runs under tini), run with
 * node as the container would, against the jest dev server, with the image's settings: a pre-built workflow bundle,
 * payload encryption keys from a mounted folder, a long shutdown grace. It connects and runs a pipeline step; on
 * SIGTERM it stops polling, lets the running step finish and exits 0, and a second worker finishes the run. The run's
 * history, read raw through the official client without the codec, holds only ciphertext, and the codec server
 * decodes its payloads over HTTP.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

import { startPipeline, waitForPipeline, type PipelineRun } from '../clients/pipelines';
import { startCodecServer, type CodecServerHandle } from '../infra/codec-server/server';
import { ENCODING_ENCRYPTED } from '../workers/codec/aes-gcm-codec';
import { codecConfigFromEnv, type CodecConfig } from '../workers/codec/config';
import { serverAddress, uniqueQueue } from './devserver/harness';
import { suiteWorkflowBundle } from './pipeline-harness';
import { MloeChild, suiteChildren } from './support/mloe-child';
import { payloadJson, payloadsOf } from './support/payloads';
import { pollUntil } from './support/poll';
import { suiteTemporaryDirectories } from './temporary-directories';

jest.setTimeout(180_000);

const REPO = resolve(__dirname, '..');
const ENTRYPOINT = join(REPO, 'bin', 'docker-entrypoint.js');
const MARKER = `plaintext-marker-${randomBytes(4).toString('hex')}`;
const temporaryDirectory = suiteTemporaryDirectories('mloe-container-');

describe('the worker image entrypoint', () => {
  let workDir: string;
  let env: NodeJS.ProcessEnv;
  const taskQueue = uniqueQueue('container');
  let codec: CodecConfig;
  let connection: Connection;
  let client: Client;
  let rawClient: Client;
  let run: PipelineRun;
  /** Worker processes started through the entrypoint, SIGKILLed after the suite if still running. */
  const start = suiteChildren();
  const startEntrypoint = (environment: NodeJS.ProcessEnv, cwd: string): MloeChild =>
    start([], { env: environment, cwd, script: ENTRYPOINT });
  let codecServer: CodecServerHandle | undefined;

  beforeAll(async () => {
    workDir = await temporaryDirectory();
    const bundlePath = join(workDir, 'workflow-bundle.js');
    await writeFile(bundlePath, (await suiteWorkflowBundle()).code);
    const keysDir = join(workDir, 'codec-keys');
    await mkdir(keysDir);
    await writeFile(join(keysDir, 'k1'), randomBytes(32).toString('base64'));
    await writeFile(join(keysDir, 'k2'), randomBytes(32).toString('base64'));
    env = {
      ...process.env,
      TEMPORAL_ADDRESS: serverAddress(),
      TEMPORAL_NAMESPACE: 'default',
      MLOE_TASK_QUEUE: taskQueue,
      MLOE_WORKFLOW_BUNDLE: bundlePath,
      MLOE_ARTIFACT_STORE: pathToFileURL(join(workDir, 'artifacts')).href,
      MLOE_WORKER_SHUTDOWN_GRACE_SECONDS: '120',
      MLOE_CODEC_KEYS: `dir:${keysDir}`,
      MLOE_CODEC_KEY_ID: 'k2',
    };
    const configured = codecConfigFromEnv(env);
    if (configured === undefined) throw new Error('no codec configured');
    codec = configured;
    connection = await Connection.connect({ address: serverAddress() });
    client = new Client({ connection, dataConverter: { payloadCodecs: [codec.codec] } });
    rawClient = new Client({ connection });
  });

  afterAll(async () => {
    await codecServer?.close();
    await connection?.close();
  });

  it('maps container arguments onto mloe commands: none or flags mean `worker`', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const entry = require(ENTRYPOINT) as { mloeArguments: (args: string[]) => string[] };
    expect(entry.mloeArguments([])).toEqual(['worker']);
    expect(entry.mloeArguments(['--concurrency', '4'])).toEqual(['worker', '--concurrency', '4']);
    expect(entry.mloeArguments(['codec-server', '--port', '8081'])).toEqual(['codec-server', '--port', '8081']);
  });

  it('starts a worker that connects, runs a step, and on SIGTERM lets it finish before exiting 0', async () => {
    const started = join(workDir, 'step-started');
    const slowScript =
      "const fs = require('fs'); const p = require('path'); const [marker, token] = process.argv.slice(1);" +
      "fs.writeFileSync(marker, 'started'); setTimeout(() => fs.writeFileSync(p.join(process.env.MLOE_OUTPUTS_DIR, " +
      "'outputs.json'), JSON.stringify({ token: token + '-done' })), 3000);";
    const echoScript =
      "const fs = require('fs'); const p = require('path'); fs.writeFileSync(p.join(process.env.MLOE_OUTPUTS_DIR, " +
      "'outputs.json'), JSON.stringify({ echoed: process.argv[1] }));";
    const first = startEntrypoint(env, workDir);
    await first.waitForStdout(/pipeline worker ready/, 90_000);
    expect(first.stdout).toContain(`task queue ${taskQueue}`);
    expect(first.stdout).toContain('payloads encrypted with key k2 (+1 for decryption)');

    run = await startPipeline(client, {
      taskQueue,
      workingDir: workDir,
      spec: {
        apiVersion: 'mloe.dev/v1',
        kind: 'Pipeline',
        metadata: { name: 'container-drain' },
        params: { token: { type: 'string', default: MARKER } },
        steps: {
          slow: {
            run: { command: ['node', '-e', slowScript, started, '${{ inputs.token }}'] },
            inputs: { token: { type: 'string' } },
            outputs: { token: { type: 'string' } },
            with: { token: '${{ params.token }}' },
          },
          after: {
            run: { command: ['node', '-e', echoScript, '${{ inputs.value }}'] },
            inputs: { value: { type: 'string' } },
            outputs: { echoed: { type: 'string' } },
            needs: ['slow'],
            with: { value: '${{ steps.slow.outputs.token }}' },
          },
        },
      },
    });
    await pollUntil('the slow step to start', () => existsSync(started), { timeoutMs: 60_000, intervalMs: 100 });

    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(first.stderr).toContain('SIGTERM: stopping the worker (running steps get 120 s to finish)');
    expect(first.stderr).toContain('worker stopped');
    // The step ran to its end during the drain: completed, neither cancelled nor failed.
    const history = await rawClient.workflow.getHandle(run.workflowId).fetchHistory();
    const types = (history.events ?? []).map((event) => event.eventType);
    const { EventType } = temporal.api.enums.v1;
    expect(types).toContain(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
    expect(types).not.toContain(EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED);
    expect(types).not.toContain(EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED);
    expect(types).not.toContain(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  });

  it('a second worker finishes the run; its status reads back through the codec', async () => {
    const second = startEntrypoint(env, workDir);
    const outcome = await waitForPipeline(run.handle, { pollIntervalMs: 200 });
    expect(outcome.error).toBeUndefined();
    const after = outcome.status.steps.find((step) => step.id === 'after');
    expect(after?.outputs).toEqual({ echoed: `${MARKER}-done` });
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('leaves only ciphertext in the history, which the codec server decodes over HTTP', async () => {
    const history = await rawClient.workflow.getHandle(run.workflowId).fetchHistory();
    const bytes = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
    expect(bytes.includes(MARKER)).toBe(false);
    const payloads = payloadsOf(history);
    expect(payloads.length).toBeGreaterThan(5);
    const encodings = new Set(payloads.map((payload) => Buffer.from(payload.metadata?.encoding ?? []).toString()));
    expect([...encodings]).toEqual([ENCODING_ENCRYPTED]);

    codecServer = await startCodecServer({ port: 0, codec: codec.codec, corsOrigins: ['http://localhost:8233'] });
    const response = await fetch(`${codecServer.url}/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', Origin: 'http://localhost:8233' },
      body: JSON.stringify({ payloads: payloads.map(payloadJson) }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
    const decoded = (await response.json()) as { payloads: { metadata: Record<string, string>; data?: string }[] };
    expect(decoded.payloads).toHaveLength(payloads.length);
    const texts = decoded.payloads.map((payload) => Buffer.from(payload.data ?? '', 'base64').toString());
    expect(texts.some((text) => text.includes(MARKER))).toBe(true);
    expect(
      decoded.payloads.every(
        (payload) => Buffer.from(payload.metadata.encoding ?? '', 'base64').toString() !== ENCODING_ENCRYPTED,
      ),
    ).toBe(true);
  });

  it('refuses to start a worker without a workflow bundle, saying how to get one', async () => {
    const { MLOE_WORKFLOW_BUNDLE: _unused, ...withoutBundle } = env;
    const entry = startEntrypoint(withoutBundle, workDir);
    const distBundle = join(REPO, 'dist', 'workflow-bundle.js');
    if (existsSync(distBundle)) {
      // A checkout with a built bundle runs it: nothing to refuse here.
      await entry.stop('SIGTERM');
      return;
    }
    expect(await entry.exited).toEqual({ code: 1, signal: null });
    expect(entry.stderr).toMatch(/no workflow bundle: .*dist\/workflow-bundle\.js is missing/);
  });
});
