/**
 * Worker telemetry end to end: `mloe worker` (bin/mloe.js, a child process with its own Temporal SDK Runtime) on the
 * jest dev server, with `--metrics-port 0`, JSON logs and traces to an in-test OTLP/HTTP receiver. Small pipelines run
 * through it (one twice, for cache hits; one whose step fails twice with a code); then its `/metrics` is scraped over
 * HTTP, the receiver's spans are grouped by trace, and its stderr is read line by line.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { startPipeline, waitForPipeline, type PipelineRun } from '../clients/pipelines';
import { loadWorkflowBundleConfig } from '../workers/config';
import { cachedWorkflowBundle } from '../workers/workflow-bundle';
import { connect, serverAddress, type TestEnv } from './devserver/harness';
import { childEnv, MloeChild } from './support/mloe-child';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver';
import { metricNames, parseExposition, samplesOf, type Sample } from './support/prometheus-text';
import { pollUntil } from './support/poll';
import { replayAll } from './support/replay';

const okName = `telemetry-ok-${randomUUID().slice(0, 8)}`;
const failName = `telemetry-fail-${randomUUID().slice(0, 8)}`;
const taskQueue = `mloe-telemetry-${randomUUID()}`;

const OK_STEPS = {
  prepare: { run: { command: ['sh', '-c', 'echo prepared'] } },
  train: { needs: ['prepare'], run: { command: ['sh', '-c', 'echo trained'] } },
};
const FAIL_STEPS = {
  boom: {
    run: { command: ['sh', '-c', 'echo bad >&2; exit 3'] },
    retry: { maxAttempts: 2, initialInterval: '100ms' },
  },
};

function spec(name: string, steps: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'mloe.dev/v1', kind: 'Pipeline', metadata: { name }, steps };
}

let directory: string;
let receiver: OtlpReceiver;
let worker: MloeChild;
let env: TestEnv;
let metricsUrl: string;
const runs: { first?: PipelineRun; second?: PipelineRun; failing?: PipelineRun } = {};

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'mloe-telemetry-'));
  receiver = await startOtlpReceiver();
  env = await connect();
  worker = new MloeChild(['worker', '--task-queue', taskQueue, '--concurrency', '2', '--metrics-port', '0'], {
    cwd: directory,
    env: childEnv({
      TEMPORAL_ADDRESS: serverAddress(),
      MLOE_ARTIFACT_STORE: `file://${join(directory, 'artifacts')}`,
      MLOE_LOG_FORMAT: 'json',
      MLOE_LOG_LEVEL: 'info',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_SERVICE_NAME: 'mloe-telemetry-test',
      // The batch span processor's own variable: export every 200 ms instead of 5 s.
      OTEL_BSP_SCHEDULE_DELAY: '200',
    }),
  });
  const [, url] = await worker.waitForStdout(/^metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m, 120_000);
  metricsUrl = url ?? '';
  await worker.waitForStdout(/^pipeline worker ready: .*$/m, 180_000);

  const start = (name: string, steps: Record<string, unknown>) =>
    startPipeline(env.client, { spec: spec(name, steps), taskQueue, workingDir: directory });
  runs.first = await start(okName, OK_STEPS);
  expect((await waitForPipeline(runs.first.handle, { pollIntervalMs: 100 })).status.state).toBe('completed');
  runs.second = await start(okName, OK_STEPS);
  expect((await waitForPipeline(runs.second.handle, { pollIntervalMs: 100 })).status.state).toBe('completed');
  runs.failing = await start(failName, FAIL_STEPS);
  expect((await waitForPipeline(runs.failing.handle, { pollIntervalMs: 100 })).status.state).toBe('failed');
}, 300_000);

afterAll(async () => {
  worker?.kill('SIGKILL');
  await worker?.exited;
  await env?.close();
  await receiver?.close();
  if (directory !== undefined) await rm(directory, { recursive: true, force: true });
});

async function scrape(): Promise<{ text: string; samples: Sample[]; contentType: string | null }> {
  const response = await fetch(metricsUrl);
  expect(response.status).toBe(200);
  const text = await response.text();
  return { text, samples: parseExposition(text), contentType: response.headers.get('content-type') };
}

describe('the worker /metrics endpoint', () => {
  it('has a step duration sample for every step of every run, by pipeline, step, outcome and cache decision', async () => {
    const { samples, contentType } = await scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const count = (labels: Record<string, string>) =>
      samplesOf(samples, 'mloe_step_duration_seconds_count', labels).reduce((sum, sample) => sum + sample.value, 0);
    for (const step of ['prepare', 'train']) {
      expect(count({ pipeline: okName, step, outcome: 'completed', cache: 'miss' })).toBe(1);
      expect(count({ pipeline: okName, step, outcome: 'completed', cache: 'hit' })).toBe(1);
      expect(samplesOf(samples, 'mloe_step_queue_wait_seconds_count', { pipeline: okName, step })[0]?.value).toBe(2);
      expect(samplesOf(samples, 'mloe_step_cpu_seconds_total', { pipeline: okName, step })[0]?.value).toBeGreaterThan(
        0,
      );
      expect(
        samplesOf(samples, 'mloe_step_peak_memory_bytes_sum', { pipeline: okName, step })[0]?.value,
      ).toBeGreaterThan(10 * 2 ** 20);
      expect(samplesOf(samples, 'mloe_step_gpu_seconds_total', { pipeline: okName, step })[0]?.value).toBe(0);
    }
    expect(count({ pipeline: failName, step: 'boom', outcome: 'failed' })).toBe(2);
  });

  it('counts cache hits and misses, so the hit ratio is 1/2 for each step run twice', async () => {
    const { samples } = await scrape();
    for (const step of ['prepare', 'train']) {
      const decision = (value: string) =>
        samplesOf(samples, 'mloe_step_cache_lookups_total', { pipeline: okName, step, decision: value })[0]?.value;
      expect([decision('hit'), decision('miss')]).toEqual([1, 1]);
    }
  });

  it('counts failures by error code and retries', async () => {
    const { samples } = await scrape();
    const failures = samplesOf(samples, 'mloe_step_failures_total', { pipeline: failName, step: 'boom' });
    expect(failures.map((sample) => [sample.labels.code, sample.labels.retryable, sample.value])).toEqual([
      ['STEP_COMMAND_FAILED', 'true', 2],
    ]);
    expect(samplesOf(samples, 'mloe_step_retries_total', { pipeline: failName, step: 'boom' })[0]?.value).toBe(1);
    expect(samplesOf(samples, 'mloe_step_retries_total', { pipeline: okName, step: 'prepare' })[0]?.value).toBe(0);
  });

  it("serves the Temporal SDK's own metrics on the same endpoint", async () => {
    const { samples } = await scrape();
    const sdk = new Set(samples.map((sample) => sample.name).filter((name) => name.startsWith('temporal_')));
    expect([...sdk].some((name) => name.startsWith('temporal_activity_execution_latency'))).toBe(true);
    expect([...sdk].some((name) => name.startsWith('temporal_workflow_completed'))).toBe(true);
    expect(samples.some((sample) => sample.name === 'process_cpu_seconds_total')).toBe(true);
  });

  it('answers 404 elsewhere and 405 to other methods', async () => {
    expect((await fetch(metricsUrl.replace('/metrics', '/'))).status).toBe(404);
    expect((await fetch(metricsUrl, { method: 'POST', body: 'x' })).status).toBe(405);
  });
});

/** What the test reads of a Grafana dashboard. */
interface Dashboard {
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
  panels: { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string }[] }[];
}

