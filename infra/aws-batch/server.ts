/**
 * The AWS Batch test server: the subset of the Batch REST-JSON API the Batch executor uses (`SubmitJob`,
 * `DescribeJobs`, `ListJobs` by status or with the `JOB_NAME` filter, `TerminateJob`, `DescribeJobQueues`,
 * `RegisterJobDefinition` and `DescribeJobDefinitions`: a job runs its definition's image, and gets the definition's
 * `secrets` from a map that plays Secrets Manager and the SSM Parameter Store) and CloudWatch Logs' `GetLogEvents` (JSON
 * 1.1, `X-Amz-Target: Logs_20140328.GetLogEvents`), on 127.0.0.1, with job states, status reasons and error shapes as
 * the API references give them (`ClientException` 400 with `x-amzn-ErrorType`). Jobs run their container command as a
 * local process (`/mloe` mapped to a temporary directory in the environment and arguments), or play a scripted outcome
 * chosen by the job definition's name: `mloe-test-oom`, `mloe-test-imagepull`, `mloe-test-host-terminated`,
 * `mloe-test-timeout`, `mloe-test-hang`. A contract-test double: no compute environments, no scheduling, no auth (any
 * signature is accepted).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The state of one job, in the shape of Batch's `JobDetail`. */
export interface BatchJob {
  jobArn: string;
  jobId: string;
  jobName: string;
  jobQueue: string;
  jobDefinition: string;
  status: 'SUBMITTED' | 'PENDING' | 'RUNNABLE' | 'STARTING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  statusReason?: string;
  createdAt: number;
  startedAt?: number;
  stoppedAt?: number;
  tags?: Record<string, string>;
  timeout?: { attemptDurationSeconds?: number };
  container: {
    image: string;
    command: string[];
    environment: { name: string; value: string }[];
    /** The definition's secrets: names and where their values are, never the values. */
    secrets?: { name: string; valueFrom: string }[];
    resourceRequirements: { type: string; value: string }[];
    exitCode?: number;
    reason?: string;
    logStreamName?: string;
  };
}

/** A registered job definition revision, in the shape of Batch's `JobDefinition` (container jobs only). */
export interface BatchJobDefinition {
  jobDefinitionName: string;
  jobDefinitionArn: string;
  revision: number;
  status: 'ACTIVE' | 'INACTIVE';
  type: 'container';
  containerProperties: {
    image: string;
    command?: string[];
    secrets?: { name: string; valueFrom: string }[];
    [field: string]: unknown;
  };
}

/** Options of {@link startBatchTestServer}. */
export interface BatchTestServerOptions {
  /**
   * The values behind `secrets[].valueFrom` (Secrets Manager ARNs, SSM parameter names or ARNs), as the ECS agent
   * would fetch them; a job whose definition names one missing here fails to start (`ResourceInitializationError`).
   */
  secretValues?: ReadonlyMap<string, string>;
  /** Job queues `DescribeJobQueues` lists besides those jobs were submitted to. */
  jobQueues?: readonly string[];
}

/** A running test server. */
export interface BatchTestServer {
  url: string;
  jobs: Map<string, BatchJob>;
  /** Registered job definitions, by name: every revision, oldest first. */
  jobDefinitions: Map<string, BatchJobDefinition[]>;
  /** The bodies of every SubmitJob call, as sent (tests check that no secret value is among them). */
  submitBodies: string[];
  /** SubmitJob calls that created a job, by job name. */
  submitted: Map<string, number>;
  close(): Promise<void>;
}

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
/** The log group Batch writes container logs to by default. */
export const BATCH_LOG_GROUP = '/aws/batch/job';

function clientError(response: ServerResponse, type: string, message: string, code = 400): void {
  const body = JSON.stringify({ __type: type, message });
  response.writeHead(code, { 'content-type': 'application/json', 'x-amzn-ErrorType': type });
  response.end(body);
}

