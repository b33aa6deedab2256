/**
 * Schedules: spec matching unit tests with injected times (cron forms, intervals with phase, exclusions, time zones
 * and DST), and the schedule API through the official `client.schedule` against the dev server: create, describe,
 * list, update (conflict token), trigger, backfill, pause/unpause, pause on failure, limited actions, delete, every
 * overlap policy, ListScheduleMatchingTimes, a kill -9 restart that catches up without running anything twice,
 * List/CountSchedules queries (ScheduleId, TemporalSchedulePaused, custom attributes), and the catchup window after a
 * restart on an injected clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  Client,
  Connection,
  ScheduleOverlapPolicy,
  WorkflowFailedError,
  type ScheduleDescription,
} from '@temporalio/client';
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import Long from 'long';

import {
  canonicalizeSpec,
  compileCron,
  nextSpecTime,
  specTimesBetween,
  type CanonicalSpec,
} from '../../infra/devserver/schedules/spec';
import { rfc3339Seconds } from '../../infra/devserver/schedules/scheduler';
import { startDevServer } from '../../infra/devserver';
import { killAllServers, spawnServer } from './child-server';
import { bundle, connect, uniqueQueue, type TestEnv } from './harness';
import { pollUntil } from '../support/poll';
import type { ChainedReport, chained } from './fixtures/schedule-workflows';

const Status = temporal.api.enums.v1.WorkflowExecutionStatus;
const iso = (ms: number): string => new Date(ms).toISOString();
const times = (spec: CanonicalSpec, from: string, to: string): string[] =>
  specTimesBetween(spec, Date.parse(from), Date.parse(to)).map((t) => iso(t.actual));

describe('schedule spec matching (injected times)', () => {
  test('cron strings: 5, 6 and 7 fields, shorthands, names, Sunday as 7, comments', () => {
    expect(
      times(canonicalizeSpec({ cronString: ['15 3 * * *'] }), '2026-01-01T00:00:00Z', '2026-01-03T00:00:00Z'),
    ).toEqual(['2026-01-01T03:15:00.000Z', '2026-01-02T03:15:00.000Z']);
    expect(
      times(canonicalizeSpec({ cronString: ['0 0 1 1 * 2027'] }), '2026-01-01T00:00:00Z', '2030-01-01T00:00:00Z'),
    ).toEqual(['2027-01-01T00:00:00.000Z']);
    expect(
      times(canonicalizeSpec({ cronString: ['*/20 0 0 1 1 * *'] }), '2025-12-31T23:59:59Z', '2026-01-01T00:01:00Z'),
    ).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-01T00:00:20.000Z', '2026-01-01T00:00:40.000Z']);
    expect(times(canonicalizeSpec({ cronString: ['@daily'] }), '2026-01-01T00:00:00Z', '2026-01-03T00:00:00Z')).toEqual(
      ['2026-01-02T00:00:00.000Z', '2026-01-03T00:00:00.000Z'],
    );
    // 2026-01-04 is a Sunday; SAT,7 = Saturday and Sunday.
    expect(
      times(canonicalizeSpec({ cronString: ['0 9 * JAN SAT,7'] }), '2026-01-01T00:00:00Z', '2026-01-11T00:00:00Z'),
    ).toEqual(['2026-01-03T09:00:00.000Z', '2026-01-04T09:00:00.000Z', '2026-01-10T09:00:00.000Z']);
    expect(compileCron('0 12 * * * # noon').calendar?.comment).toBe('noon');
    expect(() => canonicalizeSpec({ cronString: ['1 2 3'] })).toThrow(/5, 6 or 7 fields/);
    expect(() => canonicalizeSpec({ cronString: ['61 * * * *'] })).toThrow(/out of range/);
  });

  test('@every with phase and interval specs match epoch + n * interval + phase', () => {
    expect(
      times(canonicalizeSpec({ cronString: ['@every 1h/19m'] }), '2026-01-01T00:00:00Z', '2026-01-01T02:30:00Z'),
    ).toEqual(['2026-01-01T00:19:00.000Z', '2026-01-01T01:19:00.000Z', '2026-01-01T02:19:00.000Z']);
    const spec = canonicalizeSpec({ interval: [{ everyMs: 28 * 86_400_000, phaseMs: 0 }] });
    expect(nextSpecTime(spec, Date.parse('2022-02-16T00:00:00Z'))?.nominal).toBe(Date.parse('2022-02-17T00:00:00Z'));
  });

  test('exclusions, start and end time, deterministic bounded jitter', () => {
    const spec = canonicalizeSpec({
      cronString: ['0 12 * * *'],
      excludeStructuredCalendar: [
        {
          second: [{ start: 0 }],
          minute: [{ start: 0 }],
          hour: [{ start: 12 }],
          dayOfMonth: [{ start: 2 }],
          month: [{ start: 1, end: 12 }],
          dayOfWeek: [{ start: 0, end: 6 }],
        },
      ],
      startTime: Date.parse('2026-01-01T12:00:00Z'),
      endTime: Date.parse('2026-01-04T12:00:00Z'),
    });
    expect(times(spec, '2025-12-01T00:00:00Z', '2026-02-01T00:00:00Z')).toEqual([
      '2026-01-01T12:00:00.000Z',
      '2026-01-03T12:00:00.000Z',
      '2026-01-04T12:00:00.000Z',
    ]);
    const jittered = canonicalizeSpec({ interval: [{ everyMs: 60_000, phaseMs: 0 }], jitterMs: 30_000 });
    const a = nextSpecTime(jittered, 0, 'seed')!;
    expect(a.actual - a.nominal).toBeGreaterThanOrEqual(0);
    expect(a.actual - a.nominal).toBeLessThan(30_000);
    expect(nextSpecTime(jittered, 0, 'seed')).toEqual(a);
  });

  test('time zones: wall-clock matching in IANA zones, CRON_TZ, and the DST changes', () => {
    // New York springs forward on 2026-03-08 (no 02:30) and falls back on 2026-11-01 (01:30 happens twice).
    const spring = canonicalizeSpec({ cronString: ['CRON_TZ=America/New_York 30 2 * * *'] });
    expect(spring.timezone).toBe('America/New_York');
    expect(times(spring, '2026-03-07T00:00:00Z', '2026-03-10T00:00:00Z')).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-09T06:30:00.000Z',
    ]);
    const fall = canonicalizeSpec({ cronString: ['30 1 * * *'], timezoneName: 'America/New_York' });
    expect(times(fall, '2026-10-31T00:00:00Z', '2026-11-02T12:00:00Z')).toEqual([
      '2026-10-31T05:30:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T06:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
    const tokyo = canonicalizeSpec({ cronString: ['0 9 * * *'], timezoneName: 'Asia/Tokyo' });
    expect(times(tokyo, '2026-06-01T00:00:00Z', '2026-06-02T00:00:00Z')).toEqual(['2026-06-02T00:00:00.000Z']);
    expect(() => canonicalizeSpec({ cronString: ['@daily'], timezoneName: 'Mars/Olympus' })).toThrow(/time zone/);
  });

  test('started workflow ids use RFC 3339 seconds in UTC, as Temporal does', () => {
    expect(rfc3339Seconds(Date.parse('2026-01-01T00:00:00.789Z'))).toBe('2026-01-01T00:00:00Z');
  });
});

