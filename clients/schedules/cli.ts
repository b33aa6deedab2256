/**
 * What `mloe schedule …` prints: thin layers over the client API (`./schedules.ts`), loaded only when a schedule
 * command runs. Bad input is reported before anything connects or is created: flags and timing exit 2, a spec that
 * does not validate prints every problem (file:line:col, field, message, fix) and exits 1.
 */
import type { Client } from '@temporalio/client';

import { MloeError, ensureError } from '../../core/errors';
import { SpecInvalidError, formatIssue } from '../../core/spec';
import type { ConnectionConfig } from '../../workers/config';
import { withConnectedClient } from '../connection';
import type { StartDevIo } from '../start-dev';
import { formatSpecChanges } from './spec-diff';
import {
  backfillPipelineSchedule,
  createPipelineSchedule,
  deletePipelineSchedule,
  describePipelineSchedule,
  listPipelineSchedules,
  pausePipelineSchedule,
  preparePipelineSchedule,
  triggerPipelineSchedule,
  unpausePipelineSchedule,
  updatePipelineSchedule,
  type CreatePipelineScheduleOptions,
  type PipelineScheduleDescription,
  type UpdatePipelineScheduleOptions,
} from './schedules';

/** Reports an error the way every schedule command does; returns the exit code (2 for bad flags or timing). */
export function reportScheduleError(error: unknown, io: StartDevIo, what = 'nothing was created'): number {
  if (error instanceof SpecInvalidError) {
    for (const issue of error.issues) io.stdout(formatIssue(issue));
    const count = error.issues.length;
    io.stderr(`error: the spec has ${count} ${count === 1 ? 'problem' : 'problems'}; ${what}`);
    return 1;
  }
  io.stderr(`error: ${ensureError(error).message}`);
  const code = error instanceof MloeError ? error.code : undefined;
  return code === 'CONFIG_INVALID' || code === 'SCHEDULE_SPEC_INVALID' ? 2 : 1;
}

/** Runs `body` connected, reporting errors as {@link reportScheduleError} does. */
function connected(
  config: ConnectionConfig,
  io: StartDevIo,
  body: (client: Client) => Promise<number>,
  what?: string,
): Promise<number> {
  return withConnectedClient(config, { stderr: io.stderr }, async (client) => {
    try {
      return await body(client);
    } catch (error) {
      return reportScheduleError(error, io, what);
    }
  });
}

const iso = (time: Date | undefined): string => (time === undefined ? '-' : time.toISOString());

/** Lines describing a schedule: what it runs, when, its policies and state, next runs, recent runs and outcomes. */
export function formatScheduleDescription(d: PipelineScheduleDescription): string[] {
  const spec = d.spec;
  const timing = [
    ...(spec.calendars ?? []).map((c) => `calendar ${JSON.stringify(c)}`),
    ...(spec.intervals ?? []).map((i) => `every ${i.every / 1000}s${i.offset ? ` offset ${i.offset / 1000}s` : ''}`),
  ];
  const lines = [
    `schedule   ${d.name}${d.paused ? ' (paused)' : ''}`,
    `pipeline   ${d.pipeline}  spec ${d.specHash}${d.specFile === undefined ? '' : `  from ${d.specFile}`}`,
    `params     ${JSON.stringify(d.params)}`,
    ...(d.scheduledTimeParam === undefined ? [] : [`time param ${d.scheduledTimeParam} (each run's scheduled time)`]),
    `when       ${timing.join('; ')}${spec.timezone ? ` (${spec.timezone})` : ' (UTC)'}${spec.jitter ? `, jitter ${spec.jitter / 1000}s` : ''}`,
    `policies   overlap ${d.overlap}, catch-up window ` +
      `${d.catchupWindowMs === undefined ? "the server's default (1 year)" : `${Math.round(d.catchupWindowMs / 1000)}s`}` +
      `${d.pauseOnFailure ? ', pause on failure' : ''}`,
    ...(d.note === undefined ? [] : [`note       ${d.note}`]),
    ...(d.remainingActions === undefined ? [] : [`remaining  ${d.remainingActions} runs`]),
    `actions    ${d.counts.taken} taken, ${d.counts.skippedOverlap} skipped (overlap), ` +
      `${d.counts.missedCatchupWindow} missed (catch-up window)`,
    `next runs  ${d.nextRuns.length === 0 ? '-' : d.nextRuns.slice(0, 5).map(iso).join(', ')}`,
    'recent runs:',
  ];
  if (d.recentRuns.length === 0) lines.push('  (none yet)');
  for (const run of d.recentRuns) {
    lines.push(`  ${run.workflowId}  scheduled ${iso(run.scheduledAt)}  started ${iso(run.startedAt)}  ${run.status}`);
  }
  return lines;
}