function send(response: ServerResponse, body: unknown): void {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text.trim() === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

/** The revision a `SubmitJob` or `DescribeJobDefinitions` names: `name`, `name:revision` or an ARN. */
function findDefinition(
  definitions: Map<string, BatchJobDefinition[]>,
  reference: string,
): BatchJobDefinition | undefined {
  const short = reference.startsWith('arn:') ? reference.slice(reference.indexOf('/') + 1) : reference;
  const [name = '', revision] = short.split(':');
  const revisions = definitions.get(name) ?? [];
  if (revision === undefined) return revisions.filter((item) => item.status === 'ACTIVE').at(-1);
  return revisions.find((item) => String(item.revision) === revision);
}

/** Starts the server. */
export async function startBatchTestServer(options: BatchTestServerOptions = {}): Promise<BatchTestServer> {
  const jobs = new Map<string, BatchJob>();
  const jobDefinitions = new Map<string, BatchJobDefinition[]>();
  const submitBodies: string[] = [];
  const queues = new Set(options.jobQueues ?? []);
  const submitted = new Map<string, number>();
  const logs = new Map<string, { timestamp: number; message: string; ingestionTime: number }[]>();
  const processes = new Map<string, ChildProcess>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, body: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      body();
    }, ms);
    timers.add(timer);
  };

  const finish = (
    job: BatchJob,
    status: 'SUCCEEDED' | 'FAILED',
    fields: Partial<BatchJob> & { exitCode?: number; reason?: string },
  ): void => {
    if (job.status === 'SUCCEEDED' || job.status === 'FAILED') return;
    const { exitCode, reason, ...rest } = fields;
    Object.assign(job, rest, { status, stoppedAt: Date.now() });
    if (exitCode !== undefined) job.container.exitCode = exitCode;
    if (reason !== undefined) job.container.reason = reason;
  };

  const start = (job: BatchJob): void => {
    job.status = 'RUNNABLE';
    later(10, () => {
      if (job.status !== 'RUNNABLE') return;
      job.status = 'STARTING';
      const scenario = /^mloe-test-([a-z-]+)/.exec(job.jobDefinition)?.[1];
      later(10, () => {
        if (job.status !== 'STARTING') return;
        if (scenario === 'imagepull') {
          finish(job, 'FAILED', {
            statusReason:
              'CannotPullContainerError: Error response from daemon: pull access denied for nope, repository does not exist',
            reason:
              'CannotPullContainerError: Error response from daemon: pull access denied for nope, repository does not exist',
          });
          return;
        }
        const missing = (job.container.secrets ?? []).find((secret) => !options.secretValues?.has(secret.valueFrom));
        if (missing !== undefined) {
          finish(job, 'FAILED', {
            statusReason:
              'ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval ' +
              `failed: unable to retrieve secret from asm: ResourceNotFoundException: ${missing.valueFrom}`,
          });
          return;
        }
        job.status = 'RUNNING';
        job.startedAt = Date.now();
        job.container.logStreamName = `${job.jobDefinition.split(':')[0]}/default/${job.jobId}`;
        const stream = job.container.logStreamName;
        logs.set(stream, []);
        if (scenario === 'oom')
          later(20, () =>
            finish(job, 'FAILED', {
              statusReason: 'Essential container in task exited',
              exitCode: 137,
              reason: 'OutOfMemoryError: Container killed due to memory usage',
            }),
          );
        else if (scenario === 'host-terminated')
          later(20, () =>
            finish(job, 'FAILED', { statusReason: 'Host EC2 (instance i-0123456789abcdef0) terminated.' }),
          );
        else if (scenario === 'timeout')
          later(20, () => finish(job, 'FAILED', { statusReason: 'Job attempt duration exceeded timeout' }));
        else if (scenario !== 'hang') void runLocally(job, stream);
      });
    });
  };

  const runLocally = async (job: BatchJob, stream: string): Promise<void> => {
    const directory = await mkdtemp(join(tmpdir(), 'mloe-batch-job-'));
    const map = (text: string): string =>
      text === '/mloe' || text.startsWith('/mloe/') ? directory + text.slice('/mloe'.length) : text;
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    for (const variable of job.container.environment) env[variable.name] = map(variable.value);
    for (const secret of job.container.secrets ?? [])
      env[secret.name] = options.secretValues?.get(secret.valueFrom) ?? '';
    const [command = '', ...args] = job.container.command.map(map);
    const child = spawn(command, args, { env, cwd: directory, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    processes.set(job.jobId, child);
    const events = logs.get(stream) ?? [];
    let pending = '';
    const onData = (chunk: Buffer): void => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const message of lines) events.push({ timestamp: Date.now(), message, ingestionTime: Date.now() });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    const exitCode = await new Promise<number>((resolve) => {
      child.once('error', () => resolve(127));
      child.once('close', (code) => resolve(code ?? 137));
    });
    if (pending !== '') events.push({ timestamp: Date.now(), message: pending, ingestionTime: Date.now() });
    processes.delete(job.jobId);
    await rm(directory, { recursive: true, force: true });
    if (exitCode === 0) finish(job, 'SUCCEEDED', { statusReason: 'Essential container in task exited', exitCode: 0 });
    else finish(job, 'FAILED', { statusReason: 'Essential container in task exited', exitCode });
  };

  const summary = (job: BatchJob) => ({
    jobArn: job.jobArn,
    jobId: job.jobId,
    jobName: job.jobName,
    createdAt: job.createdAt,
    status: job.status,
    ...(job.statusReason === undefined ? {} : { statusReason: job.statusReason }),
    ...(job.startedAt === undefined ? {} : { startedAt: job.startedAt }),
    ...(job.stoppedAt === undefined ? {} : { stoppedAt: job.stoppedAt }),
    container: {
      ...(job.container.exitCode === undefined ? {} : { exitCode: job.container.exitCode }),
      ...(job.container.reason === undefined ? {} : { reason: job.container.reason }),
    },
  });

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const target = request.headers['x-amz-target'];
    let body: Record<string, unknown>;
    try {
      body = await readJson(request);
      if (request.url === '/v1/submitjob') submitBodies.push(JSON.stringify(body));
    } catch {
      clientError(response, 'ClientException', 'the request body is not valid JSON');
      return;
    }
    if (target === 'Logs_20140328.GetLogEvents') {
      const events = logs.get(String(body.logStreamName));
      if (events === undefined) {
        clientError(response, 'ResourceNotFoundException', 'The specified log stream does not exist.');
        return;
      }
      const from = typeof body.nextToken === 'string' ? Number(body.nextToken.slice(2)) : 0;
      const page = events.slice(from, from + 1000);
      const next = `f/${from + page.length}`;
      send(response, { events: page, nextForwardToken: next, nextBackwardToken: `b/${from}` });
      return;
    }
    switch (request.url) {
      case '/v1/submitjob': {
        const name = typeof body.jobName === 'string' ? body.jobName : '';
        if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(name)) {
          clientError(response, 'ClientException', `Job name should match valid pattern: ${name}`);
          return;
        }
        if (typeof body.jobQueue !== 'string' || typeof body.jobDefinition !== 'string') {
          clientError(response, 'ClientException', 'jobQueue and jobDefinition are required');
          return;
        }
        const timeout = body.timeout as { attemptDurationSeconds?: number } | undefined;
        if (timeout?.attemptDurationSeconds !== undefined && timeout.attemptDurationSeconds < 60) {
          clientError(response, 'ClientException', 'Job timeout must be at least 60 seconds');
          return;
        }
        const definition = findDefinition(jobDefinitions, body.jobDefinition);
        if (definition === undefined) {
          clientError(
            response,
            'ClientException',
            `Job definition ${body.jobDefinition} does not exist or is INACTIVE`,
          );
          return;
        }
        const overrides = (body.containerOverrides ?? {}) as Partial<BatchJob['container']>;
        const jobId = randomUUID();
        queues.add(body.jobQueue);
        const job: BatchJob = {
          jobArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job/${jobId}`,
          jobId,
          jobName: name,
          jobQueue: body.jobQueue,
          jobDefinition: body.jobDefinition,
          status: 'SUBMITTED',
          createdAt: Date.now(),
          ...(body.tags === undefined ? {} : { tags: body.tags as Record<string, string> }),
          ...(timeout === undefined ? {} : { timeout }),
          container: {
            image: definition.containerProperties.image,
            ...(definition.containerProperties.secrets === undefined
              ? {}
              : { secrets: definition.containerProperties.secrets }),
            command: overrides.command ?? definition.containerProperties.command ?? [],
            environment: overrides.environment ?? [],
            resourceRequirements: overrides.resourceRequirements ?? [],
          },
        };
        jobs.set(jobId, job);
        submitted.set(name, (submitted.get(name) ?? 0) + 1);
        later(5, () => {
          job.status = 'PENDING';
          start(job);
        });
        send(response, { jobArn: job.jobArn, jobName: name, jobId });
        return;
      }
      case '/v1/describejobs': {
        const ids = Array.isArray(body.jobs) ? (body.jobs as string[]) : [];
        if (ids.length > 100) {
          clientError(response, 'ClientException', 'jobs must have at most 100 items');
          return;
        }
        send(response, { jobs: ids.map((id) => jobs.get(id)).filter((job) => job !== undefined) });
        return;
      }
      case '/v1/listjobs': {
        const filters = (body.filters as { name: string; values: string[] }[] | undefined) ?? [];
        const byName = filters.find((filter) => filter.name === 'JOB_NAME')?.values[0];
        const list = [...jobs.values()].filter(
          (job) =>
            (body.jobQueue === undefined || job.jobQueue === body.jobQueue) &&
            (byName === undefined ||
              (byName.endsWith('*') ? job.jobName.startsWith(byName.slice(0, -1)) : job.jobName === byName)) &&
            // Without a filter, one status: RUNNING unless jobStatus names another (as the API reference says).
            (byName !== undefined || job.status === (body.jobStatus ?? 'RUNNING')),
        );
        send(response, { jobSummaryList: list.map(summary) });
        return;
      }
      case '/v1/describejobqueues': {
        send(response, {
          jobQueues: [...queues].sort().map((name) => ({
            jobQueueName: name,
            jobQueueArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job-queue/${name}`,
            state: 'ENABLED',
            status: 'VALID',
            priority: 1,
            computeEnvironmentOrder: [],
          })),
        });
        return;
      }
      case '/v1/registerjobdefinition': {
        const name = typeof body.jobDefinitionName === 'string' ? body.jobDefinitionName : '';
        const container = body.containerProperties as BatchJobDefinition['containerProperties'] | undefined;
        if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(name) || body.type !== 'container') {
          clientError(
            response,
            'ClientException',
            'jobDefinitionName (a valid name) and type "container" are required',
          );
          return;
        }
        if (typeof container?.image !== 'string') {
          clientError(response, 'ClientException', 'containerProperties.image is required');
          return;
        }
        const revisions = jobDefinitions.get(name) ?? [];
        const revision = revisions.length + 1;
        const definition: BatchJobDefinition = {
          jobDefinitionName: name,
          jobDefinitionArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job-definition/${name}:${revision}`,
          revision,
          status: 'ACTIVE',
          type: 'container',
          containerProperties: container,
        };
        jobDefinitions.set(name, [...revisions, definition]);
        send(response, { jobDefinitionName: name, jobDefinitionArn: definition.jobDefinitionArn, revision });
        return;
      }
      case '/v1/describejobdefinitions': {
        const references = Array.isArray(body.jobDefinitions) ? (body.jobDefinitions as string[]) : undefined;
        let found: BatchJobDefinition[];
        if (references !== undefined) {
          found = references
            .map((reference) => findDefinition(jobDefinitions, reference))
            .filter((definition) => definition !== undefined);
        } else {
          const name = typeof body.jobDefinitionName === 'string' ? body.jobDefinitionName : undefined;
          found = [...jobDefinitions.values()]
            .flat()
            .filter((definition) => name === undefined || definition.jobDefinitionName === name);
        }
        const status = typeof body.status === 'string' ? body.status : undefined;
        send(response, {
          jobDefinitions: found.filter((definition) => status === undefined || definition.status === status),
        });
        return;
      }
      case '/v1/terminatejob': {
        const job = jobs.get(String(body.jobId));
        if (job === undefined) {
          clientError(response, 'ClientException', `Job ${String(body.jobId)} not found`);
          return;
        }
        const child = processes.get(job.jobId);
        if (child?.pid !== undefined) {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // Gone already.
          }
        }
        finish(job, 'FAILED', { statusReason: typeof body.reason === 'string' ? body.reason : 'Terminated' });
        send(response, {});
        return;
      }
      default:
        clientError(response, 'ClientException', `unknown operation ${request.method ?? ''} ${request.url ?? ''}`, 404);
    }
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent)
        clientError(response, 'ServerException', (error as Error)?.message ?? 'internal error', 500);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    jobs,
    jobDefinitions,
    submitBodies,
    submitted,
    async close() {
      timers.forEach(clearTimeout);
      for (const child of processes.values()) {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
