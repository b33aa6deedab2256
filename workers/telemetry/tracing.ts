/**
 * OpenTelemetry traces of a worker, through Temporal's interceptors (`@temporalio/interceptors-opentelemetry`): the
 * workflow interceptors (bundled into the workflow bundle, `workers/workflow-bundle.ts`) open a `RunWorkflow` span per
 * run and a `StartActivity` span per step, passed to the activity in the task's headers; the activity interceptor
 * opens a `RunActivity` span per attempt under it, and the telemetry observer (`activities/steps/telemetry-observer.ts`)
 * a `step <id>` span inside that. Workflow spans leave the workflow sandbox through the `exporter` sink. Every span
 * goes to the configured exporters (OTLP/HTTP with JSON, or the console) through a batch processor.
 */
import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  makeWorkflowExporter,
  type OpenTelemetrySinks,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';

import type { TracingConfig } from './config';

/** A worker's tracing: the interceptors and sinks to give `Worker.create`, and the provider to flush at the end. */
export interface WorkerTracing {
  activityInterceptors: ActivityInterceptorsFactory[];
  /** The sink the workflow interceptors export their spans through. */
  sinks: InjectedSinks<OpenTelemetrySinks>;
  /** Exports what is buffered and stops the exporters. */
  shutdown(): Promise<void>;
}

/** The exporters `config` names. */
function exportersOf(config: TracingConfig): SpanExporter[] {
  return config.exporters.map((name) =>
    name === 'console'
      ? new ConsoleSpanExporter()
      : new OTLPTraceExporter({
          ...(config.otlpUrl === undefined ? {} : { url: config.otlpUrl }),
          headers: config.headers,
        }),
  );
}

/**
 * Starts tracing as `config` says: registers a Node tracer provider as the process's global one (so the activity
 * interceptor's and mloe's spans reach it, with async context propagation), and returns what the worker needs.
 * `exporters` replaces the configured exporters (tests pass an in-memory one).
 */
export function startTracing(config: TracingConfig, exporters: SpanExporter[] = exportersOf(config)): WorkerTracing {
  const resource = new Resource({
    ...config.resourceAttributes,
    'service.name': config.serviceName,
  });
  const processors: SpanProcessor[] = exporters.map((exporter) => new BatchSpanProcessor(exporter));
  const provider = new NodeTracerProvider({ resource, spanProcessors: processors });
  provider.register();
  return {
    activityInterceptors: [
      (ctx) => ({
        inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
        outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
      }),
    ],
    sinks: { exporter: makeWorkflowExporter(provider.getActiveSpanProcessor(), resource) },
    async shutdown() {
      await provider.shutdown();
      trace.disable();
    },
  };
}
