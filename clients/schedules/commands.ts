/**
 * The `mloe schedule` commands (commander definitions only; `./cli.ts` loads when one runs): create, list, describe,
 * pause, unpause, trigger, backfill, update, delete. Flags follow `temporal schedule`, whose names are accepted too
 * (`--interval` for `--every`, `--time-zone` for `--timezone`, `--overlap-policy` for `--overlap`, `--notes` for
 * `--note`, `--reason` for a pause's `--note`, `--start-time`/`--end-time` for a backfill's `--from`/`--to`).
 */
import { Command, Option } from 'commander';

import type { ConnectionConfig, SettingFlags } from '../../workers/config';
import type { StartDevIo } from '../start-dev';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The flags of `create` and `update` as commander hands them over. */
interface ScheduleFlags extends SettingFlags {
  param?: string[];
  cron?: string[];
  every?: string[];
  interval?: string[];
  offset?: string;
  calendar?: string[];
  timezone?: string;
  timeZone?: string;
  jitter?: string;
  startTime?: string;
  endTime?: string;
  overlap?: string;
  overlapPolicy?: string;
  catchupWindow?: string;
  pauseOnFailure?: boolean;
  note?: string;
  notes?: string;
  paused?: boolean;
  remainingActions?: string;
  scheduledTimeParam?: string;
  artifactRoot?: string;
  artifactStore?: string;
  cache: boolean;
  taskQueue?: string;
  dryRun?: boolean;
}

/** A flag and its hidden Temporal CLI spelling. */
function aliased(command: Command, flags: string, alias: string, description: string, repeatable = false): Command {
  const main = new Option(flags, description);
  const hidden = new Option(alias).hideHelp();
  if (repeatable) {
    main.argParser(collect);
    hidden.argParser(collect);
  }
  return command.addOption(main).addOption(hidden);
}

/** Adds the timing, policy and run flags of `create` (and, for `update`, the same flags, all optional). */
function withScheduleFlags(command: Command): Command {
  aliased(
    command,
    '--every <duration>',
    '--interval <duration>',
    'run every DURATION (1d, 6h, 90m; EVERY/OFFSET as 6h/5h; repeatable)',
    true,
  );
  command
    .option('--cron <expr>', 'run at the times of a cron string ("0 3 * * *", @daily; repeatable)', collect)
    .option(
      '--calendar <json>',
      'run at a calendar, JSON of string fields: {"dayOfWeek":"Mon-Fri","hour":"6"} (repeatable)',
      collect,
    )
    .option('--offset <duration>', 'shift --every intervals by this much (with --every 1h, 5m runs at xx:05)');
  aliased(
    command,
    '--timezone <tz>',
    '--time-zone <tz>',
    'IANA time zone cron strings and calendars are read in (default UTC)',
  );
  command
    .option('--jitter <duration>', 'start each run up to this much later, at random')
    .option('--start-time <time>', 'no run before this time (RFC 3339)')
    .option('--end-time <time>', 'no run after this time (RFC 3339)');
  aliased(
    command,
    '--overlap <policy>',
    '--overlap-policy <policy>',
    'when a run is due while another runs: skip (default), buffer-one, buffer-all, cancel-other, terminate-other, allow-all',
  );
  return command
    .option(
      '--catchup-window <duration>',
      'how late a run missed while the server was down may still start (default 1 year, at least 10s)',
    )
    .option('--pause-on-failure', 'pause the schedule when a run fails or times out')
    .option('-p, --param <name=value>', 'a parameter value, pinned with the spec (repeatable)', collect)
    .option(
      '--scheduled-time-param <name>',
      'the string parameter each run gets its scheduled time in (default: scheduledTime, when the spec declares it)',
    )
    .option('--artifact-root <dir>', "keep the runs' artifacts in <dir>/.mloe/artifacts")
    .option('--artifact-store <uri>', "the runs' artifact store, file:///dir or s3://bucket[/prefix]")
    .option('--no-cache', 'run every step of every run even if a cached result exists')
    .option('--task-queue <name>', 'the task queue the runs go to (default mloe-pipelines)');
}

/** Adds `--address` and `--namespace`. */
function withConnection(command: Command): Command {
  return command
    .option('--address <host:port>', 'the Temporal (default: TEMPORAL_ADDRESS, else 127.0.0.1:7233)')
    .option('--namespace <name>', 'the namespace (default: TEMPORAL_NAMESPACE, else "default")');
}