describe('the example Grafana dashboard (infra/grafana/mloe-workers.json)', () => {
  const dashboard = JSON.parse(
    readFileSync(resolve(__dirname, '..', 'infra', 'grafana', 'mloe-workers.json'), 'utf8'),
  ) as Dashboard;
  const queries = [
    ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)),
    ...dashboard.templating.list.flatMap((variable) =>
      variable.type === 'query' && variable.query !== undefined
        ? [typeof variable.query === 'string' ? variable.query : variable.query.query]
        : [],
    ),
  ];

  it("queries only metrics that a worker's /metrics serves after a run", async () => {
    const referenced = new Set(
      queries.flatMap((query) =>
        [...query.matchAll(/\b(?:mloe|temporal|process|nodejs)_[A-Za-z0-9_:]*/g)].map((m) => m[0]),
      ),
    );
    expect(referenced.size).toBeGreaterThanOrEqual(14);
    const served = metricNames((await scrape()).text);
    expect([...referenced].filter((name) => !served.has(name))).toEqual([]);
  });

  it('every graph reads the Prometheus chosen in the datasource variable', () => {
    const graphs = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(graphs.length).toBeGreaterThanOrEqual(14);
    for (const panel of graphs) {
      expect([panel.title, panel.datasource?.uid, (panel.targets ?? []).length > 0]).toEqual([
        panel.title,
        '${datasource}',
        true,
      ]);
    }
  });
});

/** The spans of the trace the run's step spans are in, after waiting for the run's step spans to arrive. */
async function traceOf(run: PipelineRun, stepSpans: number): Promise<ReceivedSpan[]> {
  const steps = await pollUntil(`${stepSpans} step spans of ${run.workflowId}`, () => {
    const found = receiver.spans.filter(
      (span) => span.name.startsWith('step ') && span.attributes.temporalWorkflowId === run.workflowId,
    );
    return found.length >= stepSpans ? found : undefined;
  });
  const traceIds = new Set(steps.map((span) => span.traceId));
  expect(traceIds.size).toBe(1);
  const [traceId] = traceIds;
  return pollUntil(`the workflow span of ${run.workflowId}`, () => {
    const spans = receiver.spans.filter((span) => span.traceId === traceId);
    return spans.some((span) => span.name === 'RunWorkflow:runPipeline') ? spans : undefined;
  });
}

