/**
 * `mloe monitor create|list|describe|pause|unpause|trigger|delete`: drift monitors on the command line, thin over
 * `clients/monitors.ts` (loaded when a command runs, so `--help` stays quick).
 *
 * ```
 * mloe monitor create penguins@champion --pipeline retrain.yaml --reference data/train.parquet --every 1h --psi 0.2 \
 *   [--batch data/latest.parquet | --window 24h] [--ks 0.01] [--chi-square 0.01] [--cooldown 24h] [--max-runs-per-day 1]
 * ```
 */
import { InvalidArgumentError, Option, type Command } from 'commander';

import { ensureError } from '../core/errors';
import type { ConnectionConfig, SettingFlags } from '../workers/config';
import type { CreateMonitorOptions, MonitorDetails, MonitorSummary } from './monitors';
import type { StartDevIo } from './start-dev';

type Monitors = typeof import('./monitors');

function numberFlag(): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value))
      throw new InvalidArgumentError(`expected a number, got "${text}"`);
    return value;
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function withConnection(command: Command): Command {
  return command
    .option('--address <host:port>', 'the Temporal (default: TEMPORAL_ADDRESS, else 127.0.0.1:7233)')
    .option('--namespace <name>', 'the namespace (default: TEMPORAL_NAMESPACE, else "default")');
}

