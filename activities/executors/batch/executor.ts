/**
 * The AWS Batch executor: one Batch job per attempt, submitted to the step's `batch.jobQueue` with its
 * `batch.jobDefinition`, polled with `DescribeJobs` (heartbeating the status), its CloudWatch log stream read into the
 * step's logs, its status reason mapped to step errors, `TerminateJob` on cancel.
 *
 * Exactly one job per attempt: job names are deterministic (`../kubernetes/names.ts`), so before submitting, an attempt
 * looks up (`ListJobs`, `JOB_NAME` filter) the names of this attempt and of every earlier one and attaches to a job that
 * has not failed: a retry after a worker crash follows the job already running.
 *
 * Batch has no init containers: the container command is a `sh -c` wrapper that stages inputs in, runs the step's
 * argv, stages outputs out (`../staging.ts`) and exits with the command's code, so the job definition's image needs
 * `sh`, `curl` and `sha256sum`. The image is the job definition's (Batch cannot override it per job).
 * Credentials and region come from the AWS SDK's default chain.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  BatchClient,
  DescribeJobDefinitionsCommand,
  DescribeJobQueuesCommand,
  DescribeJobsCommand,
  ListJobsCommand,
  SubmitJobCommand,
  TerminateJobCommand,
  type JobDefinition,
  type JobDetail,
  type JobStatus,
  type ResourceRequirement,
} from '@aws-sdk/client-batch';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { z } from 'zod';

import { ConfigError, MloeError, ensureError } from '../../../core/errors';
import { parseCpu, parseMemory, type ResourcesSpec } from '../../../core/spec';
import type { CommandStepResult } from '../../runner';
import { checkRequest } from '../../runner/contract';
import { isWorkerShutdown, type CommandExecutor, type ExecutionContext, type RemoteCommandRequest } from '../contract';
import {
  jobName,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  EXECUTION_LABEL,
  TEMPORAL_NAMESPACE_ANNOTATION,
  WORKFLOW_ANNOTATION,
  executionHash,
} from '../kubernetes/names';
import type { ManagedJob } from '../sweep';
import { pause } from '../pause';
import { planStaging, removeStaging, requireS3Store, stagedStepResult, waitForStagedManifest } from '../staging';

/** The Batch executor's settings. */
export const batchExecutorConfigSchema = z.strictObject({
  /** The AWS region; the SDK's default chain when absent. */
  region: z
    .string()
    .regex(/^[a-z0-9-]+$/)
    .optional(),
  /** A Batch-compatible endpoint (tests); AWS when absent. */
  endpoint: z.url().optional(),
  /** A CloudWatch Logs-compatible endpoint (tests); AWS when absent. */
  logsEndpoint: z.url().optional(),
  /** Static credentials (tests only); the SDK's default chain when absent. */
  credentials: z.strictObject({ accessKeyId: z.string(), secretAccessKey: z.string() }).optional(),
  /** The log group of the job definition's `awslogs` driver. */
  logGroup: z.string().min(1).default('/aws/batch/job'),
  /** Between two DescribeJobs calls, in ms. */
  pollIntervalMs: z.int().min(10).default(5_000),
  manifestWaitMs: z.int().min(0).default(30_000),
  /** The Temporal namespace of the worker's runs, tagged on every job for the orphan sweep (`../sweep.ts`). */
  temporalNamespace: z.string().min(1).default('default'),
  /** The job queues the orphan sweep looks in; every queue of the region (`DescribeJobQueues`) when absent. */
  sweepJobQueues: z.array(z.string().min(1)).optional(),
});
export type BatchExecutorConfigInput = z.input<typeof batchExecutorConfigSchema>;
export type BatchExecutorConfig = z.output<typeof batchExecutorConfigSchema>;

