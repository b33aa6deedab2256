/**
 * mloe's own metrics of step executions, as prom-client instruments in one registry: how long steps take (by pipeline
 * and step), how long they waited in the task queue, what the cache did, retries, failures by error code, and the
 * resources a step used (CPU-seconds, peak memory, GPU-seconds) for capacity planning. The worker serves the registry
 * on its `/metrics` endpoint beside the Temporal SDK's own metrics (`workers/telemetry/metrics-server.ts`).
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The names of mloe's step metrics: the Grafana dashboard (`infra/grafana/`) is tested to use only these and the SDK's. */
export const STEP_METRIC_NAMES = {
  duration: 'mloe_step_duration_seconds',
  queueWait: 'mloe_step_queue_wait_seconds',
  executions: 'mloe_step_executions_total',
  cache: 'mloe_step_cache_lookups_total',
  retries: 'mloe_step_retries_total',
  failures: 'mloe_step_failures_total',
  cpu: 'mloe_step_cpu_seconds_total',
  peakMemory: 'mloe_step_peak_memory_bytes',
  gpu: 'mloe_step_gpu_seconds_total',
} as const;

/** Duration buckets in seconds: from a cache hit (milliseconds) to a long training step (hours). */
const DURATION_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600];
/** Queue wait buckets in seconds: a worker with free slots picks a task up in milliseconds; a busy one, minutes. */
const QUEUE_WAIT_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
/** Peak memory buckets in bytes: 64 MiB to 64 GiB, doubling. */
const MEMORY_BUCKETS = Array.from({ length: 11 }, (_, index) => 64 * 1024 * 1024 * 2 ** index);

/** What one finished step execution reports to {@link StepMetrics.observe}. */
export interface StepObservation {
  pipeline: string;
  step: string;
  /** `completed` or `failed` (cancellations are not observed). */
  outcome: 'completed' | 'failed';
  /** The cache's decision; `unknown` when the step failed before the cache was asked. */
  cache: 'hit' | 'miss' | 'disabled' | 'unknown';
  /** The activity attempt (1 for the first). */
  attempt: number;
  durationSeconds: number;
  /** From the attempt's scheduled time to its start; absent outside an activity. */
  queueWaitSeconds?: number;
  /** The error code (an `MloeError` code or the failure's type) of a failed execution. */
  errorCode?: string;
  /** Whether a failure may be retried (the retry policy decides whether it is). */
  retryable?: boolean;
  cpuSeconds: number;
  peakMemoryBytes: number;
  /** GPUs the step asked for times its duration; 0 for steps without GPUs. */
  gpuSeconds: number;
}

/** The step metrics of one worker process, in their own registry (with the process's default metrics). */
export class StepMetrics {
  /** The registry to serve; holds the step metrics and prom-client's default process metrics. */
  readonly registry: Registry;
  private readonly duration: Histogram<'pipeline' | 'step' | 'outcome' | 'cache'>;
  private readonly queueWait: Histogram<'pipeline' | 'step'>;
  private readonly executions: Counter<'pipeline' | 'step' | 'outcome'>;
  private readonly cache: Counter<'pipeline' | 'step' | 'decision'>;
  private readonly retries: Counter<'pipeline' | 'step'>;
  private readonly failures: Counter<'pipeline' | 'step' | 'code' | 'retryable'>;
  private readonly cpu: Counter<'pipeline' | 'step'>;
  private readonly peakMemory: Histogram<'pipeline' | 'step'>;
  private readonly gpu: Counter<'pipeline' | 'step'>;

  constructor(options: { registry?: Registry; defaultMetrics?: boolean } = {}) {
    this.registry = options.registry ?? new Registry();
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const names = STEP_METRIC_NAMES;
    this.duration = new Histogram({
      name: names.duration,
      help: 'Step execution time (one activity attempt, cache hits included), by pipeline and step',
      labelNames: ['pipeline', 'step', 'outcome', 'cache'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.queueWait = new Histogram({
      name: names.queueWait,
      help: "Time from an attempt's scheduling to its start on a worker (task queue backlog)",
      labelNames: ['pipeline', 'step'],
      buckets: QUEUE_WAIT_BUCKETS,
      registers,
    });
    this.executions = new Counter({
      name: names.executions,
      help: 'Step executions (activity attempts) that ended, by outcome',
      labelNames: ['pipeline', 'step', 'outcome'],
      registers,
    });
    this.cache = new Counter({
      name: names.cache,
      help: 'Cache decisions of step executions (hit, miss, disabled); hit ratio = hit / (hit + miss)',
      labelNames: ['pipeline', 'step', 'decision'],
      registers,
    });
    this.retries = new Counter({
      name: names.retries,
      help: 'Step executions that were retries (attempt > 1)',
      labelNames: ['pipeline', 'step'],
      registers,
    });
    this.failures = new Counter({
      name: names.failures,
      help: 'Failed step executions by error code and retryability',
      labelNames: ['pipeline', 'step', 'code', 'retryable'],
      registers,
    });
    this.cpu = new Counter({
      name: names.cpu,
      help: 'CPU time of the worker process and its child processes while a step ran (shared when steps overlap)',
      labelNames: ['pipeline', 'step'],
      registers,
    });
    this.peakMemory = new Histogram({
      name: names.peakMemory,
      help: 'Peak resident memory of the worker process while a step ran, sampled',
      labelNames: ['pipeline', 'step'],
      buckets: MEMORY_BUCKETS,
      registers,
    });
    this.gpu = new Counter({
      name: names.gpu,
      help: 'GPU-seconds of steps that ask for GPUs (resources.gpu times duration); 0 for the others',
      labelNames: ['pipeline', 'step'],
      registers,
    });
  }

  /** Records one finished execution in every instrument. */
  observe(observation: StepObservation): void {
    const { pipeline, step } = observation;
    const labels = { pipeline, step };
    this.duration.observe(
      { ...labels, outcome: observation.outcome, cache: observation.cache },
      observation.durationSeconds,
    );
    if (observation.queueWaitSeconds !== undefined) this.queueWait.observe(labels, observation.queueWaitSeconds);
    this.executions.inc({ ...labels, outcome: observation.outcome });
    if (observation.cache !== 'unknown') this.cache.inc({ ...labels, decision: observation.cache });
    this.retries.inc(labels, observation.attempt > 1 ? 1 : 0);
    if (observation.outcome === 'failed') {
      this.failures.inc({
        ...labels,
        code: observation.errorCode ?? 'UNKNOWN',
        retryable: String(observation.retryable ?? true),
      });
    }
    this.cpu.inc(labels, observation.cpuSeconds);
    this.peakMemory.observe(labels, observation.peakMemoryBytes);
    this.gpu.inc(labels, observation.gpuSeconds);
  }
}

let shared: StepMetrics | undefined;

/** The process's step metrics (one registry per process, as prom-client's default registry would be). */
export function sharedStepMetrics(): StepMetrics {
  shared ??= new StepMetrics();
  return shared;
}