describe('OpenTelemetry traces', () => {
  it('one trace per run: the workflow span, a span per step scheduled, per attempt, and per step execution', async () => {
    expect(receiver.rejected).toEqual([]);
    const spans = await traceOf(runs.first!, 2);
    const names = spans.map((span) => span.name).sort();
    expect(names).toEqual(
      expect.arrayContaining([
        'RunWorkflow:runPipeline',
        'StartActivity:runStep',
        'RunActivity:runStep',
        'step prepare',
        'step train',
      ]),
    );
    expect(names.filter((name) => name === 'RunActivity:runStep').length).toBeGreaterThanOrEqual(2);
    expect(new Set(spans.map((span) => span.service))).toEqual(new Set(['mloe-telemetry-test']));
    // Each step span is inside its attempt's activity span, which is inside the span that scheduled it.
    const byId = new Map(spans.map((span) => [span.spanId, span]));
    for (const step of spans.filter((span) => span.name.startsWith('step '))) {
      const attempt = byId.get(step.parentSpanId ?? '');
      expect(attempt?.name).toBe('RunActivity:runStep');
      expect(byId.get(attempt?.parentSpanId ?? '')?.name).toBe('StartActivity:runStep');
      expect(step.attributes).toMatchObject({
        'mloe.pipeline': okName,
        'mloe.step.attempt': 1,
        'mloe.step.cache': 'miss',
      });
    }
    // The second run is a trace of its own.
    const second = await traceOf(runs.second!, 2);
    expect(second[0]?.traceId).not.toBe(spans[0]?.traceId);
    expect(
      second.filter((span) => span.name.startsWith('step ')).map((span) => span.attributes['mloe.step.cache']),
    ).toEqual(['hit', 'hit']);
  });

  it('a step that is retried has a span per attempt, in the run trace, with its error code', async () => {
    const spans = await traceOf(runs.failing!, 2);
    const attempts = spans
      .filter((span) => span.name === 'step boom')
      .map((span) => [span.attributes['mloe.step.attempt'], span.attributes['mloe.error.code']])
      .sort();
    expect(attempts).toEqual([
      [1, 'STEP_COMMAND_FAILED'],
      [2, 'STEP_COMMAND_FAILED'],
    ]);
  });
});

describe('determinism of traced runs', () => {
  it('a traced run records that it is (an SDK flag) and replays against the tracing bundle', async () => {
    const handles = [runs.first!.handle, runs.second!.handle, runs.failing!.handle];
    for (const handle of handles) {
      const history = await handle.fetchHistory();
      const first = history.events?.find((event) => event.workflowTaskCompletedEventAttributes != null);
      // OpenTelemetryInterceptorsInstrumentsAllMethods (6): workflows/tracing-interceptors.ts turns tracing on with it.
      expect(first?.workflowTaskCompletedEventAttributes?.sdkMetadata?.langUsedFlags).toContain(6);
    }
    const { cacheDir } = loadWorkflowBundleConfig({ env: process.env });
    const { code } = await cachedWorkflowBundle({ cacheDir, tracing: true });
    await replayAll({ code }, handles);
  }, 300_000);
});

describe('JSON logs', () => {
  it('every line on stderr is a JSON object; step lines carry workflowId, runId, step and attempt', async () => {
    const lines = await pollUntil('the log lines of the failing run', () => {
      const parsed = worker.stderr
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      return parsed.some((line) => line.msg === 'step failed' && line.attempt === 2) ? parsed : undefined;
    });
    for (const line of lines) {
      expect([typeof line.ts, typeof line.level, typeof line.msg]).toEqual(['string', 'string', 'string']);
    }
    const completed = lines.filter(
      (line) => line.msg === 'step completed' && line.workflowId === runs.first!.workflowId,
    );
    expect(completed.map((line) => line.step).sort()).toEqual(['prepare', 'train']);
    for (const line of completed) {
      expect(line).toMatchObject({
        level: 'info',
        workflowId: runs.first!.workflowId,
        runId: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
        pipeline: okName,
        attempt: 1,
        cache: 'miss',
        durationMs: expect.any(Number) as unknown,
      });
      expect(line).not.toHaveProperty('taskToken');
    }
    const failed = lines.filter((line) => line.msg === 'step failed' && line.workflowId === runs.failing!.workflowId);
    expect(failed.map((line) => [line.step, line.attempt, line.errorCode, line.level])).toEqual([
      ['boom', 1, 'STEP_COMMAND_FAILED', 'warn'],
      ['boom', 2, 'STEP_COMMAND_FAILED', 'warn'],
    ]);
  });
});