describe('schedules through @temporalio/client', () => {
  let env: TestEnv;
  let client: Client;
  let worker: Worker;
  let workerRun: Promise<void>;
  let workflowBundle: WorkflowBundleWithSourceMap;
  const taskQueue = uniqueQueue('schedules');
  const FAR = { intervals: [{ every: '365 days' }] };

  beforeAll(async () => {
    env = await connect();
    client = env.client;
    workflowBundle = await bundle(require.resolve('./fixtures/schedule-workflows'));
    worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle });
    workerRun = worker.run();
  });

  afterAll(async () => {
    worker?.shutdown();
    await workerRun;
    await env?.close();
  });

  const create = async (
    workflowType: 'blocker' | 'failer' | 'chained',
    options: Partial<Parameters<Client['schedule']['create']>[0]> = {},
  ): Promise<{ id: string; workflowId: string }> => {
    const id = `sched-${randomUUID()}`;
    const workflowId = `wf-${id}`;
    await client.schedule.create({
      scheduleId: id,
      spec: FAR,
      action: { type: 'startWorkflow', workflowType, taskQueue, workflowId },
      ...options,
    });
    return { id, workflowId };
  };

  const describe_ = (id: string): Promise<ScheduleDescription> => client.schedule.getHandle(id).describe();

  // Describes schedule `id` until `check` holds; returns that description.
  const describeUntil = (
    what: string,
    id: string,
    check: (d: ScheduleDescription) => boolean,
  ): Promise<ScheduleDescription> =>
    pollUntil(
      `${what} in schedule ${id}`,
      async () => {
        const d = await describe_(id);
        return check(d) ? d : undefined;
      },
      { timeoutMs: 15_000 },
    );

  const releaseRunning = async (d: ScheduleDescription): Promise<void> => {
    for (const a of d.info.runningActions) await client.workflow.getHandle(a.workflow.workflowId).signal('release');
  };

  const statusOf = async (workflowId: string): Promise<string> =>
    (await client.workflow.getHandle(workflowId).describe()).status.name;

  test('create, describe, list, ListScheduleMatchingTimes, update with conflict token, delete', async () => {
    const { id, workflowId } = await create('blocker', {
      spec: {
        cronExpressions: ['CRON_TZ=Europe/Paris 0 6 * * MON'],
        intervals: [{ every: '1 day', offset: '1 hour' }],
      },
      memo: { team: 'ml' },
      policies: { overlap: ScheduleOverlapPolicy.BUFFER_ALL, catchupWindow: '1 minute' },
    });
    const d = await describe_(id);
    expect(d.spec.calendars).toHaveLength(1);
    expect(d.spec.calendars?.[0]).toMatchObject({
      hour: [{ start: 6, end: 6, step: 1 }],
      dayOfWeek: [{ start: 'MONDAY', end: 'MONDAY', step: 1 }],
    });
    expect(d.spec.timezone).toBe('Europe/Paris');
    expect(d.spec.intervals).toEqual([{ every: 86_400_000, offset: 3_600_000 }]);
    expect(d.action).toMatchObject({ workflowType: 'blocker', workflowId, taskQueue });
    expect(d.memo).toEqual({ team: 'ml' });
    expect(d.policies).toMatchObject({ overlap: ScheduleOverlapPolicy.BUFFER_ALL, catchupWindow: 60_000 });
    expect(d.info.nextActionTimes).toHaveLength(10);
    expect(d.info.createdAt.getTime()).toBeGreaterThan(Date.now() - 60_000);
    await expect(client.schedule.create({ scheduleId: id, spec: FAR, action: d.action })).rejects.toThrow(/already/);

    const listed: string[] = [];
    for await (const s of client.schedule.list({ pageSize: 1 })) listed.push(s.scheduleId);
    expect(listed).toContain(id);

    const service = client.workflowService;
    const start = new Date('2026-01-05T00:00:00Z');
    const matching: temporal.api.workflowservice.v1.IListScheduleMatchingTimesResponse =
      await service.listScheduleMatchingTimes({
        namespace: 'default',
        scheduleId: id,
        startTime: { seconds: Long.fromNumber(start.getTime() / 1000) },
        endTime: { seconds: Long.fromNumber(start.getTime() / 1000 + 2 * 86_400) },
      });
    expect(matching.startTime?.map((t) => iso(Number(t.seconds) * 1000))).toEqual([
      '2026-01-05T01:00:00.000Z',
      '2026-01-05T05:00:00.000Z', // Monday 06:00 in Paris (UTC+1)
      '2026-01-06T01:00:00.000Z',
    ]);

    // The SDK's update does not send a conflict token; the raw API checks it.
    const raw = await service.describeSchedule({ namespace: 'default', scheduleId: id });
    const stale = raw.conflictToken;
    await client.schedule.getHandle(id).update((prev) => ({ ...prev, spec: { cronExpressions: ['@hourly'] } }));
    const after = await describe_(id);
    expect(after.spec.calendars?.[0]).toMatchObject({ minute: [{ start: 0, end: 0, step: 1 }] });
    expect(after.info.lastUpdatedAt).toBeInstanceOf(Date);
    await expect(
      service.updateSchedule({
        namespace: 'default',
        scheduleId: id,
        schedule: raw.schedule ?? null,
        conflictToken: stale,
      }),
    ).rejects.toMatchObject({ code: 9 });
    const fresh = await service.describeSchedule({ namespace: 'default', scheduleId: id });
    await service.updateSchedule({
      namespace: 'default',
      scheduleId: id,
      schedule: fresh.schedule ?? null,
      conflictToken: fresh.conflictToken,
    });

    await client.schedule.getHandle(id).delete();
    await expect(describe_(id)).rejects.toThrow(/not found/i);
  });

  test('a patch sent again with its request id (a retried call) is applied once', async () => {
    const { id, workflowId } = await create('blocker');
    const patch = (requestId: string, at?: Date): Promise<unknown> =>
      client.workflowService.patchSchedule({
        namespace: 'default',
        scheduleId: id,
        requestId,
        patch: {
          triggerImmediately: {
            overlapPolicy: temporal.api.enums.v1.ScheduleOverlapPolicy.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
            ...(at === undefined ? {} : { scheduledTime: { seconds: Long.fromNumber(at.getTime() / 1000) } }),
          },
        },
      });
    await patch('patch-1');
    const first = await describeUntil('a running action', id, (x) => x.info.runningActions.length === 1);
    await releaseRunning(first);
    await describeUntil('no running action', id, (x) => x.info.runningActions.length === 0);
    // Sent again once the run it started has closed (a start of the same id would be allowed again): a retry must not
    // trigger a second time.
    await patch('patch-1');
    expect((await describe_(id)).info.numActionsTaken).toBe(1);
    // A new request is a new trigger.
    const at = new Date('2026-02-01T00:00:00Z');
    await patch('patch-2', at);
    const second = await describeUntil('a second action', id, (x) => x.info.numActionsTaken === 2);
    expect(second.info.runningActions.map((a) => a.workflow.workflowId)).toEqual([
      `${workflowId}-${rfc3339Seconds(at.getTime())}`,
    ]);
    await releaseRunning(second);
    await client.schedule.getHandle(id).delete();
  });

  test('trigger starts <workflowId>-<RFC3339> with schedule search attributes; recent actions follow its status', async () => {
    const { id, workflowId } = await create('blocker');
    const handle = client.schedule.getHandle(id);
    await handle.trigger();
    const d = await describeUntil('a running action', id, (x) => x.info.runningActions.length === 1);
    const started = d.info.runningActions[0]!.workflow.workflowId;
    expect(started).toMatch(new RegExp(`^${workflowId}-\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`));
    expect(d.info.numActionsTaken).toBe(1);
    expect(d.info.recentActions[0]!.action.workflow.workflowId).toBe(started);
    const wf = await client.workflow.getHandle(started).describe();
    expect(wf.raw.workflowExecutionInfo?.searchAttributes?.indexedFields?.['TemporalScheduledById']).toBeDefined();
    expect(wf.searchAttributes['TemporalScheduledById']).toEqual([id]);
    expect(wf.searchAttributes['TemporalScheduledStartTime']).toEqual([new Date(started.slice(workflowId.length + 1))]);
    await client.workflow.getHandle(started).signal('release');
    const done = await describeUntil('no running action', id, (x) => x.info.runningActions.length === 0);
    const raw = await client.workflowService.describeSchedule({ namespace: 'default', scheduleId: id });
    expect(raw.info?.recentActions?.[0]?.startWorkflowStatus).toBe(Status.WORKFLOW_EXECUTION_STATUS_COMPLETED);
    expect(done.info.numActionsTaken).toBe(1);
    await handle.delete();
  });

  test('pause and unpause with notes; pause on failure', async () => {
    const { id } = await create('failer', { policies: { pauseOnFailure: true } });
    const handle = client.schedule.getHandle(id);
    await handle.pause('maintenance');
    expect((await describe_(id)).state).toMatchObject({ paused: true, note: 'maintenance' });
    await handle.unpause('back');
    expect((await describe_(id)).state).toMatchObject({ paused: false, note: 'back' });
    await handle.trigger();
    const d = await describeUntil('paused after the failure', id, (x) => x.state.paused);
    expect(d.state.note).toMatch(/failed/);
    await handle.delete();
  });

  test('limited actions count down on scheduled actions and stop at zero', async () => {
    const { id } = await create('failer', {
      spec: { intervals: [{ every: '1 second' }] },
      state: { remainingActions: 2 },
      policies: { overlap: ScheduleOverlapPolicy.ALLOW_ALL },
    });
    const d = await describeUntil('two scheduled actions', id, (x) => x.info.numActionsTaken === 2);
    expect(d.state.remainingActions).toBe(0);
    expect(d.info.nextActionTimes).toEqual([]);
    await client.schedule.getHandle(id).delete();
  });

  // Backfill three interval times at once with each overlap policy; the workflow blocks until released.
  const backfill3 = async (overlap: ScheduleOverlapPolicy): Promise<{ id: string; base: number }> => {
    const { id } = await create('blocker', { spec: { intervals: [{ every: '1 minute' }] }, policies: { overlap } });
    const base = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
    await client.schedule.getHandle(id).backfill({ start: new Date(base - 1000), end: new Date(base + 120_000) });
    return { id, base };
  };

  test('overlap SKIP starts one and skips the rest', async () => {
    const { id } = await backfill3(ScheduleOverlapPolicy.SKIP);
    const d = await describeUntil('one running, two skipped', id, (x) => x.info.numActionsSkippedOverlap === 2);
    expect(d.info.runningActions).toHaveLength(1);
    expect(d.info.numActionsTaken).toBe(1);
    await releaseRunning(d);
    await client.schedule.getHandle(id).delete();
  });

  test('overlap BUFFER_ONE keeps one start for after the running one', async () => {
    const { id } = await backfill3(ScheduleOverlapPolicy.BUFFER_ONE);
    const d = await describeUntil('one running, one skipped', id, (x) => x.info.runningActions.length === 1);
    expect(d.info.numActionsSkippedOverlap).toBe(1);
    await releaseRunning(d);
    const second = await describeUntil(
      'the buffered start',
      id,
      (x) => x.info.numActionsTaken === 2 && x.info.runningActions.length === 1,
    );
    await releaseRunning(second);
    const done = await describeUntil('all done', id, (x) => x.info.runningActions.length === 0);
    expect(done.info.numActionsTaken).toBe(2);
    await client.schedule.getHandle(id).delete();
  });

  test('overlap BUFFER_ALL runs every start, one after another', async () => {
    const { id, base } = await backfill3(ScheduleOverlapPolicy.BUFFER_ALL);
    const started: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const d = await describeUntil(
        `start ${i}`,
        id,
        (x) => x.info.numActionsTaken === i && x.info.runningActions.length === 1,
      );
      started.push(d.info.runningActions[0]!.workflow.workflowId);
      await releaseRunning(d);
    }
    expect(started.map((w) => w.slice(-20))).toEqual([0, 1, 2].map((i) => rfc3339Seconds(base + i * 60_000)));
    await describeUntil('all done', id, (x) => x.info.runningActions.length === 0);
    await client.schedule.getHandle(id).delete();
  });

  test('overlap CANCEL_OTHER cancels the running workflow, then starts the newest', async () => {
    const { id, base } = await backfill3(ScheduleOverlapPolicy.CANCEL_OTHER);
    const d = await describeUntil(
      'the replacement running',
      id,
      (x) => x.info.numActionsTaken === 2 && x.info.runningActions.length === 1,
    );
    const first = d.info.recentActions[0]!.action.workflow.workflowId;
    expect(await statusOf(first)).toBe('CANCELLED');
    expect(d.info.runningActions[0]!.workflow.workflowId.slice(-20)).toBe(rfc3339Seconds(base + 120_000));
    await releaseRunning(d);
    await client.schedule.getHandle(id).delete();
  });

  test('overlap TERMINATE_OTHER terminates the running workflow and starts the newest', async () => {
    const { id } = await backfill3(ScheduleOverlapPolicy.TERMINATE_OTHER);
    const d = await describeUntil(
      'the replacement running',
      id,
      (x) => x.info.numActionsTaken === 2 && x.info.runningActions.length === 1,
    );
    expect(await statusOf(d.info.recentActions[0]!.action.workflow.workflowId)).toBe('TERMINATED');
    await releaseRunning(d);
    await client.schedule.getHandle(id).delete();
  });

  test('overlap ALLOW_ALL starts everything at once', async () => {
    const { id } = await backfill3(ScheduleOverlapPolicy.ALLOW_ALL);
    const d = await describeUntil('three running', id, (x) => x.info.runningActions.length === 3);
    expect(d.info.numActionsTaken).toBe(3);
    await releaseRunning(d);
    await describeUntil('all done', id, (x) => x.info.runningActions.length === 0);
    await client.schedule.getHandle(id).delete();
  });

  /**
   * Triggers the schedule's next action and returns the run it started, once it has closed. SKIP unless told: the
   * TypeScript client's `trigger()` defaults to ALLOW_ALL.
   */
  const triggerAndWait = async (
    id: string,
    overlap: ScheduleOverlapPolicy = ScheduleOverlapPolicy.SKIP,
  ): Promise<{ workflowId: string; outcome: ChainedReport | string }> => {
    const before = (await describe_(id)).info.recentActions.length;
    await client.schedule.getHandle(id).trigger(overlap);
    const d = await describeUntil(
      'the triggered run to close',
      id,
      (x) => x.info.recentActions.length === before + 1 && x.info.runningActions.length === 0,
    );
    const { workflowId, firstExecutionRunId } = d.info.recentActions.at(-1)!.action.workflow;
    const run = client.workflow.getHandle<typeof chained>(workflowId, firstExecutionRunId);
    try {
      return { workflowId, outcome: await run.result() };
    } catch (err) {
      return { workflowId, outcome: (err as WorkflowFailedError).cause?.message ?? String(err) };
    }
  };

  test('the last completion result and the last failure go to the next run (not to ALLOW_ALL runs)', async () => {
    const { id } = await create('chained');
    const first = await triggerAndWait(id);
    expect(first.outcome).toEqual({ n: 1, lastResult: null, lastFailure: null });
    expect((await triggerAndWait(id)).outcome).toBe('run 2 failed');
    // The failure is handed on with the last result (the failed run's does not replace it).
    const third = await triggerAndWait(id);
    expect(third.outcome).toEqual({ n: 2, lastResult: first.outcome, lastFailure: 'run 2 failed' });
    // A completion clears the failure.
    const fourth = await triggerAndWait(id);
    expect(fourth.outcome).toEqual({ n: 3, lastResult: third.outcome, lastFailure: null });
    // ALLOW_ALL runs take no part, as on Temporal.
    const allowAll = await triggerAndWait(id, ScheduleOverlapPolicy.ALLOW_ALL);
    expect(allowAll.outcome).toEqual({ n: 1, lastResult: null, lastFailure: null });
    await client.schedule.getHandle(id).delete();
  });

  test('keep_original_workflow_id starts every run with the action workflow id (ALLOW_ALL runs still get the time)', async () => {
    // The TypeScript client has no option for the policy: the schedule is created through the raw service.
    const id = `sched-${randomUUID()}`;
    const workflowId = `wf-${id}`;
    await env.connection.workflowService.createSchedule({
      namespace: 'default',
      scheduleId: id,
      requestId: randomUUID(),
      schedule: {
        spec: { interval: [{ interval: { seconds: Long.fromNumber(365 * 86_400) } }] },
        action: { startWorkflow: { workflowId, workflowType: { name: 'chained' }, taskQueue: { name: taskQueue } } },
        policies: { keepOriginalWorkflowId: true },
      },
    });
    const described = await env.connection.workflowService.describeSchedule({ namespace: 'default', scheduleId: id });
    expect(described.schedule?.policies?.keepOriginalWorkflowId).toBe(true);
    const first = await triggerAndWait(id);
    expect(first.workflowId).toBe(workflowId);
    expect(first.outcome).toEqual({ n: 1, lastResult: null, lastFailure: null });
    // The same id again, for a new run that got the first run's result.
    const second = await triggerAndWait(id);
    expect(second.workflowId).toBe(workflowId);
    expect(second.outcome).toBe('run 2 failed');
    const runs = new Set((await describe_(id)).info.recentActions.map((a) => a.action.workflow.firstExecutionRunId));
    expect(runs.size).toBe(2);
    const allowAll = await triggerAndWait(id, ScheduleOverlapPolicy.ALLOW_ALL);
    expect(allowAll.workflowId).toMatch(new RegExp(`^${workflowId}-\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$`));
    await client.schedule.getHandle(id).delete();
  });
});