type ScheduleCli = typeof import('./cli');

/** The run settings and policies of the flags (everything but the timing). */
function settingsOf(
  file: string,
  flags: ScheduleFlags,
): import('./schedules').ScheduledRunSettings & import('./policies').SchedulePolicyOptions {
  const overlap = flags.overlap ?? flags.overlapPolicy;
  return {
    file,
    ...(flags.param === undefined ? {} : { paramTexts: flags.param }),
    ...(flags.scheduledTimeParam === undefined ? {} : { scheduledTimeParam: flags.scheduledTimeParam }),
    ...(flags.artifactRoot === undefined ? {} : { artifactRoot: flags.artifactRoot }),
    ...(flags.artifactStore === undefined ? {} : { artifactStore: flags.artifactStore }),
    ...(flags.cache === false ? { noCache: true } : {}),
    ...(flags.taskQueue === undefined ? {} : { taskQueue: flags.taskQueue }),
    ...(overlap === undefined ? {} : { overlap }),
    ...(flags.catchupWindow === undefined ? {} : { catchupWindow: flags.catchupWindow }),
    ...(flags.pauseOnFailure === true ? { pauseOnFailure: true } : {}),
  };
}

/** The timing of the flags, or `undefined` when none is given. */
function timingOf(flags: ScheduleFlags): import('./timing').ScheduleTiming | undefined {
  const every = [...(flags.every ?? []), ...(flags.interval ?? [])];
  const timezone = flags.timezone ?? flags.timeZone;
  const timing = {
    ...(flags.cron === undefined ? {} : { cron: flags.cron }),
    ...(every.length === 0 ? {} : { every }),
    ...(flags.calendar === undefined ? {} : { calendar: flags.calendar }),
    ...(flags.offset === undefined ? {} : { offset: flags.offset }),
    ...(timezone === undefined ? {} : { timezone }),
    ...(flags.jitter === undefined ? {} : { jitter: flags.jitter }),
    ...(flags.startTime === undefined ? {} : { startTime: flags.startTime }),
    ...(flags.endTime === undefined ? {} : { endTime: flags.endTime }),
  };
  return Object.keys(timing).length === 0 ? undefined : timing;
}

/**
 * Adds `mloe schedule …` to the program. `connectionConfig` reads `--address` and `--namespace` over the environment
 * (undefined, after an error line, when one is bad).
 */