const LOG_TAIL_LINES = 20;
/** The statuses of a Batch job that has not finished (`ListJobs` lists one status per call). */
const UNFINISHED: readonly JobStatus[] = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING'];
/** `DescribeJobs` takes at most this many ids. */
const DESCRIBE_BATCH = 100;
/** Batch refuses attempt timeouts under a minute. */
const MIN_TIMEOUT_SECONDS = 60;

/** `resources` as Batch `resourceRequirements`: VCPU, MEMORY (MiB), GPU. */
export function batchResourceRequirements(resources: ResourcesSpec | undefined): ResourceRequirement[] {
  const requirements: ResourceRequirement[] = [];
  const cpu = resources?.cpu === undefined ? undefined : parseCpu(resources.cpu);
  if (cpu !== undefined) requirements.push({ type: 'VCPU', value: String(cpu) });
  const memory = resources?.memory === undefined ? undefined : parseMemory(resources.memory);
  if (memory !== undefined) requirements.push({ type: 'MEMORY', value: String(Math.ceil(memory / 2 ** 20)) });
  if (resources?.gpu !== undefined && resources.gpu > 0)
    requirements.push({ type: 'GPU', value: String(resources.gpu) });
  return requirements;
}

/** An AWS error as `EXECUTOR_FAILED`: client errors are final, the rest retryable. */
function awsError(what: string, error: unknown): MloeError {
  const name = (error as { name?: string }).name ?? '';
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const retryable = name !== 'ClientException' && (status === undefined || status >= 500 || status === 429);
  return new MloeError('EXECUTOR_FAILED', `AWS Batch: ${what} failed (${name}: ${ensureError(error).message})`, {
    retryable,
    cause: error,
  });
}

/** The step error of a failed job, from its status reason and its container's. */
export function batchFailure(job: JobDetail, step: string, tail: string): MloeError {
  const reason = job.container?.reason ?? '';
  const status = job.statusReason ?? '';
  const name = job.jobName ?? '';
  const logTail = tail === '' ? '(the log was empty)' : `last lines of its log:\n${tail}`;
  if (/CannotPullContainerError|CannotInspectContainerError/.test(`${reason} ${status}`)) {
    return new MloeError(
      'STEP_IMAGE_PULL_FAILED',
      `step ${step}: the image of job definition ${job.jobDefinition ?? ''} cannot be pulled (${reason || status}) (job ${name})`,
      { retryable: false },
    );
  }
  if (/ResourceInitializationError/.test(status) && /secret/i.test(status)) {
    return new MloeError(
      'SECRET_NOT_FOUND',
      `step ${step}: job ${name} could not get the secrets of job definition ${job.jobDefinition ?? ''} (${status}); ` +
        "check that each exists and that the job definition's executionRoleArn may read it",
      { retryable: false },
    );
  }
  if (/OutOfMemoryError/.test(reason)) {
    return new MloeError(
      'STEP_OUT_OF_MEMORY',
      `step ${step}: the container was killed for exceeding its memory (${reason}); raise resources.memory (job ${name}); ${logTail}`,
      { retryable: false },
    );
  }
  if (/^Host EC2 .* terminated|Spot|ECS container instance|Task failed to start/i.test(status)) {
    return new MloeError(
      'STEP_INFRASTRUCTURE_FAILED',
      `step ${step}: job ${name} lost its host (${status}); a retry runs it again`,
      { retryable: true },
    );
  }
  if (/duration exceeded timeout/i.test(status)) {
    return new MloeError(
      'STEP_DEADLINE_EXCEEDED',
      `step ${step}: job ${name} ran longer than its timeout (${status}); ${logTail}`,
      { retryable: true },
    );
  }
  const code = job.container?.exitCode;
  return new MloeError(
    'STEP_COMMAND_FAILED',
    `step ${step}: job ${name} failed${code === undefined ? '' : `, the command exited with code ${code}`} (${status || 'no reason'}); ${logTail}`,
    { retryable: true },
  );
}