describe('schedules survive kill -9', () => {
  let dir: string;
  afterAll(async () => {
    await killAllServers();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('missed actions inside the catchup window run once after a restart; none runs twice', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mloe-schedules-'));
    const dbFile = join(dir, 'state.db');
    const args = (port: number): string[] => [
      '--port',
      String(port),
      '--db-filename',
      dbFile,
      '--headless',
      '--log-level',
      'warn',
    ];
    const first = spawnServer(args(0));
    const address = await first.ready();
    const port = Number(address.slice(address.lastIndexOf(':') + 1));
    let connection = await Connection.connect({ address });
    let client = new Client({ connection });
    const id = `restart-${randomUUID()}`;
    // No worker: started runs stay open, so ALLOW_ALL starts one per second.
    await client.schedule.create({
      scheduleId: id,
      spec: { intervals: [{ every: '1 second' }] },
      action: { type: 'startWorkflow', workflowType: 'blocker', taskQueue: 'no-worker', workflowId: id },
      policies: { overlap: ScheduleOverlapPolicy.ALLOW_ALL },
    });
    const before = await pollUntil(
      'two actions',
      async () => {
        const d = await client.schedule.getHandle(id).describe();
        return d.info.numActionsTaken >= 2 ? d : undefined;
      },
      { timeoutMs: 15_000 },
    );
    await first.kill('SIGKILL');
    await connection.close();
    const killedAt = Date.now();
    // Kept as a sleep: the server stays down across a few scheduled times, the scenario under test (the times it
    // missed are caught up after the restart), not a synchronisation; nothing happens that could be polled for.
    await new Promise((r) => setTimeout(r, 2500));
    const second = spawnServer(args(port));
    await second.ready();
    connection = await Connection.connect({ address });
    client = new Client({ connection });
    const after = await pollUntil(
      'actions after the restart',
      async () => {
        const d = await client.schedule.getHandle(id).describe();
        return d.info.numActionsTaken >= before.info.numActionsTaken + 4 ? d : undefined;
      },
      { timeoutMs: 15_000 },
    );
    // Every second from the first action on has exactly one workflow: none missing, none twice.
    const ids = after.info.runningActions.map((a) => a.workflow.workflowId);
    expect(new Set(ids).size).toBe(ids.length);
    const stamps = ids.map((w) => Date.parse(w.slice(id.length + 1))).sort((a, b) => a - b);
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]! - stamps[i - 1]!).toBe(1000);
    expect(stamps.length).toBe(after.info.numActionsTaken);
    expect(stamps.some((t) => t > killedAt && t < killedAt + 2000)).toBe(true);
    expect(after.info.numActionsMissedCatchupWindow).toBe(0);
    await client.schedule.getHandle(id).delete();
    await connection.close();
    await second.kill('SIGTERM');
  });
});

