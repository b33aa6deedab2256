/**
 * Schedule benchmarks. `benchSchedules()` (issue 3, run by `npm run bench:devserver`): 100 plain schedules firing
 * every second on a dev server in its own process; for every action started in the measuring window, how late the
 * workflow started relative to its scheduled time (`TemporalScheduledStartTime` vs the start time visibility reports).
 * Target: p99 under 500 ms.
 *
 * `benchPipelineSchedules()` (issue 11, `npm run bench:schedules`, also what running this file does): 1,000 pipeline
 * schedules (`clients/schedules/`, the action a real `runPipeline` start with its pinned spec) on one dev server
 * process. First the server's CPU share while idle, with no schedule (the baseline) and with the 1,000 schedules
 * created but not due (their `startAt` a day away), read from `/proc/<pid>/stat`; then the schedules are updated to
 * fire every 30 s (offsets spread over the period, no worker, overlap allow-all so each action starts a run) and the
 * start lateness of every action in the window is measured as above. Targets: p99 at most 1 s, idle CPU at most 5% of
 * one core. `BENCH_PIPELINE_SCHEDULES`, `BENCH_IDLE_WINDOW_MS` and `BENCH_PIPELINE_WINDOW_MS` change the defaults
 * (1,000, 10 s, 30 s).
 */
import { startServerProcess } from './server-process';
import { readFileSync } from 'node:fs';

import { Client, Connection, ScheduleOverlapPolicy } from '@temporalio/client';

import { createPipelineSchedule, preparePipelineSchedule } from '../clients/schedules/schedules';
import { registerSearchAttributes } from '../workers/search-attributes';
import { percentile } from './stats';

const SCHEDULES = Number(process.env.BENCH_SCHEDULES ?? 100);
const WINDOW_MS = Number(process.env.BENCH_SCHEDULE_WINDOW_MS ?? 10_000);

/** Figures of one run. */
export interface ScheduleFigures {
  schedules: number;
  actions: number;
  p50: number;
  p99: number;
  max: number;
}

/** Runs the benchmark against a fresh in-memory server process. */
export async function benchSchedules(): Promise<ScheduleFigures> {
  const server = await startServerProcess(undefined);
  const { address } = server;
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  try {
    for (let i = 0; i < SCHEDULES; i++) {
      await client.schedule.create({
        scheduleId: `bench-${i}`,
        spec: { intervals: [{ every: '1 second' }] },
        // No worker: runs stay open, so every action starts a new workflow.
        policies: { overlap: ScheduleOverlapPolicy.ALLOW_ALL },
        action: {
          type: 'startWorkflow',
          workflowType: 'noop',
          taskQueue: 'bench-schedules-unpolled',
          workflowId: `bench-${i}`,
        },
      });
    }
    const from = Date.now() + 2_000; // let every schedule settle into its rhythm
    await new Promise((r) => setTimeout(r, 2_000 + WINDOW_MS)); // the measured period itself
    const lateness: number[] = [];
    for await (const wf of client.workflow.list({ query: `TemporalScheduledById STARTS_WITH 'bench-'` })) {
      const scheduled = wf.searchAttributes['TemporalScheduledStartTime']?.[0];
      if (!(scheduled instanceof Date) || scheduled.getTime() < from) continue;
      lateness.push(wf.startTime.getTime() - scheduled.getTime());
    }
    lateness.sort((a, b) => a - b);
    const figures = {
      schedules: SCHEDULES,
      actions: lateness.length,
      p50: percentile(lateness, 50),
      p99: percentile(lateness, 99),
      max: lateness[lateness.length - 1] ?? NaN,
    };
    console.log(
      `schedules: ${SCHEDULES} schedules every 1 s, ${WINDOW_MS / 1000} s measured, ${figures.actions} actions`,
    );
    console.log('| start lateness p50 (ms) | p99 (ms) | max (ms) |');
    console.log('| --- | --- | --- |');
    console.log(`| ${figures.p50} | ${figures.p99} | ${figures.max} |`);
    return figures;
  } finally {
    for (let i = 0; i < SCHEDULES; i++)
      await client.schedule
        .getHandle(`bench-${i}`)
        .delete()
        .catch(() => undefined);
    await connection.close();
    await server.stop();
  }
}

const PIPELINE_SCHEDULES = Number(process.env.BENCH_PIPELINE_SCHEDULES ?? 1000);
const IDLE_WINDOW_MS = Number(process.env.BENCH_IDLE_WINDOW_MS ?? 10_000);
const PIPELINE_WINDOW_MS = Number(process.env.BENCH_PIPELINE_WINDOW_MS ?? 30_000);
const PERIOD_S = 30;

/** Figures of one run of {@link benchPipelineSchedules}. */
export interface PipelineScheduleFigures extends ScheduleFigures {
  /** The server's CPU over the idle window, as a share of one core: with no schedule, and with them all. */
  idleCpuBaseline: number;
  idleCpu: number;
  createSeconds: number;
}

/** CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`; NaN where there is no procfs. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid ?? 0}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ is 100 on Linux)
  } catch {
    return Number.NaN;
  }
}

/** The server's CPU share of one core over `ms` of waiting. */
async function cpuShare(pid: number | undefined, ms: number): Promise<number> {
  const before = cpuSeconds(pid);
  const start = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  return (cpuSeconds(pid) - before) / ((Date.now() - start) / 1000);
}

/** Runs the pipeline schedules benchmark against a fresh in-memory server process. */
export async function benchPipelineSchedules(): Promise<PipelineScheduleFigures> {
  const server = await startServerProcess(undefined);
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const names = Array.from({ length: PIPELINE_SCHEDULES }, (_, i) => `bench-pipe-${i}`);
  try {
    await registerSearchAttributes(connection, 'default');
    const idleCpuBaseline = await cpuShare(server.child.pid, IDLE_WINDOW_MS);
    // One spec validated and pinned, shared by every schedule (each keeps its own name in the input).
    const dayAway = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
    const prepared = await preparePipelineSchedule({
      name: 'bench-pipe-0',
      spec: {
        apiVersion: 'mloe.dev/v1',
        kind: 'Pipeline',
        metadata: { name: 'bench-pipe' },
        params: { scheduledTime: { type: 'string', default: '' } },
        steps: { hello: { run: { command: ['echo', '${{ params.scheduledTime }}'] } } },
      },
      timing: { every: [`${PERIOD_S}s`], startTime: dayAway },
      overlap: 'allow-all',
      taskQueue: 'bench-schedules-unpolled',
    });
    const created = Date.now();
    for (const [i, name] of names.entries()) {
      await createPipelineSchedule(client, {
        ...prepared,
        options: { ...prepared.options, name },
        spec: { intervals: [{ every: PERIOD_S * 1000, offset: (i % PERIOD_S) * 1000 }], startAt: new Date(dayAway) },
        input: { ...prepared.input, schedule: { name, scheduledTimeParam: 'scheduledTime' } },
      });
    }
    const createSeconds = (Date.now() - created) / 1000;
    const idleCpu = await cpuShare(server.child.pid, IDLE_WINDOW_MS);
    // Now due: every schedule fires every 30 s from its offset.
    for (const [i, name] of names.entries()) {
      await client.schedule.getHandle(name).update((previous) => ({
        ...previous,
        spec: { intervals: [{ every: PERIOD_S * 1000, offset: (i % PERIOD_S) * 1000 }] },
      }));
    }
    const from = Date.now() + 2_000;
    await new Promise((r) => setTimeout(r, 2_000 + PIPELINE_WINDOW_MS));
    const until = Date.now();
    const lateness: number[] = [];
    for await (const wf of client.workflow.list({ query: `TemporalScheduledById STARTS_WITH 'bench-pipe-'` })) {
      const scheduled = wf.searchAttributes['TemporalScheduledStartTime']?.[0];
      if (!(scheduled instanceof Date) || scheduled.getTime() < from || scheduled.getTime() > until) continue;
      lateness.push(wf.startTime.getTime() - scheduled.getTime());
    }
    lateness.sort((a, b) => a - b);
    const figures: PipelineScheduleFigures = {
      schedules: PIPELINE_SCHEDULES,
      actions: lateness.length,
      p50: percentile(lateness, 50),
      p99: percentile(lateness, 99),
      max: lateness[lateness.length - 1] ?? NaN,
      idleCpuBaseline,
      idleCpu,
      createSeconds,
    };
    console.log(
      `pipeline schedules: ${PIPELINE_SCHEDULES} schedules every ${PERIOD_S} s (created in ` +
        `${createSeconds.toFixed(1)} s), idle ${IDLE_WINDOW_MS / 1000} s, ${PIPELINE_WINDOW_MS / 1000} s measured, ` +
        `${figures.actions} actions`,
    );
    console.log(
      '| idle CPU, no schedules (% of a core) | idle CPU, all schedules | lateness p50 (ms) | p99 (ms) | max (ms) |',
    );
    console.log('| --- | --- | --- | --- | --- |');
    console.log(
      `| ${(idleCpuBaseline * 100).toFixed(2)} | ${(idleCpu * 100).toFixed(2)} | ${figures.p50} | ${figures.p99} | ` +
        `${figures.max} |`,
    );
    console.log(
      `targets: p99 <= 1000 ms ${figures.p99 <= 1000 ? 'met' : 'MISSED'}; idle CPU <= 5% ` +
        `${idleCpu <= 0.05 ? 'met' : 'MISSED'}`,
    );
    return figures;
  } finally {
    await connection.close();
    await server.stop();
  }
}

if (require.main === module) {
  benchPipelineSchedules().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
