/**
 * Payload encryption through the embedded stack `mloe dev` runs (dev server, Web UI, client and worker in one
 * process) with `MLOE_CODEC_KEYS` set: the stack's client and worker encrypt, the history holds only ciphertext, and the
 * Web UI's own codec endpoint (its settings name it; served under `/codec`) decodes that history's payloads over HTTP
 * and round-trips what it encodes.
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';

import { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

import { startEmbeddedStack, type EmbeddedStack } from '../clients/embedded-stack';
import { startPipeline, waitForPipeline } from '../clients/pipelines';
import { ENCODING_ENCRYPTED } from '../workers/codec/aes-gcm-codec';
import { codecConfigFromEnv } from '../workers/codec/config';
import { loadWorkflowBundleConfig } from '../workers/config';
import { createPipelineWorker } from '../workers/pipeline-worker';
import { payloadJson, payloadsOf } from './support/payloads';
import { suiteTemporaryDirectories } from './temporary-directories';

jest.setTimeout(180_000);

const MARKER = `ui-marker-${randomBytes(4).toString('hex')}`;
const temporaryDirectory = suiteTemporaryDirectories('mloe-encryption-ui-');

type PayloadJson = { metadata?: Record<string, string>; data?: string };

let stack: EmbeddedStack;
let stopWorker: () => Promise<void> = () => Promise.resolve();

beforeAll(async () => {
  const codec = codecConfigFromEnv({ MLOE_CODEC_KEYS: 'k1=env:KEY', KEY: randomBytes(32).toString('base64') });
  stack = await startEmbeddedStack({
    workflowBundle: loadWorkflowBundleConfig({ env: process.env }),
    ui: { ip: '127.0.0.1', port: 0 },
    ...(codec === undefined ? {} : { codec }),
    createWorker: (connection, workflowBundle) =>
      createPipelineWorker({ connection, workflowBundle, ...(codec === undefined ? {} : { codec }) }),
  });
  let release: () => void = () => undefined;
  const running = stack.runWorkerUntil(new Promise<void>((resolveRun) => (release = resolveRun)));
  stopWorker = async () => {
    release();
    await running;
  };
});

afterAll(async () => {
  await stopWorker();
  await stack?.close();
});

it('the embedded Web UI decodes an encrypted run through its own codec endpoint', async () => {
  const workDir = await temporaryDirectory();
  const script =
    "const fs = require('fs'); const p = require('path'); fs.writeFileSync(p.join(process.env.MLOE_OUTPUTS_DIR, " +
    "'outputs.json'), JSON.stringify({ echoed: process.argv[1] }));";
  const run = await startPipeline(stack.client, {
    artifactRoot: join(workDir, 'artifacts'),
    workingDir: resolve(__dirname, '..'),
    spec: {
      apiVersion: 'mloe.dev/v1',
      kind: 'Pipeline',
      metadata: { name: 'encrypted-ui' },
      params: { secret: { type: 'string', default: MARKER } },
      steps: {
        echo: {
          run: { command: ['node', '-e', script, '${{ inputs.value }}'] },
          inputs: { value: { type: 'string' } },
          outputs: { echoed: { type: 'string' } },
          with: { value: '${{ params.secret }}' },
        },
      },
    },
  });
  const outcome = await waitForPipeline(run.handle, { pollIntervalMs: 200 });
  expect(outcome.error).toBeUndefined();
  expect(outcome.status.steps[0]?.outputs).toEqual({ echoed: MARKER });

  // Raw, through the official client without the codec: ciphertext only.
  const raw = new Client({ connection: stack.connection });
  const history = await raw.workflow.getHandle(run.workflowId).fetchHistory();
  expect(Buffer.from(temporal.api.history.v1.History.encode(history).finish()).includes(MARKER)).toBe(false);
  const payloads = payloadsOf(history);
  expect(new Set(payloads.map((payload) => Buffer.from(payload.metadata?.encoding ?? []).toString()))).toEqual(
    new Set([ENCODING_ENCRYPTED]),
  );

  // The UI's settings name its codec endpoint; the browser would call it with X-Namespace.
  const ui = stack.uiUrl ?? '';
  const settings = (await (await fetch(`${ui}/api/v1/settings`)).json()) as { Codec: { Endpoint: string } };
  expect(settings.Codec.Endpoint).toBe(`${ui}/codec`);
  const post = async (operation: string, body: { payloads: PayloadJson[] }) => {
    const response = await fetch(`${settings.Codec.Endpoint}/${operation}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as { payloads: PayloadJson[] };
  };
  const decoded = await post('decode', { payloads: payloads.map(payloadJson) });
  const texts = decoded.payloads.map((payload) => Buffer.from(payload.data ?? '', 'base64').toString());
  expect(texts.some((text) => text.includes(MARKER))).toBe(true);

  // And round-trips: what the UI encodes (a signal's input, say) decodes back.
  const plain = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: btoa('"from the UI"') };
  const encoded = await post('encode', { payloads: [plain] });
  expect(Buffer.from(encoded.payloads[0]?.metadata?.encoding ?? '', 'base64').toString()).toBe(ENCODING_ENCRYPTED);
  expect(await post('decode', encoded)).toEqual({ payloads: [plain] });
});