describe('ListSchedules and CountSchedules queries', () => {
  let env: TestEnv;
  const tag = `tag-${randomUUID()}`;
  const keyword = defineSearchAttributeKey('CustomKeywordField', SearchAttributeType.KEYWORD);
  const ids = ['a', 'b', 'c'].map((x) => `query-${x}-${randomUUID()}`);
  const [a, b, c] = ids as [string, string, string];

  beforeAll(async () => {
    env = await connect();
    for (const id of ids) {
      await env.client.schedule.create({
        scheduleId: id,
        spec: { intervals: [{ every: '365 days' }] },
        action: { type: 'startWorkflow', workflowType: 'blocker', taskQueue: 'no-worker', workflowId: `wf-${id}` },
        typedSearchAttributes: [{ key: keyword, value: tag }],
      });
    }
  });

  afterAll(async () => {
    for (const id of ids) await env?.client.schedule.getHandle(id).delete();
    await env?.close();
  });

  const list = async (query: string): Promise<string[]> => {
    const out: string[] = [];
    for await (const s of env.client.schedule.list({ query, pageSize: 1 })) out.push(s.scheduleId);
    return out;
  };
  const count = async (query: string): Promise<number> =>
    Number((await env.client.workflowService.countSchedules({ namespace: 'default', query })).count);
  const mine = `CustomKeywordField = '${tag}'`;

  test('filter on a custom keyword attribute and on ScheduleId, listed and counted', async () => {
    expect(await list(mine)).toEqual([...ids].sort());
    expect(await count(mine)).toBe(3);
    expect(await list(`ScheduleId = '${b}'`)).toEqual([b]);
    expect(await list(`ScheduleId IN ('${a}', '${c}') AND ${mine}`)).toEqual([a, c].sort());
    expect(await list(`${mine} AND ScheduleId != '${a}'`)).toEqual([b, c].sort());
    expect(await count(`CustomKeywordField = 'no-such-${tag}'`)).toBe(0);
    // An empty query still lists everything.
    expect(
      Number((await env.client.workflowService.countSchedules({ namespace: 'default' })).count),
    ).toBeGreaterThanOrEqual(3);
  });

  test('TemporalSchedulePaused follows pause and unpause; entries report it as info.paused', async () => {
    const paused = `${mine} AND TemporalSchedulePaused = true`;
    expect(await list(paused)).toEqual([]);
    await env.client.schedule.getHandle(b).pause('maintenance');
    expect(await list(paused)).toEqual([b]);
    expect(await list(`${mine} AND TemporalSchedulePaused = false`)).toEqual([a, c].sort());
    expect(await count(paused)).toBe(1);

    const raw = await env.client.workflowService.listSchedules({ namespace: 'default', query: paused });
    expect(raw.schedules.map((s) => s.scheduleId)).toEqual([b]);
    const entry = raw.schedules[0]!;
    expect(entry.info?.paused).toBe(true);
    expect(entry.info?.notes).toBe('maintenance');
    // As in Temporal, the entry's search attributes are the user's only.
    expect(Object.keys(entry.searchAttributes?.indexedFields ?? {})).toEqual(['CustomKeywordField']);
    for await (const s of env.client.schedule.list({ query: `ScheduleId = '${b}'` })) {
      expect(s.state.paused).toBe(true);
      expect(s.typedSearchAttributes?.get(keyword)).toBe(tag);
    }

    await env.client.schedule.getHandle(b).unpause('back');
    expect(await list(paused)).toEqual([]);
    expect(await count(`${mine} AND TemporalSchedulePaused = false`)).toBe(3);
  });

  test('invalid queries answer INVALID_ARGUMENT with the column', async () => {
    const rejects = async (query: string, message: RegExp): Promise<void> => {
      const call = env.client.workflowService.listSchedules({ namespace: 'default', query });
      await expect(call).rejects.toMatchObject({ code: 3 });
      await expect(call).rejects.toThrow(message);
      const counted = env.client.workflowService.countSchedules({ namespace: 'default', query });
      await expect(counted).rejects.toMatchObject({ code: 3 });
    };
    await rejects(
      "ScheduleId = 'x' AND ExecutionDuration > '1s'",
      /cannot filter on "ExecutionDuration" \(at column 22\)/,
    );
    await rejects('ScheduleId =', /syntax error at column 13 near end of query/);
    await rejects("NoSuchField = 'x'", /'NoSuchField' is not a valid search attribute \(at column 1\)/);
    await rejects('TemporalSchedulePaused = 1', /invalid value type .* \(at column 26\)/);
    await rejects(`${mine} ORDER BY ScheduleId`, /'order by' clause/);
  });
});

