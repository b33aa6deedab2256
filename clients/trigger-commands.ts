/**
 * `mloe trigger create|list|describe|pause|unpause|delete`: the command line of data-arrival triggers
 * (docs/triggers.md), a thin layer over `clients/triggers.ts` (loaded when a command runs, so `--help` stays quick).
 */
import type { Command } from 'commander';

import type { ConfigEnv, SettingFlags } from '../workers/config';
import type { TriggerDescription } from '../workflows/trigger-types';
import type { StartDevIo } from './start-dev';
import type { TriggerSummary } from './triggers';

/** Flags of `mloe trigger create`. */
interface CreateFlags extends SettingFlags {
  on: string;
  pattern?: string;
  marker?: string;
  debounce?: string;
  poll?: string;
  maxRunsPerHour?: string;
  param?: string[];
  uriParam?: string;
  objectsParam?: string;
  includeExisting?: boolean;
  settle?: string;
  cache: boolean;
  artifactRoot?: string;
  artifactStore?: string;
}

/** Adds `mloe trigger …` to the program. */
export function addTriggerCommands(
  program: Command,
  io: StartDevIo,
  setExitCode: (code: number) => void,
  env: ConfigEnv,
): void {
  const trigger = program
    .command('trigger')
    .description('Data-arrival triggers: start a pipeline run for each new object under an s3:// or file:// prefix');
  const connection = (command: Command): Command =>
    command
      .option('--address <host:port>', 'the Temporal (default: TEMPORAL_ADDRESS, else 127.0.0.1:7233)')
      .option('--namespace <name>', 'the namespace (default: TEMPORAL_NAMESPACE, else "default")');
  /** Connects as the flags and environment say and runs `body`; reports errors as one `error:` line. */
  const withClient = async (
    flags: SettingFlags,
    body: (client: import('@temporalio/client').Client, taskQueue: string) => Promise<number>,
  ): Promise<void> => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const config = require('../workers/config') as typeof import('../workers/config');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { withConnectedClient } = require('./connection') as typeof import('./connection');
    let parsed;
    try {
      parsed = config.parseSettings(['address', 'namespace', 'taskQueue'], { env, flags });
    } catch (error) {
      io.stderr(`error: ${(error as Error).message}`);
      return setExitCode(2);
    }
    const { settings, origins } = parsed;
    const target = { address: settings.address, namespace: settings.namespace, addressOrigin: origins.address };
    setExitCode(await withConnectedClient(target, io, (client) => body(client, settings.taskQueue)));
  };
  const api = (): typeof import('./triggers') =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('./triggers') as typeof import('./triggers');

  connection(
    trigger
      .command('create')
      .description(
        'Create a trigger: validate FILE and pin it, then watch --on and start one run per new object (or per ' +
          'partition with --marker, or per burst with --debounce), with the object URI in the parameter --uri-param',
      )
      .argument('<name>', "the trigger's name: lowercase letters, digits and '-'")
      .argument('<file>', 'the pipeline spec (validated and pinned now: editing the file later changes nothing)')
      .requiredOption('--on <uri>', 'what to watch: s3://bucket/prefix/, file:///dir/ or a directory')
      .option('--pattern <glob>', "only keys (relative to --on) matching this glob, e.g. '*.csv' or '**/*.parquet'")
      .option('--marker <name>', 'partition mode: one run per directory once this object appears in it (_SUCCESS)')
      .option('--debounce <duration>', 'group objects arriving less than this apart into one run, e.g. 30s')
      .option('--poll <duration>', 'how often to list --on (default 1m)')
      .option('--max-runs-per-hour <n>', 'start at most n runs in any hour; the rest wait their turn')
      .option(
        '-p, --param <name=value>',
        'a parameter value (repeatable)',
        (value: string, previous: string[] = []) => [...previous, value],
      )
      .option('--uri-param <name>', 'the string parameter that gets the object URI (default uri)')
      .option(
        '--objects-param <name>',
        "with --debounce: the string parameter that gets the URI of the run's object manifest (a JSON list of its objects)",
      )
      .option('--include-existing', 'objects already there start runs too (default: only new ones)')
      .option('--settle <duration>', 'how late an object may appear behind newer ones and still count (default 5m)')
      .option('--no-cache', 'runs run every step even if a cached result exists')
      .option('--artifact-root <dir>', "keep the runs' artifacts in <dir>/.mloe/artifacts")
      .option('--artifact-store <uri>', "the runs' artifact store (default: the worker's MLOE_ARTIFACT_STORE)")
      .option('--task-queue <name>', 'the task queue of the trigger and its runs (default: MLOE_TASK_QUEUE)'),
  ).action(async (name: string, file: string, flags: CreateFlags) => {
    const maxRuns = flags.maxRunsPerHour === undefined ? undefined : Number(flags.maxRunsPerHour);
    // Everything is checked before anything is contacted: bad input is reported even with no Temporal to reach.
    let input: import('../workflows/trigger-types').WatchPrefixInput;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const config = require('../workers/config') as typeof import('../workers/config');
      const { taskQueue } = config.parseSettings(['taskQueue'], { env, flags }).settings;
      input = await api().prepareTrigger({
        file,
        name,
        on: flags.on,
        taskQueue,
        noCache: !flags.cache,
        ...optional({
          pattern: flags.pattern,
          marker: flags.marker,
          debounce: flags.debounce,
          poll: flags.poll,
          maxRunsPerHour: maxRuns,
          paramTexts: flags.param,
          uriParam: flags.uriParam,
          objectsParam: flags.objectsParam,
          includeExisting: flags.includeExisting,
          settle: flags.settle,
          artifactRoot: flags.artifactRoot,
          artifactStore: flags.artifactStore,
        }),
      });
    } catch (error) {
      io.stderr(`error: ${(error as Error).message}`);
      return setExitCode(1);
    }
    await withClient(flags, async (client) => {
      const settings = await api().startTrigger(client, input);
      io.stdout(
        `trigger ${settings.name} created: pipeline ${settings.pipeline} (${settings.specHash}) on ${settings.on}, ` +
          `every ${settings.pollMs} ms; runs get ${settings.uriParam}=<object URI>` +
          (settings.objectsParam === undefined ? '' : `, ${settings.objectsParam}=<object manifest URI>`),
      );
      return 0;
    });
  });

  connection(
    trigger
      .command('list')
      .description('List the triggers (from visibility: no worker needed)')
      .option('--json', 'one JSON document'),
  ).action(async (flags: SettingFlags & { json?: boolean }) => {
    await withClient(flags, async (client) => {
      const rows = await api().listTriggers(client);
      if (flags.json === true) io.stdout(JSON.stringify(rows, null, 2));
      else if (rows.length === 0) io.stdout('no triggers');
      else for (const line of triggerTable(rows)) io.stdout(line);
      return 0;
    });
  });

  connection(
    trigger
      .command('describe')
      .description("A trigger's settings, state, counters and latest runs (asks its workflow: a worker must be up)")
      .argument('<name>', "the trigger's name")
      .option('--json', 'one JSON document'),
  ).action(async (name: string, flags: SettingFlags & { json?: boolean }) => {
    await withClient(flags, async (client) => {
      const description = await api().describeTrigger(client, name);
      if (flags.json === true) io.stdout(JSON.stringify(description, null, 2));
      else for (const line of describeLines(description)) io.stdout(line);
      return 0;
    });
  });

  for (const verb of ['pause', 'unpause'] as const) {
    connection(
      trigger
        .command(verb)
        .description(
          verb === 'pause'
            ? 'Pause a trigger: no listing, no runs; what arrives meanwhile is found on unpause'
            : 'Unpause a trigger: it lists at once',
        )
        .argument('<name>', "the trigger's name")
        .option('--note <text>', 'why (shown by describe and list)'),
    ).action(async (name: string, flags: SettingFlags & { note?: string }) => {
      await withClient(flags, async (client) => {
        const triggers = api();
        await (verb === 'pause' ? triggers.pauseTrigger : triggers.unpauseTrigger)(client, name, flags.note);
        io.stdout(`trigger ${name} ${verb}d`);
        return 0;
      });
    });
  }

  connection(
    trigger
      .command('delete')
      .description('Delete a trigger: it stops at once; the runs it started go on')
      .argument('<name>', "the trigger's name"),
  ).action(async (name: string, flags: SettingFlags) => {
    await withClient(flags, async (client) => {
      await api().deleteTrigger(client, name);
      io.stdout(`trigger ${name} deleted`);
      return 0;
    });
  });
}