export function addScheduleCommands(
  program: Command,
  io: StartDevIo,
  setExitCode: (code: number) => void,
  connectionConfig: (flags: SettingFlags) => ConnectionConfig | undefined,
): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cli = (): ScheduleCli => require('./cli') as ScheduleCli;
  const run = async (flags: SettingFlags, body: (config: ConnectionConfig, m: ScheduleCli) => Promise<number>) => {
    const config = connectionConfig(flags);
    setExitCode(config === undefined ? 1 : await body(config, cli()));
  };
  const schedule = program
    .command('schedule')
    .description(
      'Temporal Schedules of pipeline runs: the spec is validated and pinned (editing the file changes nothing until ' +
        '`update`), each run is an ordinary run named <schedule>-<scheduled time> (see docs/schedules.md)',
    );

  withConnection(
    withScheduleFlags(
      schedule
        .command('create')
        .description('Create a schedule that runs a pipeline: give --cron, --every or --calendar')
        .argument('<name>', "the schedule name (its Temporal schedule id, and the start of its runs' ids)")
        .argument('<file>', 'the pipeline spec'),
    )
      .option('--note <text>', "a note kept with the schedule's state")
      .addOption(new Option('--notes <text>').hideHelp())
      .option('--paused', 'create it paused')
      .option('--remaining-actions <n>', 'stop after this many scheduled runs'),
  ).action((name: string, file: string, flags: ScheduleFlags) =>
    run(flags, (config, m) => {
      const note = flags.note ?? flags.notes;
      const remaining = flags.remainingActions;
      return m.runScheduleCreate(
        {
          ...settingsOf(file, flags),
          name,
          timing: timingOf(flags) ?? {},
          ...(note === undefined ? {} : { note }),
          ...(flags.paused === true ? { paused: true } : {}),
          ...(remaining === undefined
            ? {}
            : { remainingActions: /^\d+$/.test(remaining) ? Number(remaining) : Number.NaN }),
        },
        config,
        io,
      );
    }),
  );

  withConnection(
    schedule.command('list').description('List the pipeline schedules: pipeline, state, next and last run'),
  ).action((flags: SettingFlags) => run(flags, (config, m) => m.runScheduleList(config, io)));

  withConnection(
    schedule
      .command('describe')
      .description(
        'Show a schedule: the pinned spec and parameters, when it runs, its policies, next runs, recent runs and how they ended',
      )
      .argument('<name>', 'the schedule')
      .option('--json', 'print JSON'),
  ).action((name: string, flags: SettingFlags & { json?: boolean }) =>
    run(flags, (config, m) => m.runScheduleDescribe(name, flags, config, io)),
  );

  for (const kind of ['pause', 'unpause'] as const) {
    withConnection(
      schedule
        .command(kind)
        .description(kind === 'pause' ? 'Pause a schedule: no run starts until it is unpaused' : 'Unpause a schedule')
        .argument('<name>', 'the schedule')
        .option('--note <text>', "why (kept as the schedule's note)")
        .addOption(new Option('--reason <text>').hideHelp()),
    ).action((name: string, flags: SettingFlags & { note?: string; reason?: string }) =>
      run(flags, (config, m) => m.runScheduleToggle(kind, name, flags.note ?? flags.reason, config, io)),
    );
  }

  withConnection(
    aliased(
      schedule
        .command('trigger')
        .description('Start a run now (its scheduled time is now)')
        .argument('<name>', 'the schedule'),
      '--overlap <policy>',
      '--overlap-policy <policy>',
      "the overlap policy for this run (default: the schedule's)",
    ),
  ).action((name: string, flags: SettingFlags & { overlap?: string; overlapPolicy?: string }) =>
    run(flags, (config, m) => m.runScheduleTrigger(name, flags.overlap ?? flags.overlapPolicy, config, io)),
  );

  const backfill = schedule
    .command('backfill')
    .description("Run the schedule's times between --from and --to now, each run with its own scheduled time")
    .argument('<name>', 'the schedule');
  aliased(backfill, '--from <time>', '--start-time <time>', 'the start of the range (RFC 3339)');
  aliased(backfill, '--to <time>', '--end-time <time>', 'the end of the range (RFC 3339)');
  aliased(
    backfill,
    '--overlap <policy>',
    '--overlap-policy <policy>',
    'buffer-all (default: one after another), allow-all (at once), …',
  );
  withConnection(backfill).action(
    (
      name: string,
      flags: SettingFlags & {
        from?: string;
        to?: string;
        startTime?: string;
        endTime?: string;
        overlap?: string;
        overlapPolicy?: string;
      },
    ) => {
      const from = flags.from ?? flags.startTime;
      const to = flags.to ?? flags.endTime;
      if (from === undefined || to === undefined) {
        io.stderr('error: a backfill needs --from TIME and --to TIME (RFC 3339, e.g. 2026-01-01T00:00:00Z)');
        return setExitCode(2);
      }
      const overlap = flags.overlap ?? flags.overlapPolicy;
      return run(flags, (config, m) =>
        m.runScheduleBackfill(name, { from, to, ...(overlap === undefined ? {} : { overlap }) }, config, io),
      );
    },
  );

  withConnection(
    withScheduleFlags(
      schedule
        .command('update')
        .description(
          'Re-pin a schedule to a spec (validated first): prints how the spec differs from the pinned one, then ' +
            "runs from now on use it; timing and policy flags, when given, replace the schedule's",
        )
        .argument('<name>', 'the schedule')
        .argument('<file>', 'the pipeline spec'),
    ).option('--dry-run', 'print the difference only'),
  ).action((name: string, file: string, flags: ScheduleFlags) =>
    run(flags, (config, m) => {
      const timing = timingOf(flags);
      return m.runScheduleUpdate(
        name,
        {
          ...settingsOf(file, flags),
          ...(timing === undefined ? {} : { timing }),
          ...(flags.dryRun === true ? { dryRun: true } : {}),
        },
        config,
        io,
      );
    }),
  );

  withConnection(
    schedule
      .command('delete')
      .description('Delete a schedule; the runs it started go on')
      .argument('<name>', 'the schedule'),
  ).action((name: string, flags: SettingFlags) => run(flags, (config, m) => m.runScheduleDelete(name, config, io)));
}