describe('catchup window after a restart (injected clock)', () => {
  test('times missed longer ago than the window are skipped and counted; the minimum window is 10 s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mloe-catchup-'));
    const dbFilename = join(dir, 'state.db');
    let now = Date.parse('2026-01-01T00:00:05Z');
    const clock = { now: () => now };
    const create = async (client: Client, id: string, catchupWindow: string): Promise<void> => {
      await client.schedule.create({
        scheduleId: id,
        spec: { intervals: [{ every: '1 minute' }] },
        action: { type: 'startWorkflow', workflowType: 'blocker', taskQueue: 'no-worker', workflowId: id },
        policies: { overlap: ScheduleOverlapPolicy.ALLOW_ALL, catchupWindow },
      });
    };
    try {
      let server = await startDevServer({ port: 0, dbFilename, clock });
      let connection = await Connection.connect({ address: server.address });
      try {
        const client = new Client({ connection });
        await create(client, 'one-minute', '1 minute');
        // Below Temporal's minimum: treated as 10 s.
        await create(client, 'one-second', '1 second');
        expect((await client.schedule.getHandle('one-minute').describe()).info.numActionsTaken).toBe(0);
      } finally {
        await connection.close();
        await server.close();
      }

      // Down from 00:00:05 to 00:10:05: 00:01 … 00:09 are over a minute late, 00:10 is 5 s late.
      now = Date.parse('2026-01-01T00:10:05Z');
      server = await startDevServer({ port: 0, dbFilename, clock });
      connection = await Connection.connect({ address: server.address });
      try {
        const client = new Client({ connection });
        for (const id of ['one-minute', 'one-second']) {
          const d = await client.schedule.getHandle(id).describe();
          expect(d.info.numActionsMissedCatchupWindow).toBe(9);
          expect(d.info.numActionsTaken).toBe(1);
          expect(d.info.recentActions.map((r) => r.action.workflow.workflowId)).toEqual([`${id}-2026-01-01T00:10:00Z`]);
        }
      } finally {
        await connection.close();
        await server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