/** The name of an SSM parameter from its name or ARN, without the leading `/`. */
function ssmName(reference: string): string {
  const arn = /^arn:[^:]+:ssm:[^:]*:[^:]*:parameter\/(.*)$/.exec(reference);
  return (arn?.[1] ?? reference).replace(/^\/+/, '');
}

/** Whether a job definition's `valueFrom` is the secret a step's reference names. */
function sameSecret(ref: { kind: 'aws-sm' | 'ssm'; valueFrom: string }, valueFrom: string): boolean {
  return ref.kind === 'ssm' ? ssmName(ref.valueFrom) === ssmName(valueFrom) : ref.valueFrom === valueFrom;
}

/** Runs command steps as AWS Batch jobs. */
export class BatchExecutor implements CommandExecutor {
  readonly kind = 'batch' as const;
  readonly config: BatchExecutorConfig;
  private readonly batch: BatchClient;
  private readonly logs: CloudWatchLogsClient;

  constructor(input: BatchExecutorConfigInput = {}) {
    const parsed = batchExecutorConfigSchema.safeParse(input);
    if (!parsed.success)
      throw new ConfigError(
        `invalid AWS Batch executor settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    this.config = parsed.data;
    const common = {
      ...(this.config.region === undefined ? {} : { region: this.config.region }),
      ...(this.config.credentials === undefined ? {} : { credentials: this.config.credentials }),
    };
    this.batch = new BatchClient({
      ...common,
      ...(this.config.endpoint === undefined ? {} : { endpoint: this.config.endpoint }),
    });
    this.logs = new CloudWatchLogsClient({
      ...common,
      ...(this.config.logsEndpoint === undefined ? {} : { endpoint: this.config.logsEndpoint }),
    });
  }

  async run(request: RemoteCommandRequest, context: ExecutionContext): Promise<CommandStepResult> {
    checkRequest(request);
    const started = performance.now();
    const store = requireS3Store(context.store, 'batch');
    const jobQueue = request.placement.batch?.jobQueue;
    const jobDefinition = request.placement.batch?.jobDefinition;
    if (jobQueue === undefined || jobDefinition === undefined) {
      throw new MloeError(
        'STEP_COMMAND_INVALID',
        `step ${request.stepId} runs on the batch executor without batch.jobQueue and batch.jobDefinition`,
        { retryable: false },
      );
    }
    const label = request.index === undefined ? request.stepId : `${request.stepId}[${request.index}]`;
    const { jobId, name, createdByAttempt } = await this.submitOrAttach(
      request,
      context,
      jobQueue,
      jobDefinition,
      store,
    );
    let lastStatus = '';
    let job: JobDetail | undefined;
    for (;;) {
      if (context.signal.aborted) {
        if (!isWorkerShutdown(context.signal)) {
          await this.batch
            .send(new TerminateJobCommand({ jobId, reason: 'Terminated by mloe: the step was cancelled' }))
            .catch(() => undefined);
          await removeStaging(store, request, name);
        }
        throw ensureError(context.signal.reason);
      }
      const described = await this.batch.send(new DescribeJobsCommand({ jobs: [jobId] })).catch((error: unknown) => {
        throw awsError(`describing job ${name}`, error);
      });
      job = described.jobs?.[0];
      if (job === undefined)
        throw new MloeError('STEP_INFRASTRUCTURE_FAILED', `step ${label}: job ${name} (${jobId}) is gone`, {
          retryable: true,
        });
      const status = job.status ?? 'SUBMITTED';
      if (status !== lastStatus) {
        lastStatus = status;
        context.progress({ executor: 'batch', job: name, where: jobQueue, phase: status, createdByAttempt });
      }
      if (status === 'SUCCEEDED' || status === 'FAILED') break;
      await pause(this.config.pollIntervalMs, context.signal);
    }
    const directory = await mkdtemp(join(tmpdir(), 'mloe-batch-log-'));
    try {
      const logPath = join(directory, 'main.log');
      await writeFile(logPath, await this.readLog(job.container?.logStreamName));
      if (job.status === 'FAILED') {
        const text = await readFile(logPath, 'utf8');
        throw batchFailure(job, label, text.replace(/\s+$/, '').split('\n').slice(-LOG_TAIL_LINES).join('\n'));
      }
      const manifest = await waitForStagedManifest(store, name, {
        waitMs: this.config.manifestWaitMs,
        intervalMs: Math.min(this.config.pollIntervalMs, 500),
      });
      if (manifest === undefined || manifest === 'cancelled') {
        throw new MloeError(
          'STEP_STAGING_FAILED',
          `step ${label}: job ${name} succeeded but its outputs were not uploaded (no manifest)`,
          { retryable: true },
        );
      }
      return await stagedStepResult(store, request, name, manifest, { path: logPath, startedAt: started });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }

  /** Attaches to a job of this or an earlier attempt that has not failed, or submits this attempt's job. */
  private async submitOrAttach(
    request: RemoteCommandRequest,
    context: ExecutionContext,
    jobQueue: string,
    jobDefinition: string,
    store: ReturnType<typeof requireS3Store>,
  ): Promise<{ jobId: string; name: string; createdByAttempt: number }> {
    for (let attempt = context.attempt; attempt >= 1; attempt--) {
      const candidate = jobName(request, attempt);
      const listed = await this.batch
        .send(new ListJobsCommand({ jobQueue, filters: [{ name: 'JOB_NAME', values: [candidate] }] }))
        .catch((error: unknown) => {
          throw awsError(`listing jobs named ${candidate}`, error);
        });
      const alive = (listed.jobSummaryList ?? []).find(
        (summary) => summary.status !== 'FAILED' && summary.jobId !== undefined,
      );
      if (alive?.jobId !== undefined) return { jobId: alive.jobId, name: candidate, createdByAttempt: attempt };
    }
    const name = jobName(request, context.attempt);
    context.progress({
      executor: 'batch',
      job: name,
      where: jobQueue,
      phase: 'Submitting',
      createdByAttempt: context.attempt,
    });
    await this.checkJobDefinition(request, jobDefinition);
    const expires = context.timeoutMs === undefined ? 24 * 3600 : context.timeoutMs / 1000 + 3600;
    const staging = await planStaging(store, request, name, expires);
    const wrapper = [
      staging.stageIn.script,
      staging.stageOut.upload,
      'set +e',
      'cd "$MLOE_WORK_DIR"',
      '"$@"',
      'code=$?',
      'upload',
      'exit "$code"',
    ].join('\n');
    const environment = [...staging.commandEnv, ...staging.stageIn.env, ...staging.stageOut.env];
    const unique = new Map(environment.map((variable) => [variable.name, variable.value]));
    const submitted = await this.batch
      .send(
        new SubmitJobCommand({
          jobName: name,
          jobQueue,
          jobDefinition,
          containerOverrides: {
            command: ['sh', '-c', wrapper, 'mloe', ...request.command],
            environment: [...unique].map(([key, value]) => ({ name: key, value })),
            resourceRequirements: batchResourceRequirements(request.placement.resources),
          },
          tags: {
            [MANAGED_BY_LABEL]: MANAGED_BY,
            [EXECUTION_LABEL]: executionHash(request),
            [WORKFLOW_ANNOTATION]: request.workflowId.slice(0, 256),
            [TEMPORAL_NAMESPACE_ANNOTATION]: this.config.temporalNamespace.slice(0, 256),
          },
          propagateTags: true,
          ...(context.timeoutMs === undefined
            ? {}
            : {
                timeout: { attemptDurationSeconds: Math.max(MIN_TIMEOUT_SECONDS, Math.ceil(context.timeoutMs / 1000)) },
              }),
        }),
      )
      .catch((error: unknown) => {
        throw awsError(`submitting job ${name} to ${jobQueue}`, error);
      });
    if (submitted.jobId === undefined)
      throw new MloeError('EXECUTOR_FAILED', `AWS Batch: SubmitJob returned no job id for ${name}`);
    return { jobId: submitted.jobId, name, createdByAttempt: context.attempt };
  }

  /**
   * Checks, before submitting, what Batch cannot take per job: the image (the job definition's; the cache key reads
   * `run.image`, so they must be equal) and the secrets (the job definition's `secrets`; each `aws-sm:`/`ssm:`
   * reference of the step must be declared there under the same name). Non-retryable errors say what to change.
   */
  private async checkJobDefinition(request: RemoteCommandRequest, jobDefinition: string): Promise<void> {
    const definition = await this.describeJobDefinition(jobDefinition);
    const invalid = (message: string): MloeError =>
      new MloeError('STEP_COMMAND_INVALID', `step ${request.stepId}: ${message}`, { retryable: false });
    if (definition === undefined) {
      throw invalid(
        `job definition ${jobDefinition} (batch.jobDefinition) does not exist or is not ACTIVE in this region; ` +
          'register it or name an ACTIVE one',
      );
    }
    const label = `${definition.jobDefinitionName ?? jobDefinition}:${definition.revision ?? '?'}`;
    const container = definition.containerProperties;
    if (container?.image === undefined) {
      throw invalid(
        `job definition ${label} has no containerProperties (a multi-node, ECS or EKS job definition); the batch ` +
          'executor submits single-container jobs',
      );
    }
    if (container.image !== request.image) {
      throw invalid(
        `run.image is ${request.image} but job definition ${label} runs ${container.image}, and Batch cannot override ` +
          `a job's image (mloe's cache key reads run.image): set run.image to ${container.image}, or register a ` +
          `revision of ${definition.jobDefinitionName ?? jobDefinition} with image ${request.image} and name it in ` +
          'batch.jobDefinition',
      );
    }
    for (const [name, ref] of Object.entries(request.awsSecrets ?? {})) {
      const declared = (container.secrets ?? []).find((secret) => secret.name === name);
      if (declared === undefined || !sameSecret(ref, declared.valueFrom ?? '')) {
        throw new MloeError(
          'SECRET_REF_INVALID',
          `step ${request.stepId}: secrets.${name} (${ref.kind}:${ref.valueFrom}): job definition ${label} ` +
            (declared === undefined
              ? `declares no secret ${name}`
              : `declares ${name} from ${declared.valueFrom ?? '(nothing)'}`) +
            `; Batch takes secrets from the job definition only: add { "name": "${name}", "valueFrom": ` +
            `"${ref.valueFrom}" } to its containerProperties.secrets (a new revision) and name that revision`,
          { retryable: false },
        );
      }
    }
  }

  /** The revision SubmitJob would use: the one named (`name:revision`, ARN), else the latest ACTIVE one. */
  private async describeJobDefinition(reference: string): Promise<JobDefinition | undefined> {
    const pinned = reference.startsWith('arn:') || /:\d+$/.test(reference);
    const found: JobDefinition[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.batch
        .send(
          new DescribeJobDefinitionsCommand({
            ...(pinned ? { jobDefinitions: [reference] } : { jobDefinitionName: reference, status: 'ACTIVE' }),
            ...(nextToken === undefined ? {} : { nextToken }),
          }),
        )
        .catch((error: unknown) => {
          throw awsError(`describing job definition ${reference}`, error);
        });
      found.push(...(page.jobDefinitions ?? []));
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    return found.sort((a, b) => (b.revision ?? 0) - (a.revision ?? 0))[0];
  }

  /** The job's CloudWatch log stream as text ('' when it has none or it is gone). */
  private async readLog(stream: string | undefined): Promise<string> {
    if (stream === undefined) return '';
    const lines: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const answer = await this.logs
        .send(
          new GetLogEventsCommand({
            logGroupName: this.config.logGroup,
            logStreamName: stream,
            startFromHead: true,
            ...(token === undefined ? {} : { nextToken: token }),
          }),
        )
        .catch(() => undefined);
      if (answer === undefined) break;
      for (const event of answer.events ?? []) lines.push(event.message ?? '');
      if (
        answer.nextForwardToken === undefined ||
        answer.nextForwardToken === token ||
        (answer.events ?? []).length === 0
      )
        break;
      token = answer.nextForwardToken;
    }
    return lines.map((line) => `${line}\n`).join('');
  }

  /**
   * The unfinished jobs mloe submitted, for the orphan sweep: in each job queue (the configured ones, else every queue
   * `DescribeJobQueues` lists), `ListJobs` by unfinished status, jobs named `mloe-…`, their tags from `DescribeJobs`.
   */
  async listManagedJobs(): Promise<ManagedJob[]> {
    const queues = this.config.sweepJobQueues ?? (await this.jobQueues());
    const ids: string[] = [];
    for (const jobQueue of queues) {
      for (const jobStatus of UNFINISHED) {
        let nextToken: string | undefined;
        do {
          const listed = await this.batch
            .send(new ListJobsCommand({ jobQueue, jobStatus, ...(nextToken === undefined ? {} : { nextToken }) }))
            .catch((error: unknown) => {
              throw awsError(`listing ${jobStatus} jobs of queue ${jobQueue}`, error);
            });
          for (const summary of listed.jobSummaryList ?? []) {
            if (summary.jobId !== undefined && summary.jobName?.startsWith('mloe-') === true) ids.push(summary.jobId);
          }
          nextToken = listed.nextToken;
        } while (nextToken !== undefined);
      }
    }
    const jobs: ManagedJob[] = [];
    for (let start = 0; start < ids.length; start += DESCRIBE_BATCH) {
      const described = await this.batch
        .send(new DescribeJobsCommand({ jobs: ids.slice(start, start + DESCRIBE_BATCH) }))
        .catch((error: unknown) => {
          throw awsError('describing the jobs mloe submitted', error);
        });
      for (const job of described.jobs ?? []) {
        const tags = job.tags ?? {};
        if (tags[MANAGED_BY_LABEL] !== MANAGED_BY || job.jobId === undefined) continue;
        if (job.status === 'SUCCEEDED' || job.status === 'FAILED') continue;
        const workflowId = tags[WORKFLOW_ANNOTATION];
        const temporalNamespace = tags[TEMPORAL_NAMESPACE_ANNOTATION];
        jobs.push({
          executor: 'batch',
          id: job.jobId,
          name: job.jobName ?? job.jobId,
          where: job.jobQueue ?? '',
          ...(workflowId === undefined ? {} : { workflowId }),
          ...(temporalNamespace === undefined ? {} : { temporalNamespace }),
          status: job.status ?? 'SUBMITTED',
        });
      }
    }
    return jobs;
  }

  /** Every job queue of the region, by name. */
  private async jobQueues(): Promise<string[]> {
    const names: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.batch
        .send(new DescribeJobQueuesCommand(nextToken === undefined ? {} : { nextToken }))
        .catch((error: unknown) => {
          throw awsError('listing the job queues', error);
        });
      for (const queue of page.jobQueues ?? []) if (queue.jobQueueName !== undefined) names.push(queue.jobQueueName);
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    return names;
  }

  /** Terminates a job of the sweep, with the reason; one already finished is fine. */
  async removeJob(job: ManagedJob, reason: string): Promise<void> {
    await this.batch
      .send(new TerminateJobCommand({ jobId: job.id, reason: `Terminated by mloe's orphan sweep: ${reason}` }))
      .catch((error: unknown) => {
        throw awsError(`terminating job ${job.name}`, error);
      });
  }

  close(): Promise<void> {
    this.batch.destroy();
    this.logs.destroy();
    return Promise.resolve();
  }
}