/** `mloe schedule create NAME FILE …`. */
export async function runScheduleCreate(
  options: CreatePipelineScheduleOptions,
  config: ConnectionConfig,
  io: StartDevIo,
): Promise<number> {
  let prepared: Awaited<ReturnType<typeof preparePipelineSchedule>>;
  try {
    prepared = await preparePipelineSchedule(options);
  } catch (error) {
    return reportScheduleError(error, io);
  }
  return connected(config, io, async (client) => {
    const described = await createPipelineSchedule(client, prepared);
    io.stdout(`created schedule ${described.name}: pipeline ${described.pipeline}, spec ${described.specHash} pinned`);
    io.stdout(`next runs  ${described.nextRuns.slice(0, 3).map(iso).join(', ') || '-'}`);
    return 0;
  });
}

/** `mloe schedule list`. */
export function runScheduleList(config: ConnectionConfig, io: StartDevIo): Promise<number> {
  return connected(config, io, async (client) => {
    const schedules = await listPipelineSchedules(client);
    if (schedules.length === 0) {
      io.stdout('no pipeline schedules (create one with `mloe schedule create NAME FILE --every 1d`)');
      return 0;
    }
    const rows = schedules.map((s) => [
      s.name,
      s.pipeline ?? '-',
      s.paused ? 'paused' : 'active',
      iso(s.nextRun),
      iso(s.lastRun),
      s.note ?? '',
    ]);
    const header = ['SCHEDULE', 'PIPELINE', 'STATE', 'NEXT RUN', 'LAST RUN', 'NOTE'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
    for (const row of [header, ...rows]) {
      io.stdout(
        row
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd(),
      );
    }
    return 0;
  });
}

/** `mloe schedule describe NAME [--json]`. */
export function runScheduleDescribe(
  name: string,
  options: { json?: boolean },
  config: ConnectionConfig,
  io: StartDevIo,
): Promise<number> {
  return connected(config, io, async (client) => {
    const described = await describePipelineSchedule(client, name);
    if (options.json === true) {
      const { input: _input, ...rest } = described;
      io.stdout(JSON.stringify(rest, null, 2));
    } else {
      for (const line of formatScheduleDescription(described)) io.stdout(line);
    }
    return 0;
  });
}

/** `mloe schedule pause|unpause NAME [--note TEXT]`. */
export function runScheduleToggle(
  kind: 'pause' | 'unpause',
  name: string,
  note: string | undefined,
  config: ConnectionConfig,
  io: StartDevIo,
): Promise<number> {
  return connected(config, io, async (client) => {
    if (kind === 'pause') await pausePipelineSchedule(client, name, note);
    else await unpausePipelineSchedule(client, name, note);
    io.stdout(`schedule ${name} ${kind}d${note === undefined ? '' : `: ${note}`}`);
    return 0;
  });
}

/** `mloe schedule trigger NAME [--overlap POLICY]`. */
export function runScheduleTrigger(
  name: string,
  overlap: string | undefined,
  config: ConnectionConfig,
  io: StartDevIo,
): Promise<number> {
  return connected(config, io, async (client) => {
    await triggerPipelineSchedule(client, name, overlap);
    io.stdout(`schedule ${name}: a run was requested now (\`mloe schedule describe ${name}\` shows it)`);
    return 0;
  });
}

/** `mloe schedule backfill NAME --from T --to T [--overlap POLICY]`. */
export function runScheduleBackfill(
  name: string,
  range: { from: string; to: string; overlap?: string },
  config: ConnectionConfig,
  io: StartDevIo,
): Promise<number> {
  return connected(config, io, async (client) => {
    await backfillPipelineSchedule(client, name, range);
    io.stdout(
      `schedule ${name}: backfill of ${range.from} to ${range.to} requested (overlap ${range.overlap ?? 'buffer-all'})`,
    );
    return 0;
  });
}

/** `mloe schedule update NAME FILE [--dry-run] …`: prints the difference, then re-pins. */
export function runScheduleUpdate(
  name: string,
  options: UpdatePipelineScheduleOptions,
  config: ConnectionConfig,
  io: StartDevIo,
): Promise<number> {
  return connected(
    config,
    io,
    async (client) => {
      const update = await updatePipelineSchedule(client, name, options);
      if (update.changes.length === 0) io.stdout(`spec unchanged (${update.before.specHash})`);
      else {
        io.stdout(`spec ${update.before.specHash} → ${update.after.specHash}:`);
        for (const line of formatSpecChanges(update.changes)) io.stdout(`  ${line}`);
      }
      if (options.dryRun === true) io.stdout('dry run: nothing changed');
      else io.stdout(`schedule ${name} re-pinned: runs from now on start with spec ${update.after.specHash}`);
      return 0;
    },
    'nothing was changed',
  );
}

/** `mloe schedule delete NAME`. */
export function runScheduleDelete(name: string, config: ConnectionConfig, io: StartDevIo): Promise<number> {
  return connected(config, io, async (client) => {
    await deletePipelineSchedule(client, name);
    io.stdout(`schedule ${name} deleted (runs it started go on)`);
    return 0;
  });
}
