/**
 * The "done when" for telemetry, as a user would check it: `mloe demo --serve` with `MLOE_METRICS_ADDRESS`
 * and an OTLP endpoint set; while it serves, the worker's `/metrics` (fetched over HTTP, as `curl` would) has step
 * durations for every step of the demo pipeline, and the trace of the run has a span per step.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { parse } from 'yaml';

import { childEnv, MloeChild } from './support/mloe-child';
import { startOtlpReceiver, type OtlpReceiver } from './support/otlp-receiver';
import { pollUntil } from './support/poll';
import { parseExposition, samplesOf } from './support/prometheus-text';

let directory: string;
let receiver: OtlpReceiver;
let demo: MloeChild | undefined;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'mloe-telemetry-demo-'));
  receiver = await startOtlpReceiver();
});

afterAll(async () => {
  demo?.kill('SIGKILL');
  await demo?.exited;
  await receiver?.close();
  await rm(directory, { recursive: true, force: true });
});

it('mloe demo: /metrics has a duration for every step, and the run trace a span per step', async () => {
  const spec = parse(await readFile(resolve(__dirname, '..', 'pipelines', 'penguins', 'pipeline.yaml'), 'utf8')) as {
    metadata: { name: string };
    steps: Record<string, { promote?: unknown }>;
  };
  // Every step that runs as an activity (a promote step runs in the workflow itself); the first demo in a fresh
  // directory has no champion, so every one of them runs.
  const steps = Object.keys(spec.steps)
    .filter((id) => spec.steps[id]?.promote === undefined)
    .sort();
  demo = new MloeChild(['demo', '--serve', '--no-cache', '--artifact-root', directory], {
    cwd: directory,
    env: childEnv({
      MLOE_METRICS_ADDRESS: '127.0.0.1:0',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '200',
    }),
  });
  const [, url] = await demo.waitForStdout(/worker metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m, 120_000);
  const [, workflowId] = await demo.waitForStdout(/started (\S+) \(pipelines\/penguins\/pipeline\.yaml\)/, 300_000);
  await demo.waitForStdout(/until Ctrl-C; the demo run/, 600_000);

  const response = await fetch(url ?? '');
  expect(response.status).toBe(200);
  const samples = parseExposition(await response.text());
  const timed = samplesOf(samples, 'mloe_step_duration_seconds_count', {
    pipeline: spec.metadata.name,
    outcome: 'completed',
  });
  expect([...new Set(timed.map((sample) => sample.labels.step))].sort()).toEqual(steps);

  const stepSpans = await pollUntil('a span per demo step', () => {
    const found = receiver.spans.filter(
      (span) => span.name.startsWith('step ') && span.attributes.temporalWorkflowId === workflowId,
    );
    return found.length >= steps.length ? found : undefined;
  });
  expect(stepSpans.map((span) => span.attributes['mloe.step']).sort()).toEqual(steps);
  expect(new Set(stepSpans.map((span) => span.traceId)).size).toBe(1);

  demo.kill('SIGINT');
  expect(await demo.exited).toEqual({ code: 0, signal: null });
}, 900_000);
