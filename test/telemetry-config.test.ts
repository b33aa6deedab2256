/**
 * Worker telemetry configuration (workers/telemetry/config.ts) with valid and invalid fixtures, the JSON log line
 * shape (workers/telemetry/logger.ts), and the metrics endpoint's merge of mloe's and the SDK's expositions.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Registry } from 'prom-client';

import { ConfigError } from '../core/errors';
import { StepMetrics } from '../activities/telemetry/step-metrics';
import { loadWorkerConfig } from '../workers/config';
import { describeTelemetry, jsonLogLine, startMetricsServer, telemetryConfigFromEnv } from '../workers/telemetry';
import { parseExposition, samplesOf } from './support/prometheus-text';

function problem(env: Record<string, string>, flags = {}): string {
  try {
    telemetryConfigFromEnv(env, flags);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a configuration error');
}

describe('telemetry configuration', () => {
  it('defaults to text logs at warn, no metrics endpoint and no traces', () => {
    expect(telemetryConfigFromEnv({})).toEqual({ log: { level: 'warn', format: 'text' } });
    expect(loadWorkerConfig({ env: {} }).telemetry).toBeUndefined();
  });

  it('reads levels and formats case-insensitively, a metrics address, and --metrics-port over it', () => {
    expect(
      telemetryConfigFromEnv({
        MLOE_LOG_LEVEL: 'DEBUG',
        MLOE_LOG_FORMAT: 'Json',
        MLOE_METRICS_ADDRESS: '0.0.0.0:9464',
      }),
    ).toEqual({ log: { level: 'debug', format: 'json' }, metrics: { host: '0.0.0.0', port: 9464 } });
    expect(telemetryConfigFromEnv({ MLOE_METRICS_ADDRESS: ':9464' }).metrics).toEqual({
      host: '127.0.0.1',
      port: 9464,
    });
    expect(telemetryConfigFromEnv({ MLOE_METRICS_ADDRESS: '0.0.0.0:9464' }, { metricsPort: '9000' }).metrics).toEqual({
      host: '127.0.0.1',
      port: 9000,
    });
    expect(loadWorkerConfig({ env: {}, metricsPort: '0' }).telemetry?.metrics).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it('traces only when configured, with the OTLP endpoint rules of the OpenTelemetry specification', () => {
    expect(telemetryConfigFromEnv({ OTEL_SERVICE_NAME: 'x' }).tracing).toBeUndefined();
    expect(telemetryConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({
      exporters: ['otlp'],
      otlpUrl: 'http://collector:4318/v1/traces',
      headers: {},
      serviceName: 'mloe-worker',
      resourceAttributes: {},
    });
    expect(
      telemetryConfigFromEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/otlp',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=secret%20one,x-team=ml',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-api-key=two',
        OTEL_SERVICE_NAME: 'workers-gpu',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod',
      }).tracing,
    ).toEqual({
      exporters: ['otlp'],
      otlpUrl: 'https://traces.example.com/otlp',
      headers: { 'x-api-key': 'two', 'x-team': 'ml' },
      serviceName: 'workers-gpu',
      resourceAttributes: { 'deployment.environment': 'prod' },
    });
    expect(telemetryConfigFromEnv({ OTEL_TRACES_EXPORTER: 'console' }).tracing?.exporters).toEqual(['console']);
    expect(telemetryConfigFromEnv({ OTEL_TRACES_EXPORTER: 'otlp' }).tracing?.otlpUrl).toBe(
      'http://localhost:4318/v1/traces',
    );
    expect(
      telemetryConfigFromEnv({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).tracing,
    ).toBeUndefined();
    expect(
      telemetryConfigFromEnv({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).tracing,
    ).toBeUndefined();
  });

  it('says which variable is wrong, with the value and a fix; several at once', () => {
    expect(problem({ MLOE_LOG_LEVEL: 'loud' })).toBe(
      'invalid MLOE_LOG_LEVEL="loud": not one of trace, debug, info, warn, error; fix: use one of trace, debug, info, warn, error',
    );
    expect(problem({ MLOE_METRICS_ADDRESS: 'http://x:1' })).toContain(
      'MLOE_METRICS_ADDRESS="http://x:1": not a host:port',
    );
    expect(problem({}, { metricsPort: '70000' })).toBe(
      'invalid --metrics-port "70000": a port is at most 65535; fix: use a port from 0 to 65535',
    );
    expect(problem({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toContain(
      'OTEL_EXPORTER_OTLP_PROTOCOL=grpc: mloe exports traces as OTLP/HTTP with JSON',
    );
    const both = problem({ MLOE_LOG_FORMAT: 'xml', OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' });
    expect(both.split('\n')).toEqual([
      'invalid configuration:',
      '  MLOE_LOG_FORMAT="xml": not one of text, json; fix: use json or text',
      expect.stringMatching(/^ {2}OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318": .*fix: use the base URL/) as unknown,
    ]);
  });

  it('never echoes header values, which hold API keys', () => {
    const message = problem({ OTEL_EXPORTER_OTLP_HEADERS: 'authorization%ZZ=Bearer hunter2' });
    expect(message).toContain('OTEL_EXPORTER_OTLP_HEADERS');
    expect(message).not.toContain('hunter2');
    const config = telemetryConfigFromEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer hunter2',
    });
    expect(describeTelemetry(config)).toBe('logs text at warn, traces to http://c:4318/v1/traces');
  });

  it('a bad telemetry variable is listed with the other worker settings', () => {
    expect(() => loadWorkerConfig({ env: { MLOE_WORKER_CONCURRENCY: '0', MLOE_LOG_FORMAT: 'xml' } })).toThrow(
      /^invalid configuration:\n {2}MLOE_WORKER_CONCURRENCY=.*\n {2}MLOE_LOG_FORMAT="xml"/,
    );
  });
});

describe('JSON log lines', () => {
  it('one object per line: ts, level, msg, then the metadata, with runId for workflowRunId and no task token', () => {
    const line = jsonLogLine(
      'WARN',
      'step failed',
      {
        workflowId: 'wf',
        workflowRunId: 'run-1',
        step: 'train',
        attempt: 2,
        taskToken: 'opaque',
        error: new TypeError('bad'),
        big: 10n,
      },
      new Date('2026-01-02T03:04:05.000Z'),
    );
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(parsed).slice(0, 3)).toEqual(['ts', 'level', 'msg']);
    expect(parsed).toMatchObject({
      ts: '2026-01-02T03:04:05.000Z',
      level: 'warn',
      msg: 'step failed',
      workflowId: 'wf',
      runId: 'run-1',
      step: 'train',
      attempt: 2,
      error: { name: 'TypeError', message: 'bad' },
      big: '10',
    });
    expect(parsed).not.toHaveProperty('taskToken');
    expect(line).not.toContain('\n');
  });
});

describe('the metrics endpoint', () => {
  it("serves mloe's exposition followed by the SDK's, and says so when the SDK's cannot be read", async () => {
    const metrics = new StepMetrics({ registry: new Registry(), defaultMetrics: false });
    metrics.observe({
      pipeline: 'p',
      step: 's',
      outcome: 'completed',
      cache: 'miss',
      attempt: 1,
      durationSeconds: 0.3,
      cpuSeconds: 0.1,
      peakMemoryBytes: 100 * 2 ** 20,
      gpuSeconds: 0,
    });
    const sdk = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('# TYPE temporal_x counter\ntemporal_x 3\n');
    });
    await new Promise<void>((resolve) => sdk.listen(0, '127.0.0.1', resolve));
    const sdkUrl = `http://127.0.0.1:${(sdk.address() as AddressInfo).port}/metrics`;
    const server = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      registry: metrics.registry,
      sdkMetricsUrl: sdkUrl,
    });
    const broken = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      registry: metrics.registry,
      sdkMetricsUrl: 'http://127.0.0.1:1/metrics',
    });
    try {
      const samples = parseExposition(await (await fetch(server.url)).text());
      expect(samplesOf(samples, 'mloe_step_duration_seconds_bucket', { le: '0.5', step: 's' })[0]?.value).toBe(1);
      expect(samplesOf(samples, 'temporal_x')[0]?.value).toBe(3);
      const text = await (await fetch(broken.url)).text();
      expect(text).toMatch(/^# Temporal SDK metrics unavailable: /m);
      expect(samplesOf(parseExposition(text), 'mloe_step_executions_total')[0]?.value).toBe(1);
      const head = await fetch(server.url, { method: 'HEAD' });
      expect([head.status, await head.text()]).toEqual([200, '']);
    } finally {
      await Promise.all([server.close(), broken.close()]);
      await new Promise<void>((resolve) => sdk.close(() => resolve()));
    }
  });
});
