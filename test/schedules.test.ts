/**
 * Pipeline schedules (`clients/schedules/`) on the jest dev server with a real pipeline worker (tracking in the jest
 * MLflow server) and the official client: create, list, describe, pause, unpause, trigger, backfill, update and
 * delete through the API and through `mloe schedule` (in process); a pinned spec that an edit of its file does not
 * change until `update`; scheduled runs named `<schedule>-<scheduled time>`, with the time in their parameter and the
 * `MloeSchedule` search attribute, visible in `mloe list` and in MLflow; overlap policies by trigger; bad input
 * refused before anything is created.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Client } from '@temporalio/client';

import { createMlflowClient, mlflowConfig } from '../activities/mlflow';
import { BUILTIN_IMPLEMENTATIONS, createStepImplementations } from '../activities/steps';
import { MlflowTracker, trackingConfigFromEnv } from '../activities/tracking';
import { buildProgram } from '../clients/cli';
import { getPipelineStatus } from '../clients/pipelines';
import {
  backfillPipelineSchedule,
  createPipelineSchedule,
  deletePipelineSchedule,
  describePipelineSchedule,
  listPipelineSchedules,
  pausePipelineSchedule,
  triggerPipelineSchedule,
  unpausePipelineSchedule,
  updatePipelineSchedule,
  type CreatePipelineScheduleOptions,
} from '../clients/schedules/schedules';
import { diffSpecs, formatSpecChanges } from '../clients/schedules/spec-diff';
import { scheduleSpecOf } from '../clients/schedules/timing';
import { BUILTIN_STEPS } from '../core/steps/builtin';
import type { ConfigEnv } from '../workers/config';
import { ECHO_STEP, WAIT_CANCEL_STEP } from './fixtures/test-steps';
import { startPipelineTestWorker, type PipelineTestWorker } from './pipeline-harness';
import { pollUntil } from './support/poll';

const TRACKING_URI = process.env.MLFLOW_TEST_TRACKING_URI ?? '';
const steps = createStepImplementations(BUILTIN_IMPLEMENTATIONS, [ECHO_STEP, WAIT_CANCEL_STEP]);
const descriptors = [...BUILTIN_STEPS, ECHO_STEP.descriptor, WAIT_CANCEL_STEP.descriptor];
const RUN_ID = /^[A-Za-z0-9_-]+-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** A spec whose one step echoes `<label> <scheduled time>`. */
function echoSpec(pipeline: string, label: string): string {
  return [
    'apiVersion: mloe.dev/v1',
    'kind: Pipeline',
    `metadata: { name: ${pipeline} }`,
    'params:',
    '  scheduledTime: { type: string, default: "" }',
    'steps:',
    '  say:',
    '    uses: echo@1',
    `    with: { message: "${label} \${{ params.scheduledTime }}" }`,
    '',
  ].join('\n');
}

