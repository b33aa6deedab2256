/**
 * Schedule lateness (issue 3): 100 schedules firing every second on a dev server in its own process; for every action
 * started in the measuring window, how late the workflow started relative to its scheduled time
 * (`TemporalScheduledStartTime` vs the start time visibility reports). Target: p99 under 500 ms.
 * `benchSchedules()` prints a table and returns the figures; run this file directly or from `npm run bench`.
 */
import { startServerProcess } from './server-process';
import { Client, Connection, ScheduleOverlapPolicy } from '@temporalio/client';

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

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
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

if (require.main === module) {
  benchSchedules().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