/** The entries of `values` that are set. */
function optional<T extends Record<string, unknown>>(values: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/** The table `mloe trigger list` prints. */
export function triggerTable(rows: readonly TriggerSummary[]): string[] {
  const header = ['name', 'pipeline', 'on', 'filter', 'poll', 'state'];
  const body = rows.map((row) => [
    row.name,
    row.pipeline,
    row.on,
    [row.pattern, row.marker === undefined ? undefined : `marker ${row.marker}`].filter(Boolean).join(', ') || '-',
    `${row.pollMs} ms`,
    row.paused ? `paused${row.note === undefined ? '' : ` (${row.note})`}` : 'active',
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((cells) => (cells[i] ?? '').length)));
  return [header, ...body].map((cells) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

/** What `mloe trigger describe` prints. */
export function describeLines(d: TriggerDescription): string[] {
  const { settings: s, counters: c } = d;
  return [
    `trigger:     ${s.name}${d.paused ? ` (paused${d.note === undefined ? '' : `: ${d.note}`})` : ''}`,
    `pipeline:    ${s.pipeline} (${s.specHash}), runs on task queue ${s.taskQueue}`,
    `on:          ${s.on}${s.pattern === undefined ? '' : ` matching ${s.pattern}`}${s.marker === undefined ? '' : `, partitions marked by ${s.marker}`}`,
    `poll:        every ${s.pollMs} ms${s.debounceMs === undefined ? '' : `, debounce ${s.debounceMs} ms`}${s.maxRunsPerHour === undefined ? '' : `, at most ${s.maxRunsPerHour} runs an hour`}`,
    `polls:       ${c.polls} (${c.pollFailures} failed)${d.lastPollAt === undefined ? '' : `, last ${d.lastPollAt}`}`,
    `objects:     ${c.objectsSeen} seen${d.watermark === undefined ? '' : `, newest modified ${d.watermark}`}`,
    `runs:        ${c.runsStarted} started (${d.runsLastHour} in the last hour), ${d.pending} waiting, ${d.grouping} objects grouping, ${c.duplicates} already existing`,
    ...(d.lastError === undefined ? [] : [`last error:  ${d.lastError}`]),
    ...(d.lastRuns.length === 0
      ? []
      : ['latest runs:', ...d.lastRuns.map((r) => `  ${r.startedAt}  ${r.runId}  ${r.uri}`)]),
  ];
}