describe('pipeline schedules on the dev server', () => {
  let worker: PipelineTestWorker;
  let client: Client;
  let dir: string;
  const taskQueue = `mloe-schedules-test-${randomUUID()}`;
  const created: string[] = [];
  const warnings: string[] = [];

  beforeAll(async () => {
    if (TRACKING_URI === '') throw new Error('MLFLOW_TEST_TRACKING_URI is not set (jest globalSetup publishes it)');
    const tracking = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: TRACKING_URI });
    if (tracking === undefined) throw new Error('no tracking configuration');
    dir = await mkdtemp(join(tmpdir(), 'mloe-schedules-test-'));
    worker = await startPipelineTestWorker({
      taskQueue,
      steps,
      tracking: new MlflowTracker(tracking, { warn: (message) => warnings.push(message) }),
    });
    client = worker.env.client;
  });

  afterAll(async () => {
    for (const name of created) await deletePipelineSchedule(client, name).catch(() => undefined);
    await worker?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const uniqueName = (base: string): string => `${base}-${randomUUID().slice(0, 8)}`;

  /** Creates a schedule (deleted after the suite). */
  async function create(options: CreatePipelineScheduleOptions): Promise<void> {
    created.push(options.name);
    await createPipelineSchedule(client, options);
  }

  /** The completed runs of a schedule, by visibility, once there are `count`. */
  async function completedRuns(name: string, count: number): Promise<string[]> {
    return pollUntil(
      `${count} completed runs of ${name}`,
      async () => {
        const ids: string[] = [];
        const query = `MloeSchedule = '${name}' AND ExecutionStatus = 'Completed'`;
        for await (const run of client.workflow.list({ query })) ids.push(run.workflowId);
        return ids.length >= count ? ids.sort() : undefined;
      },
      { timeoutMs: 90_000 },
    );
  }

  test('create, describe, list, trigger, pause, unpause, backfill, update (pinned until then), delete', async () => {
    const name = uniqueName('nightly');
    const pipeline = uniqueName('sched-pipe');
    const file = join(dir, `${name}.yaml`);
    await writeFile(file, echoSpec(pipeline, 'v1'));
    await create({ name, file, timing: { every: ['1d'] }, taskQueue, descriptors, artifactRoot: dir, workingDir: dir });

    const described = await describePipelineSchedule(client, name);
    expect(described).toMatchObject({ name, pipeline, paused: false, scheduledTimeParam: 'scheduledTime' });
    expect(described.specHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(described.recentRuns).toEqual([]);
    // Every day at midnight UTC: the next run is the next midnight.
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    expect(described.nextRuns[0]?.toISOString()).toBe(midnight.toISOString());
    expect((await listPipelineSchedules(client)).find((s) => s.name === name)).toMatchObject({
      pipeline,
      paused: false,
    });

    // The file changes; the schedule still runs the spec it pinned.
    await writeFile(file, echoSpec(pipeline, 'v2'));
    await triggerPipelineSchedule(client, name);
    const [triggered] = await completedRuns(name, 1);
    expect(triggered).toMatch(RUN_ID);
    expect(triggered?.startsWith(`${name}-`)).toBe(true);
    const status = await getPipelineStatus(client, triggered ?? '');
    const scheduledTime = triggered?.slice(name.length + 1) ?? '';
    expect(status.params.scheduledTime).toBe(scheduledTime);
    expect(status.steps[0]?.outputs?.message).toBe(`v1 ${scheduledTime}`);
    expect(status.specHash).toBe(described.specHash);
    const execution = await client.workflow.getHandle(triggered ?? '').describe();
    expect(execution.searchAttributes).toMatchObject({
      MloeSchedule: [name],
      MloePipeline: [pipeline],
      MloeStatus: ['Completed'],
      TemporalScheduledById: [name],
    });

    // Tracked in MLflow like any run, the scheduled time among its parameters.
    const mlflow = createMlflowClient(mlflowConfig({ trackingUri: TRACKING_URI }));
    const experiment = await mlflow.experiments.getByName(pipeline);
    const tracked = await mlflow.runs.search({
      experimentIds: [experiment.experimentId],
      filter: `tags.\`mloe.workflowId\` = '${triggered ?? ''}' and tags.\`mloe.kind\` = 'pipeline'`,
    });
    expect(warnings).toEqual([]);
    expect(status.mlflow?.runId).toBe(tracked.items[0]?.info.runId);
    expect(tracked.items).toHaveLength(1);
    expect(tracked.items[0]?.data.params).toEqual(
      expect.arrayContaining([{ key: 'scheduledTime', value: scheduledTime }]),
    );

    await pausePipelineSchedule(client, name, 'data late');
    expect(await describePipelineSchedule(client, name)).toMatchObject({ paused: true, note: 'data late' });
    expect((await listPipelineSchedules(client)).find((s) => s.name === name)).toMatchObject({ paused: true });
    await unpausePipelineSchedule(client, name, 'data arrived');
    expect(await describePipelineSchedule(client, name)).toMatchObject({ paused: false, note: 'data arrived' });

    // Two days backfilled: one run each, one after the other, each with its own scheduled time.
    await backfillPipelineSchedule(client, name, { from: '2026-03-01T12:00:00Z', to: '2026-03-03T12:00:00Z' });
    const afterBackfill = await completedRuns(name, 3);
    const backfilled = [`${name}-2026-03-02T00:00:00Z`, `${name}-2026-03-03T00:00:00Z`];
    expect(afterBackfill).toEqual(expect.arrayContaining(backfilled));
    for (const id of backfilled) {
      const run = await getPipelineStatus(client, id);
      expect(run.steps[0]?.outputs?.message).toBe(`v1 ${id.slice(name.length + 1)}`);
    }

    // Update: the difference first (a dry run changes nothing), then the re-pin.
    const dry = await updatePipelineSchedule(client, name, { file, descriptors, dryRun: true });
    expect(dry.updated).toBe(false);
    expect(dry.changes).toEqual([
      {
        path: 'steps.say.with.message',
        kind: 'changed',
        before: 'v1 ${{ params.scheduledTime }}',
        after: 'v2 ${{ params.scheduledTime }}',
      },
    ]);
    expect((await describePipelineSchedule(client, name)).specHash).toBe(described.specHash);
    const update = await updatePipelineSchedule(client, name, {
      file,
      descriptors,
      artifactRoot: dir,
      workingDir: dir,
    });
    expect(update.updated).toBe(true);
    const repinned = await describePipelineSchedule(client, name);
    expect(repinned.specHash).toBe(update.after.specHash);
    expect(repinned.specHash).not.toBe(described.specHash);
    // Timing and policies are kept.
    expect(repinned.nextRuns[0]?.toISOString()).toBe(midnight.toISOString());
    await triggerPipelineSchedule(client, name);
    const all = await completedRuns(name, 4);
    const newest = all.find((id) => !afterBackfill.includes(id)) ?? '';
    expect((await getPipelineStatus(client, newest)).steps[0]?.outputs?.message).toBe(
      `v2 ${newest.slice(name.length + 1)}`,
    );
    const recent = (await describePipelineSchedule(client, name)).recentRuns;
    expect(recent.map((r) => r.workflowId)).toEqual(expect.arrayContaining([triggered, ...backfilled, newest]));
    expect(recent.every((r) => r.status === 'COMPLETED')).toBe(true);

    await deletePipelineSchedule(client, name);
    await expect(describePipelineSchedule(client, name)).rejects.toMatchObject({ code: 'SCHEDULE_NOT_FOUND' });
    // Its runs stay.
    expect((await client.workflow.getHandle(newest).describe()).status.name).toBe('COMPLETED');
  });

  test('overlap policies, by trigger: skip, buffer-one, cancel-other, terminate-other, allow-all', async () => {
    const pipeline = uniqueName('sched-wait');
    const spec = {
      apiVersion: 'mloe.dev/v1',
      kind: 'Pipeline',
      metadata: { name: pipeline },
      steps: { wait: { uses: 'wait-cancel@1' } },
    };
    const running = async (name: string): Promise<string[]> =>
      (await describePipelineSchedule(client, name)).runningRuns;
    const settle = (
      name: string,
      what: string,
      check: (d: Awaited<ReturnType<typeof describePipelineSchedule>>) => boolean,
    ) =>
      pollUntil(
        what,
        async () => {
          const d = await describePipelineSchedule(client, name);
          return check(d) ? d : undefined;
        },
        { timeoutMs: 30_000 },
      );
    // Triggers a second apart: their scheduled times (and so run ids) differ.
    const triggerTwice = async (name: string): Promise<void> => {
      await triggerPipelineSchedule(client, name);
      await settle(name, 'the first run', (d) => d.counts.taken === 1);
      const first = Date.now();
      await pollUntil('the next second', () => Math.floor(Date.now() / 1000) > Math.floor(first / 1000));
      await triggerPipelineSchedule(client, name);
    };
    const schedule = async (overlap: string): Promise<string> => {
      const name = uniqueName(`overlap-${overlap}`);
      await create({
        name,
        spec,
        timing: { every: ['365d'] },
        overlap,
        taskQueue,
        descriptors,
        artifactRoot: dir,
        workingDir: dir,
      });
      return name;
    };

    const skip = await schedule('skip');
    await triggerTwice(skip);
    const skipped = await settle(skip, 'one skipped', (d) => d.counts.skippedOverlap === 1);
    expect(skipped.runningRuns).toHaveLength(1);
    expect(skipped.overlap).toBe('skip');

    const terminate = await schedule('terminate-other');
    await triggerTwice(terminate);
    const replaced = await settle(
      terminate,
      'the second running',
      (d) => d.counts.taken === 2 && d.runningRuns.length === 1,
    );
    const [firstTerminated] = replaced.recentRuns;
    expect(firstTerminated?.status).toBe('TERMINATED');
    expect(replaced.runningRuns).toEqual([replaced.recentRuns[1]?.workflowId]);

    const cancel = await schedule('cancel-other');
    await triggerTwice(cancel);
    const cancelled = await settle(
      cancel,
      'the second running',
      (d) => d.counts.taken === 2 && d.runningRuns.length === 1,
    );
    expect(cancelled.recentRuns[0]?.status).toBe('CANCELLED');
    expect((await getPipelineStatus(client, cancelled.recentRuns[0]?.workflowId ?? '')).state).toBe('cancelled');

    const bufferOne = await schedule('buffer-one');
    await triggerTwice(bufferOne);
    await settle(bufferOne, 'one buffered', (d) => d.runningRuns.length === 1 && d.counts.taken === 1);
    const [firstBuffered] = await running(bufferOne);
    await client.workflow.getHandle(firstBuffered ?? '').cancel();
    const next = await settle(
      bufferOne,
      'the buffered run started',
      (d) => d.counts.taken === 2 && d.runningRuns.length === 1,
    );
    expect(next.runningRuns[0]).not.toBe(firstBuffered);

    const allowAll = await schedule('allow-all');
    await triggerTwice(allowAll);
    await settle(allowAll, 'both running', (d) => d.runningRuns.length === 2);

    for (const name of [skip, terminate, cancel, bufferOne, allowAll]) {
      for (const id of await running(name)) await client.workflow.getHandle(id).cancel();
    }
  }, 300_000);

  test('bad input is refused before anything is created', async () => {
    const name = uniqueName('bad');
    const file = join(dir, `${name}.yaml`);
    await writeFile(file, echoSpec(uniqueName('bad-pipe'), 'x'));
    const base = { name, file, descriptors, taskQueue, timing: { every: ['1d'] } };
    const refused = async (options: Partial<CreatePipelineScheduleOptions>, code: string, message: RegExp) => {
      const attempt = createPipelineSchedule(client, { ...base, ...options });
      await expect(attempt).rejects.toMatchObject({ code });
      await expect(attempt).rejects.toThrow(message);
      if (options.name === undefined) {
        await expect(describePipelineSchedule(client, name)).rejects.toMatchObject({ code: 'SCHEDULE_NOT_FOUND' });
      }
    };
    await refused(
      { timing: { cron: ['0 25 * * *'] } },
      'SCHEDULE_SPEC_INVALID',
      /--cron "0 25 \* \* \*": hour value 25 out of range 0-23/,
    );
    await refused({ timing: { cron: ['@fortnightly'] } }, 'SCHEDULE_SPEC_INVALID', /unknown cron shorthand/);
    await refused(
      { timing: { calendar: ['{"hour":"3","weekday":"Mon"}'] } },
      'SCHEDULE_SPEC_INVALID',
      /unknown field "weekday"/,
    );
    await refused(
      { timing: { every: ['fortnight'] } },
      'SCHEDULE_SPEC_INVALID',
      /--every "fortnight" is not a duration/,
    );
    await refused(
      { timing: { every: ['1h'], offset: '2h' } },
      'SCHEDULE_SPEC_INVALID',
      /phase must be less than the interval/,
    );
    await refused(
      { timing: { every: ['1d'], timezone: 'Europe/Atlantis' } },
      'SCHEDULE_SPEC_INVALID',
      /not a time zone/,
    );
    await refused(
      { timing: { every: ['1d'], endTime: '2020-01-01T00:00:00Z' } },
      'SCHEDULE_SPEC_INVALID',
      /would never run/,
    );
    await refused({ overlap: 'sometimes' }, 'CONFIG_INVALID', /not an overlap policy/);
    await refused({ name: 'no spaces please' }, 'CONFIG_INVALID', /schedule name "no spaces please"/);
    await refused({ scheduledTimeParam: 'asOf' }, 'CONFIG_INVALID', /declares no parameter asOf/);
    await refused({ paramTexts: ['scheduledTime=2026-01-01T00:00:00Z'] }, 'CONFIG_INVALID', /set by the schedule/);

    // A spec that does not validate: every problem with its file, line and field.
    const broken = join(dir, `${name}-broken.yaml`);
    await writeFile(broken, echoSpec('broken', 'x').replace('uses: echo@1', 'uses: echo@9'));
    const invalid = createPipelineSchedule(client, { ...base, file: broken });
    await expect(invalid).rejects.toMatchObject({ code: 'SPEC_INVALID' });
    await expect(invalid).rejects.toThrow(/broken\.yaml:8:\d+.*steps\.say\.uses/);
    await expect(describePipelineSchedule(client, name)).rejects.toMatchObject({ code: 'SCHEDULE_NOT_FOUND' });

    // A name that exists: refused, the existing schedule untouched.
    await create(base);
    const before = await describePipelineSchedule(client, name);
    await writeFile(file, echoSpec('other-pipe', 'y'));
    await expect(createPipelineSchedule(client, base)).rejects.toMatchObject({ code: 'SCHEDULE_EXISTS' });
    expect((await describePipelineSchedule(client, name)).specHash).toBe(before.specHash);
    // A schedule that starts something else is not a pipeline schedule: not listed, not managed.
    const other = uniqueName('other');
    await client.schedule.create({
      scheduleId: other,
      spec: { intervals: [{ every: '365 days' }] },
      action: { type: 'startWorkflow', workflowType: 'somethingElse', taskQueue: 'nobody', workflowId: other },
    });
    try {
      await expect(describePipelineSchedule(client, other)).rejects.toThrow(/starts somethingElse workflows/);
      await expect(pausePipelineSchedule(client, other)).rejects.toMatchObject({ code: 'SCHEDULE_NOT_FOUND' });
      expect((await listPipelineSchedules(client)).map((s) => s.name)).not.toContain(other);
    } finally {
      await client.schedule.getHandle(other).delete();
    }
    // An update to a spec that no longer validates changes nothing either.
    const update = updatePipelineSchedule(client, name, { file: broken, descriptors });
    await expect(update).rejects.toMatchObject({ code: 'SPEC_INVALID' });
    expect((await describePipelineSchedule(client, name)).specHash).toBe(before.specHash);
  });

  test('timing: cron, calendar JSON (as the Temporal CLI compiles it), intervals with an offset, jitter, zone', () => {
    expect(scheduleSpecOf({ cron: ['30 2 * * 1-5'], timezone: 'Europe/Paris' })).toEqual({
      cronExpressions: ['30 2 * * 1-5'],
      timezone: 'Europe/Paris',
    });
    expect(scheduleSpecOf({ calendar: ['{"dayOfWeek":"Fri","hour":"3","minute":"30","comment":"weekly"}'] })).toEqual({
      cronExpressions: ['0 30 3 * * Fri * # weekly'],
    });
    expect(scheduleSpecOf({ every: ['1d', '6h/5h'], offset: '2h', jitter: '1m' })).toEqual({
      intervals: [
        { every: 86_400_000, offset: 7_200_000 },
        { every: 21_600_000, offset: 18_000_000 },
      ],
      jitter: 60_000,
    });
  });
});

describe('the difference update shows', () => {
  test('fields added, removed and changed; lists of items with ids matched by id; formatting ignored', () => {
    const before = {
      metadata: { name: 'p' },
      params: { lr: { type: 'number', default: 0.1 } },
      steps: { a: { uses: 'x@1' }, b: { uses: 'y@1', with: { n: 1 } } },
      list: [
        { id: 'one', v: 1 },
        { id: 'two', v: 2 },
      ],
    };
    const after = {
      steps: { b: { with: { n: 2 }, uses: 'y@1' }, c: { uses: 'z@1' } },
      list: [
        { id: 'two', v: 2 },
        { id: 'three', v: 3 },
        { id: 'one', v: 1 },
      ],
      params: { lr: { type: 'number', default: 0.1 } },
      metadata: { name: 'p' },
    };
    expect(formatSpecChanges(diffSpecs(before, after))).toEqual([
      '- steps.a: {"uses":"x@1"}',
      '~ steps.b.with.n: 1 → 2',
      '+ steps.c: {"uses":"z@1"}',
      '+ list[three]: {"id":"three","v":3}',
      '~ list (order): ["one","two"] → ["two","three","one"]',
    ]);
    expect(diffSpecs(before, JSON.parse(JSON.stringify(before)))).toEqual([]);
  });
});

describe('mloe schedule (in process)', () => {
  let worker: PipelineTestWorker;
  let dir: string;
  const taskQueue = `mloe-schedules-cli-${randomUUID()}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mloe-schedules-cli-'));
    worker = await startPipelineTestWorker({ taskQueue, steps });
  });

  afterAll(async () => {
    await worker?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const env: ConfigEnv = { TEMPORAL_ADDRESS: process.env.TEMPORAL_TEST_ADDRESS ?? '' };

  async function mloe(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const out: string[] = [];
    const err: string[] = [];
    let code = 0;
    const program = buildProgram(
      { stdout: (line) => out.push(line), stderr: (line) => err.push(line) },
      (exit) => {
        code = exit;
      },
      env,
    );
    await program.parseAsync(['node', 'mloe', ...args]);
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  }

  test('create (Temporal CLI spellings too), list, describe, trigger, mloe list, pause, backfill, update, delete', async () => {
    const name = `cli-${randomUUID().slice(0, 8)}`;
    const pipeline = `cli-pipe-${randomUUID().slice(0, 8)}`;
    const file = join(dir, 'pipeline.yaml');
    const spec = (word: string): string =>
      [
        'apiVersion: mloe.dev/v1',
        'kind: Pipeline',
        `metadata: { name: ${pipeline} }`,
        'params:',
        '  asOf: { type: string, default: "" }',
        'steps:',
        '  hello:',
        `    run: { command: [echo, "${word}", "\${{ params.asOf }}"] }`,
        '',
      ].join('\n');
    await writeFile(file, spec('hello'));
    const created = await mloe(
      'schedule',
      'create',
      name,
      file,
      '--interval',
      '1d',
      '--time-zone',
      'UTC',
      '--overlap-policy',
      'BufferOne',
      '--notes',
      'nightly retrain',
      '--scheduled-time-param',
      'asOf',
      '--task-queue',
      taskQueue,
      '--artifact-root',
      dir,
    );
    expect(created.stderr).toBe('');
    expect(created).toMatchObject({ code: 0 });
    expect(created.stdout).toMatch(
      new RegExp(`created schedule ${name}: pipeline ${pipeline}, spec sha256:[0-9a-f]{64} pinned`),
    );

    const again = await mloe('schedule', 'create', name, file, '--every', '1d', '--task-queue', taskQueue);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/a schedule named .* exists already/);
    const badCron = await mloe('schedule', 'create', `${name}-x`, file, '--cron', '* * *');
    expect(badCron.code).toBe(2);
    expect(badCron.stderr).toMatch(/--cron "\* \* \*": cron string "\* \* \*" must have 5, 6 or 7 fields/);

    const listed = await mloe('schedule', 'list');
    expect(listed.stdout).toMatch(new RegExp(`${name}\\s+${pipeline}\\s+active`));

    expect((await mloe('schedule', 'trigger', name)).code).toBe(0);
    const runId = await pollUntil(
      'the triggered run in mloe list',
      async () => {
        const list = await mloe('list', '--pipeline', pipeline, '--status', 'Completed');
        return new RegExp(`(${name}-\\S+Z)\\s+${pipeline}\\s+Completed`).exec(list.stdout)?.[1];
      },
      { timeoutMs: 90_000 },
    );
    // `mloe list` shows a run Completed once the run says so; Temporal's status follows when it has recorded it.
    const described = await pollUntil('the run completed in describe', async () => {
      const out = await mloe('schedule', 'describe', name);
      return /COMPLETED$/m.test(out.stdout) ? out : undefined;
    });
    expect(described.stdout).toContain(`pipeline   ${pipeline}`);
    expect(described.stdout).toContain("policies   overlap buffer-one, catch-up window the server's default (1 year)");
    expect(described.stdout).toContain('note       nightly retrain');
    expect(described.stdout).toContain("time param asOf (each run's scheduled time)");
    expect(described.stdout).toMatch(new RegExp(`${runId}\\s+scheduled \\S+\\s+started \\S+\\s+COMPLETED`));
    const json = JSON.parse((await mloe('schedule', 'describe', name, '--json')).stdout) as {
      params: Record<string, string>;
    };
    expect(Object.keys(json.params)).toEqual(['asOf']);

    expect((await mloe('schedule', 'pause', name, '--note', 'upstream outage')).stdout).toBe(
      `schedule ${name} paused: upstream outage`,
    );
    expect((await mloe('schedule', 'list')).stdout).toMatch(new RegExp(`${name}\\s+${pipeline}\\s+paused`));
    expect((await mloe('schedule', 'unpause', name, '--reason', 'fixed')).code).toBe(0);

    const backfill = await mloe(
      'schedule',
      'backfill',
      name,
      '--from',
      '2026-02-01T06:00:00Z',
      '--to',
      '2026-02-02T06:00:00Z',
    );
    expect(backfill.stdout).toContain(
      'backfill of 2026-02-01T06:00:00Z to 2026-02-02T06:00:00Z requested (overlap buffer-all)',
    );
    await pollUntil(
      'the backfilled run',
      async () => {
        const list = await mloe('list', '--pipeline', pipeline, '--status', 'Completed');
        return list.stdout.includes(`${name}-2026-02-02T00:00:00Z`) || undefined;
      },
      { timeoutMs: 90_000 },
    );
    const noRange = await mloe('schedule', 'backfill', name, '--from', '2026-02-01T00:00:00Z');
    expect(noRange).toMatchObject({ code: 2 });

    await writeFile(file, spec('bonjour'));
    const update = await mloe('schedule', 'update', name, file);
    expect(update.code).toBe(0);
    expect(update.stdout).toMatch(/spec sha256:\w+ → sha256:\w+:/);
    expect(update.stdout).toContain('~ steps.hello.run.command[1]: "hello" → "bonjour"');
    expect(update.stdout).toContain(`schedule ${name} re-pinned`);
    expect((await mloe('schedule', 'describe', name)).stdout).toContain('policies   overlap buffer-one');

    expect((await mloe('schedule', 'delete', name)).code).toBe(0);
    const gone = await mloe('schedule', 'describe', name);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(new RegExp(`no schedule named ${name}`));
  });
});