function durationText(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

/** The lines `mloe monitor list` prints. */
export function monitorTable(monitors: readonly MonitorSummary[]): string[] {
  const rows = monitors.map((monitor) => {
    const { definition } = monitor;
    return [
      monitor.name,
      `${definition.model}@${definition.alias}`,
      definition.pipeline.name,
      durationText(definition.everyMs),
      definition.current.kind,
      monitor.paused ? 'paused' : 'active',
      monitor.nextRuns[0]?.toISOString() ?? '-',
    ];
  });
  const header = ['name', 'model', 'pipeline', 'every', 'current', 'state', 'next tick'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  return [header, ...rows].map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

/** The lines `mloe monitor describe` prints. */
export function monitorDetailLines(details: MonitorDetails): string[] {
  const { definition, state } = details;
  const thresholds = definition.thresholds;
  return [
    `monitor      ${details.name} (schedule ${details.scheduleId}, ${details.paused ? 'paused' : 'active'}${details.note === undefined ? '' : `: ${details.note}`})`,
    `model        ${definition.model}@${definition.alias}`,
    `reference    ${definition.reference}`,
    `current      ${definition.current.kind === 'batch' ? definition.current.uri : `serving logs of the last ${durationText(definition.current.windowMs)}`}`,
    `thresholds   psi >= ${thresholds.psi}${thresholds.ksPValue === undefined ? '' : `, ks p < ${thresholds.ksPValue}`}${thresholds.chiSquarePValue === undefined ? '' : `, chi-square p < ${thresholds.chiSquarePValue}`}; ${definition.minDriftedFeatures} feature(s), ${definition.minRows} rows at least`,
    `retraining   ${definition.pipeline.name} (${definition.pipeline.file ?? ''} ${definition.pipeline.specHash}); cooldown ${durationText(definition.cooldownMs)}, at most ${definition.maxRunsPerDay} a day`,
    `every        ${durationText(definition.everyMs)}; next ${details.nextRuns.map((time) => time.toISOString()).join(', ') || '-'}`,
    `last tick    ${state?.lastTick === undefined ? '-' : `${state.lastTick.at} ${state.lastTick.outcome} ${state.lastTick.report ?? ''}`.trimEnd()}`,
    `episode      ${state?.episode === undefined ? 'none open' : `${state.episode.id} (since ${state.episode.openedAt})${state.episode.run === undefined ? '' : `, retraining run ${state.episode.run}`}`}`,
    `runs         ${state === undefined || state.runs.length === 0 ? '-' : state.runs.map((run) => `${run.workflowId} (${run.startedAt})`).join(', ')}`,
    ...details.recentTicks.map((tick) => `tick         ${tick.scheduledAt.toISOString()} ${tick.workflowId}`),
  ];
}

/** Flags of `mloe monitor create`. */
interface CreateFlags extends SettingFlags {
  pipeline: string;
  reference: string;
  every: string;
  psi: number;
  param?: string[];
  name?: string;
  batch?: string;
  window?: string;
  ks?: number;
  chiSquare?: number;
  cooldown?: string;
  maxRunsPerDay?: number;
  label?: string;
  evaluation?: string;
  maxDegradation?: number;
  feature?: string[];
  exclude?: string[];
  minRows?: number;
  minDriftedFeatures?: number;
  bins?: number;
  artifactStore?: string;
  taskQueue?: string;
  paused?: boolean;
  note?: string;
}

/** Adds the `monitor` command group to `program`. */
export function addMonitorCommands(
  program: Command,
  io: StartDevIo,
  setExitCode: (code: number) => void,
  connectionConfig: (flags: SettingFlags) => ConnectionConfig | undefined,
): void {
  const monitor = program
    .command('monitor')
    .description(
      'Drift monitors: compare serving inputs or new data with the training data on a schedule, and retrain',
    );
  const run = async (
    flags: SettingFlags,
    body: (monitors: Monitors, client: import('@temporalio/client').Client) => Promise<number>,
  ) => {
    const config = connectionConfig(flags);
    if (config === undefined) return setExitCode(1);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const monitors = require('./monitors') as Monitors;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { withConnectedClient } = require('./connection') as typeof import('./connection');
    setExitCode(
      await withConnectedClient(config, io, async (client) => {
        try {
          return await body(monitors, client);
        } catch (error) {
          io.stderr(`error: ${ensureError(error).message}`);
          return 1;
        }
      }),
    );
  };

  withConnection(
    monitor
      .command('create')
      .description('Create a drift monitor of a deployed model (a Temporal Schedule of monitorModel ticks)')
      .argument('<model>', 'MODEL@ALIAS, e.g. penguins@champion')
      .requiredOption('--pipeline <file>', 'the retraining pipeline (validated and pinned now)')
      .requiredOption(
        '--reference <data>',
        'the reference (training) data: path, file:// or s3:// (.parquet, .csv, .json)',
      )
      .requiredOption('--every <duration>', 'how often to check, e.g. 1h')
      .requiredOption('--psi <threshold>', 'PSI at or above this is drift (0.2 is usual)', numberFlag())
      .option('-p, --param <name=value>', 'a parameter of the retraining pipeline (repeatable)', collect)
      .option('--name <name>', 'the monitor name (default: MODEL-ALIAS)')
      .option('--batch <data>', 'compare this batch each tick instead of the serving logs')
      .option('--window <duration>', 'serving logs of this long before each tick (default: --every)')
      .option('--ks <p-value>', 'a numeric feature with a KS p-value below this is drifted', numberFlag())
      .option(
        '--chi-square <p-value>',
        'a categorical feature with a chi-square p-value below this is drifted',
        numberFlag(),
      )
      .option('--cooldown <duration>', 'no retraining run within this long of the last', '24h')
      .option('--max-runs-per-day <n>', 'retraining runs per UTC day at most', numberFlag(), 1)
      .option('--label <column>', 'with --evaluation: measure the model on labelled current data')
      .option('--evaluation <data>', "the model's held-out evaluation data (the baseline of its performance)")
      .option(
        '--max-degradation <n>',
        'accuracy points lost (or RMSE gained) that count as drift (default 0.05)',
        numberFlag(),
      )
      .option('--feature <column>', 'compare only these columns (repeatable)', collect)
      .option('--exclude <column>', 'never compare this column, e.g. the label (repeatable)', collect)
      .option('--min-rows <n>', 'fewer current rows decide nothing', numberFlag())
      .option('--min-drifted-features <n>', 'features that must drift to declare drift', numberFlag())
      .option('--bins <n>', 'quantile bins of numeric features', numberFlag())
      .option('--artifact-store <uri>', 'where reports, state and runs go (default: ./.mloe/artifacts)')
      .option('--task-queue <queue>', 'the workers task queue', 'mloe-pipelines')
      .option('--note <text>', "the schedule's note")
      .addOption(new Option('--paused', 'create it paused')),
  ).action((model: string, flags: CreateFlags) =>
    run(flags, async (monitors, client) => {
      const options: CreateMonitorOptions = {
        model,
        pipeline: flags.pipeline,
        reference: flags.reference,
        every: flags.every,
        psi: flags.psi,
        ...(flags.param === undefined ? {} : { paramTexts: flags.param }),
        ...(flags.name === undefined ? {} : { name: flags.name }),
        ...(flags.batch === undefined ? {} : { batch: flags.batch }),
        ...(flags.window === undefined ? {} : { window: flags.window }),
        ...(flags.ks === undefined ? {} : { ks: flags.ks }),
        ...(flags.chiSquare === undefined ? {} : { chiSquare: flags.chiSquare }),
        ...(flags.cooldown === undefined ? {} : { cooldown: flags.cooldown }),
        ...(flags.maxRunsPerDay === undefined ? {} : { maxRunsPerDay: flags.maxRunsPerDay }),
        ...(flags.label === undefined ? {} : { label: flags.label }),
        ...(flags.evaluation === undefined ? {} : { evaluation: flags.evaluation }),
        ...(flags.maxDegradation === undefined ? {} : { maxDegradation: flags.maxDegradation }),
        ...(flags.feature === undefined ? {} : { features: flags.feature }),
        ...(flags.exclude === undefined ? {} : { exclude: flags.exclude }),
        ...(flags.minRows === undefined ? {} : { minRows: flags.minRows }),
        ...(flags.minDriftedFeatures === undefined ? {} : { minDriftedFeatures: flags.minDriftedFeatures }),
        ...(flags.bins === undefined ? {} : { bins: flags.bins }),
        ...(flags.artifactStore === undefined ? {} : { artifactStore: flags.artifactStore }),
        ...(flags.taskQueue === undefined ? {} : { taskQueue: flags.taskQueue }),
        ...(flags.paused === undefined ? {} : { paused: flags.paused }),
        ...(flags.note === undefined ? {} : { note: flags.note }),
      };
      const created = await monitors.createMonitor(client, options);
      io.stdout(
        `created monitor ${created.name} of ${created.definition.model}@${created.definition.alias} (schedule ${created.scheduleId}); next tick ${created.nextRuns[0]?.toISOString() ?? '-'}`,
      );
      return 0;
    }),
  );

  withConnection(monitor.command('list').description('List the drift monitors')).action((flags: SettingFlags) =>
    run(flags, async (monitors, client) => {
      const found = await monitors.listMonitors(client);
      if (found.length === 0) io.stdout('no monitors');
      else for (const line of monitorTable(found)) io.stdout(line);
      return 0;
    }),
  );

  withConnection(
    monitor
      .command('describe')
      .description("A monitor's definition, schedule, state and recent ticks")
      .argument('<name>'),
  ).action((name: string, flags: SettingFlags) =>
    run(flags, async (monitors, client) => {
      for (const line of monitorDetailLines(await monitors.describeMonitor(client, name))) io.stdout(line);
      return 0;
    }),
  );

  for (const kind of ['pause', 'unpause'] as const) {
    withConnection(
      monitor
        .command(kind)
        .description(kind === 'pause' ? "Pause a monitor's ticks" : "Resume a monitor's ticks")
        .argument('<name>')
        .option('--note <text>', 'why'),
    ).action((name: string, flags: SettingFlags & { note?: string }) =>
      run(flags, async (monitors, client) => {
        await monitors.pauseMonitor(client, name, {
          paused: kind === 'pause',
          ...(flags.note === undefined ? {} : { note: flags.note }),
        });
        io.stdout(`${kind === 'pause' ? 'paused' : 'resumed'} monitor ${name}`);
        return 0;
      }),
    );
  }

  withConnection(monitor.command('trigger').description('Run a tick now').argument('<name>')).action(
    (name: string, flags: SettingFlags) =>
      run(flags, async (monitors, client) => {
        await monitors.triggerMonitor(client, name);
        io.stdout(`triggered a tick of monitor ${name}`);
        return 0;
      }),
  );

  withConnection(
    monitor.command('delete').description('Delete a monitor (its reports, state and runs stay)').argument('<name>'),
  ).action((name: string, flags: SettingFlags) =>
    run(flags, async (monitors, client) => {
      await monitors.deleteMonitor(client, name);
      io.stdout(`deleted monitor ${name}`);
      return 0;
    }),
  );
}
