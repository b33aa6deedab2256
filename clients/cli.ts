/**
 * The `mloe` command line. `bin/mloe.js` registers tsx and calls {@link main}; `tsx clients/cli.ts` works too.
 */
import { Command, InvalidArgumentError, Option } from 'commander';

import packageJson from '../package.json';
import type { LineageCommandOptions } from './lineage';
import type { ConfigEnv, SettingFlags } from '../workers/config';
import type { TemporalClientFlags } from '../workers/temporal-client-config';
import type { DevFlags } from './dev';
import { ensureError } from '../core/errors';
import { workflowIdProblem } from '../core/run-ids';
import type { ListFlags } from './list';
import { createStartDevCommand, runStartDev, type StartDevIo } from './start-dev';
import { addMonitorCommands } from './monitor-cli';
import { addScheduleCommands } from './schedules/commands';
import { addTriggerCommands } from './trigger-commands';

const processIo: StartDevIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

/** Adds `--address` and `--namespace` to a command that talks to a Temporal. */
function withConnectionOptions(command: Command): Command {
  return withSecurityOptions(
    command
      .option('--address <host:port>', 'the Temporal (default: TEMPORAL_ADDRESS, else 127.0.0.1:7233)')
      .option('--namespace <name>', 'the namespace (default: TEMPORAL_NAMESPACE, else "default")'),
  );
}

/**
 * Adds the Temporal CLI's connection flags (TLS, mutual TLS, API key, config file profile, gRPC metadata; see
 * docs/security.md) to a command that talks to a Temporal. `--tls=false` is spelled `--no-tls` here.
 */
function withSecurityOptions(command: Command): Command {
  return command
    .option('--tls', 'connect with TLS (default: TEMPORAL_TLS; on when any TLS option or an API key is given)')
    .option('--no-tls', 'connect in plaintext even when the profile or an API key would turn TLS on')
    .option('--tls-cert-path <file>', 'client certificate (PEM) for mutual TLS (TEMPORAL_TLS_CLIENT_CERT_PATH)')
    .option('--tls-key-path <file>', 'private key (PEM) of --tls-cert-path (TEMPORAL_TLS_CLIENT_KEY_PATH)')
    .option(
      '--tls-ca-path <file>',
      "CA (PEM) the server's certificate must chain to (TEMPORAL_TLS_SERVER_CA_CERT_PATH)",
    )
    .option('--tls-cert-data <pem>', 'client certificate as PEM text (TEMPORAL_TLS_CLIENT_CERT_DATA)')
    .option('--tls-key-data <pem>', 'client key as PEM text (TEMPORAL_TLS_CLIENT_KEY_DATA)')
    .option('--tls-ca-data <pem>', 'server CA as PEM text (TEMPORAL_TLS_SERVER_CA_CERT_DATA)')
    .option('--tls-server-name <name>', "name the server's certificate must carry (TEMPORAL_TLS_SERVER_NAME)")
    .option('--tls-disable-host-verification', "do not check the server certificate's name (CLI commands only)")
    .option('--api-key <key>', 'API key, sent as authorization: Bearer (TEMPORAL_API_KEY); turns TLS on')
    .option('--grpc-meta <key=value>', 'gRPC metadata for every call (repeatable; TEMPORAL_GRPC_META_<KEY>)', collect)
    .option('--profile <name>', 'profile of the config file (TEMPORAL_PROFILE, else "default")')
    .option(
      '--config-file <file>',
      'Temporal client config file (TEMPORAL_CONFIG_FILE, else ~/.config/temporalio/temporal.toml)',
    )
    .option('--disable-config-file', 'do not read the config file')
    .option('--disable-config-env', 'do not read TEMPORAL_* connection variables besides the config file location');
}

/** Collects a repeatable option's values. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Builds the `mloe` program. Actions report their exit code through `setExitCode` instead of calling
 * `process.exit`, so the program can be driven in-process. `env` is the environment the configuration is read from
 * (`workers/config.ts`).
 */
export function buildProgram(
  io: StartDevIo,
  setExitCode: (code: number) => void,
  env: ConfigEnv = process.env,
): Command {
  /**
   * A command's settings, read by `load` from `workers/config.ts` (each command reads only what it uses, so a bad
   * variable it never uses does not stop it); undefined, after an error line, when one is bad.
   */
  const configOf = <T>(load: (config: typeof import('../workers/config')) => T): T | undefined => {
    try {
      // Loaded when a command runs, so that `--help` does not pay for zod.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return load(require('../workers/config') as typeof import('../workers/config'));
    } catch (error) {
      io.stderr(`error: ${ensureError(error).message}`);
      return undefined;
    }
  };
  /** Address and namespace (`status`, `cancel`, `list`, `explain`): flags over `env`. */
  const connectionConfig = (flags: SettingFlags) => configOf((config) => config.loadConnectionConfig({ env, flags }));

  const program = new Command('mloe')
    .description('Machine-learning orchestration engine on Temporal')
    .version(packageJson.version)
    .enablePositionalOptions()
    .showHelpAfterError();

  const server = program.command('server').description('Run servers mloe embeds');
  server.addCommand(
    createStartDevCommand().action(async (_options: unknown, command: Command) => {
      // Loaded here rather than at the top so that `--help` does not pay for zod (see bin/mloe.js on `require`).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { resolveStartDevConfig } = require('./start-dev-config') as typeof import('./start-dev-config');
      setExitCode(await runStartDev(resolveStartDevConfig(command.opts(), command.args, env), io));
    }),
  );
  // `mloe mlflow server`: declared in mlflow-server.ts (commander only; the server loads when the command runs).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createMlflowCommand } = require('./mlflow-server') as typeof import('./mlflow-server');
  program.addCommand(createMlflowCommand(io, setExitCode));

  program
    .command('dev')
    .description(
      'Run the embedded dev server and a pipeline worker in one process until Ctrl-C: the Temporal that `mloe ' +
        'status`, `list`, `logs` and `cancel` use by default, and `TEMPORAL_ADDRESS=<address> mloe run FILE` runs on',
    )
    .option('-p, --port <port>', 'port of the dev server (0 picks a free one)', '7233')
    .option('--ip <address>', 'IP address to bind the dev server to', '127.0.0.1')
    .option(
      '-f, --db-filename <file>',
      "SQLite file for durable state (in memory when absent); MLflow's goes beside it (state.db: state.mlflow.db)",
    )
    .option(
      '--mlflow-port <port>',
      'port of the embedded MLflow server, not started when MLFLOW_TRACKING_URI is set (0 picks a free one)',
      '5000',
    )
    .option('--headless', 'do not start the Web UI')
    .option('--ui-port <port>', 'port of the Web UI (default: --port + 1000; a free one when --port is 0)')
    .option('--ui-ip <address>', 'IP address to bind the Web UI to (default: --ip)')
    .option('--ui-public-path <path>', 'serve the Web UI under this path, e.g. /temporal behind a proxy')
    .option('--ui-codec-endpoint <url>', 'remote payload codec endpoint the Web UI decodes payloads with')
    .action(async (options: DevFlags) => {
      // Loaded here so that other commands and `--help` do not pay for the server, the SDK and the worker.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runDevCommand } = require('./dev') as typeof import('./dev');
      setExitCode(await runDevCommand(io, { flags: options, env }));
    });

  const workerCommand = program
    .command('worker')
    .description(
      'Run a pipeline worker against a Temporal until Ctrl-C (SIGINT or SIGTERM), then stop it gracefully. ' +
        'Settings come from flags, else the environment (see docs/worker.md)',
    )
    .option('--address <host:port>', 'the Temporal (default: TEMPORAL_ADDRESS, else 127.0.0.1:7233)')
    .option('--namespace <name>', 'the namespace (default: TEMPORAL_NAMESPACE, else "default")')
    .option('--task-queue <name>', 'the task queue to poll (default: MLOE_TASK_QUEUE, else mloe-pipelines)')
    .option(
      '--artifact-store <uri>',
      'artifact store of runs that name none, file:///dir or s3://bucket[/prefix] (default: MLOE_ARTIFACT_STORE, ' +
        'else .mloe/artifacts in the working directory)',
    )
    .option('--concurrency <n>', 'steps run at once (default: MLOE_WORKER_CONCURRENCY, else 16)')
    .option(
      '--workflow-bundle <file>',
      'a pre-built workflow bundle (npm run build:workflows) to run instead of bundling workflows/ ' +
        '(default: MLOE_WORKFLOW_BUNDLE, else workflows/ through the bundle cache)',
    )
    .option(
      '--executor <kinds>',
      'remote executors this worker runs steps on besides local ones: kubernetes (comma-separated; default: ' +
        'MLOE_EXECUTORS, else local only; see docs/executors.md)',
    )
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics (mloe steps and the Temporal SDK) at http://127.0.0.1:<port>/metrics ' +
        '(default: MLOE_METRICS_ADDRESS, else off; see docs/telemetry.md)',
    );
  withSecurityOptions(workerCommand).action(async (options: SettingFlags & { metricsPort?: string }) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runWorkerCommand } = require('./worker') as typeof import('./worker');
    setExitCode(await runWorkerCommand(io, { flags: options, env }));
  });

  program
    .command('demo')
    .description(
      'Run the example pipeline pipelines/penguins/pipeline.yaml end to end (ingest, validate, split, features, ' +
        'train, evaluate against the champion, register, promote, serve) on an embedded dev server, worker and ' +
        'MLflow server, then ask the served model about three penguins',
    )
    .option('--data <path>', "penguins data to learn from (default: the vega-datasets package's penguins.json)")
    .option(
      '--artifact-root <dir>',
      'directory for .mloe/artifacts, the MLflow database .mloe/demo.mlflow.db and .mloe/serving',
      '.',
    )
    .option('--no-cache', 'run every step even if a cached result exists')
    .option(
      '--seed <n>',
      'seed of the split and the forest (default 42): another seed trains another candidate',
      seedOption,
    )
    .option(
      '--serve',
      'after the run, keep the dev server, the Web UI (with the pipeline view) and the served model until Ctrl-C',
    )
    .action(
      async (options: { data?: string; artifactRoot: string; cache: boolean; seed?: number; serve?: boolean }) => {
        // Loaded here so that other commands and `--help` do not pay for the Temporal SDK and the worker.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { runDemo } = require('./demo') as typeof import('./demo');
        setExitCode(
          await runDemo(io, {
            artifactRoot: options.artifactRoot,
            ...(options.cache === false ? { noCache: true } : {}),
            ...(options.data === undefined ? {} : { dataPath: options.data }),
            ...(options.seed === undefined ? {} : { seed: options.seed }),
            ...(options.serve === true ? { serve: true } : {}),
            env,
          }),
        );
      },
    );

  program
    .command('validate')
    .description(
      'Check a pipeline spec (YAML or JSON): fields, step types, needs and cycles, expressions and their types. ' +
        'Prints every problem as file:line:col, field, message and fix, or a summary; exits 1 if the spec is invalid',
    )
    .argument('<file>', 'the pipeline spec')
    .option(
      '-p, --param <name=value>',
      'a parameter value, checked as for a run (repeatable); required parameters then need one',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .action(async (file: string, options: { param?: string[] }) => {
      // Loaded here so that other commands and `--help` do not pay for the spec parser and CEL.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runValidate } = require('./validate') as typeof import('./validate');
      setExitCode(await runValidate(file, options, io));
    });

  const runCommand = program
    .command('run')
    .description(
      'Validate a pipeline spec and run it, printing each step as it starts and ends and a summary table. Uses the ' +
        'Temporal at TEMPORAL_ADDRESS (with a pipeline worker running), or an embedded dev server and a worker ' +
        'configured as `mloe worker` is (MLOE_ARTIFACT_STORE, MLOE_S3_*, MLOE_WORKER_CONCURRENCY, ...)',
    )
    .argument('<file>', 'the pipeline spec')
    .option('-p, --param <name=value>', 'a parameter value (repeatable)', (value: string, previous: string[] = []) => [
      ...previous,
      value,
    ])
    .option('--wait', 'with TEMPORAL_ADDRESS: wait for the run to end, with progress (always so when embedded)')
    .option('--no-cache', 'run every step even if a cached result exists')
    .option('--artifact-root <dir>', "keep the run's artifacts in <dir>/.mloe/artifacts")
    .option(
      '--artifact-store <uri>',
      "the run's artifact store, file:///dir or s3://bucket[/prefix] (default: the worker's MLOE_ARTIFACT_STORE)",
    )
    .option(
      '--id <run-id>',
      "the run's workflow id: letters, digits, '_' and '-' (default: <pipeline>-<ULID>); a retried start with the " +
        'same id never starts a second run',
    )
    .addOption(
      new Option(
        '--id-conflict-policy <policy>',
        'when --id names a run already: fail, or return that run if it was started by the same request',
      )
        .choices(['Fail', 'UseExisting'])
        .default('Fail'),
    );
  withSecurityOptions(runCommand).action(
    async (
      file: string,
      options: TemporalClientFlags & {
        param?: string[];
        wait?: boolean;
        cache: boolean;
        artifactRoot?: string;
        artifactStore?: string;
        id?: string;
        idConflictPolicy: 'Fail' | 'UseExisting';
      },
    ) => {
      if (options.artifactRoot !== undefined && options.artifactStore !== undefined) {
        io.stderr('error: give --artifact-root or --artifact-store, not both');
        setExitCode(2);
        return;
      }
      const idProblem = options.id === undefined ? undefined : workflowIdProblem(options.id);
      if (idProblem !== undefined) {
        io.stderr(`error: --id: ${idProblem}`);
        setExitCode(2);
        return;
      }
      // Loaded here so that other commands and `--help` do not pay for the Temporal SDK and the worker.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runRun } = require('./run') as typeof import('./run');
      // Only the connection flags: `--artifact-store` here is the run's store, not the worker's setting.
      const { temporalClientFlagsOf } =
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require('../workers/temporal-client-config') as typeof import('../workers/temporal-client-config');
      setExitCode(await runRun(file, { ...options, flags: temporalClientFlagsOf(options), env }, io));
    },
  );

  withConnectionOptions(
    program
      .command('setup')
      .description(
        "Prepare a Temporal namespace for mloe (once, as an admin): register mloe's search attributes " +
          '(MloePipeline, MloeStatus, MloeApproval, MloeSchedule). Workers and `mloe dev` do it too when they start',
      ),
  ).action(async (options: SettingFlags) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runSetup } = require('./setup') as typeof import('./setup');
    const config = connectionConfig(options);
    setExitCode(config === undefined ? 1 : await runSetup(config, io));
  });

  withConnectionOptions(
    program
      .command('list')
      .description(
        'List pipeline runs: run id, pipeline, status, start time, duration (on the Temporal at ' +
          'TEMPORAL_ADDRESS, default 127.0.0.1:7233)',
      )
      .option('--pipeline <name>', 'only runs of this pipeline (its metadata.name)')
      .option(
        '--status <status>',
        'only runs in this status: Running, Completed, Failed, Cancelled (or Canceled), Terminated or TimedOut',
      )
      .option('--limit <n>', 'at most this many runs (default 20)'),
  ).action(async (options: ListFlags & SettingFlags) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runList } = require('./list') as typeof import('./list');
    const config = connectionConfig(options);
    setExitCode(config === undefined ? 1 : await runList(options, config, io));
  });

  withConnectionOptions(
    program
      .command('logs')
      .description(
        'Print the stdout and stderr of the command (run:) steps of a pipeline run, or of one step; read from the ' +
          'artifact store and checked against their sha256',
      )
      .argument('<run>', 'the run id (its workflow id, e.g. housing-price-01JF3Y8Z6KQ4W5ZP0B4N3C2V1D)')
      .argument('[step]', 'only this step'),
  ).action(async (run: string, step: string | undefined, options: SettingFlags) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runLogs } = require('./logs') as typeof import('./logs');
    const config = configOf((settings) => settings.loadClientConfig({ env, flags: options }));
    setExitCode(config === undefined ? 1 : await runLogs(run, step, config, io));
  });

  withConnectionOptions(
    program
      .command('status')
      .description(
        'Print the steps of a pipeline run (on the Temporal at TEMPORAL_ADDRESS, default 127.0.0.1:7233); exits 1 ' +
          'when the run failed or was cancelled, 0 when it completed or is still running',
      )
      .argument('<run>', 'the run id (its workflow id, e.g. housing-price-01JF3Y8Z6KQ4W5ZP0B4N3C2V1D)'),
  ).action(async (run: string, options: SettingFlags) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runStatus } = require('./run') as typeof import('./run');
    const config = connectionConfig(options);
    setExitCode(config === undefined ? 1 : await runStatus(run, config, io, env));
  });

  withConnectionOptions(
    program
      .command('cancel')
      .description(
        'Cancel a pipeline run: its running steps are cancelled (on the Temporal at TEMPORAL_ADDRESS, default ' +
          '127.0.0.1:7233)',
      )
      .argument('<run>', 'the run id (its workflow id, e.g. housing-price-01JF3Y8Z6KQ4W5ZP0B4N3C2V1D)'),
  ).action(async (run: string, options: SettingFlags) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runCancel } = require('./run') as typeof import('./run');
    const config = connectionConfig(options);
    setExitCode(config === undefined ? 1 : await runCancel(run, config, io));
  });

  withConnectionOptions(
    program
      .command('rerun')
      .description(
        'Start a new run of a finished run: the same spec, parameters and artifact store (read from the run, so the ' +
          'spec file need not exist), where STEP and everything downstream of it run again and every other step the ' +
          'run completed is taken from it, its outputs verified by digest first (see docs/rerun.md)',
      )
      .argument('<run>', 'the run to repeat (its workflow id, e.g. housing-price-01JF3Y8Z6KQ4W5ZP0B4N3C2V1D)')
      .requiredOption('--from <step>', 'the step to run again, with every step downstream of it')
      .option('--id <run-id>', "the rerun's workflow id (default: <pipeline>-<ULID>)")
      .addOption(
        new Option('--id-conflict-policy <policy>', 'when --id names a run already: fail, or return that run')
          .choices(['Fail', 'UseExisting'])
          .default('Fail'),
      )
      .option('--wait', 'wait for the rerun to end, printing progress and a summary'),
  ).action(
    async (
      run: string,
      options: SettingFlags & { from: string; id?: string; idConflictPolicy: 'Fail' | 'UseExisting'; wait?: boolean },
    ) => {
      const idProblem = options.id === undefined ? undefined : workflowIdProblem(options.id);
      if (idProblem !== undefined) {
        io.stderr(`error: --id: ${idProblem}`);
        return setExitCode(2);
      }
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runRerun } = require('./rerun') as typeof import('./rerun');
      const config = connectionConfig(options);
      setExitCode(config === undefined ? 1 : await runRerun(run, options, config, io));
    },
  );

  withConnectionOptions(
    program
      .command('explain')
      .description(
        'Say why a step of a run was served from the cache or executed: the cache key and, for a miss, which of ' +
          'its inputs, parameters, files or code changed since it was last cached',
      )
      .argument('<run>', 'the run id (its workflow id, e.g. housing-price-01JF3Y8Z6KQ4W5ZP0B4N3C2V1D)')
      .argument('<step>', 'the step id'),
  ).action(async (run: string, step: string, options: SettingFlags) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runExplain } = require('./explain') as typeof import('./explain');
    const config = connectionConfig(options);
    if (config === undefined) return setExitCode(1);
    // Where the run's step records are when its status cannot be read: the workers' store, or the default one.
    const fallbackStore = () =>
      configOf((settings) => {
        const store = settings.loadStoreReaderConfig({ env });
        return {
          artifactStore: store.artifactStore ?? settings.defaultArtifactStoreUri(),
          ...(store.s3 === undefined ? {} : { s3: store.s3 }),
        };
      });
    setExitCode(await runExplain(run, step, config, io, fallbackStore));
  });

  program
    .command('lineage')
    .description(
      'Show where an artifact came from and what was made from it, or what a run read and wrote, from the run and ' +
        'step records in the artifact store',
    )
    .argument(
      '<run-or-artifact>',
      'a run id, an artifact URI, a digest (sha256:<hex>) or a unique prefix of 8+ hex digits',
    )
    .option(
      '--artifact-store <uri>',
      'the store to read records from, a URI or an absolute directory (default: the store an artifact URI argument ' +
        'belongs to, else MLOE_ARTIFACT_STORE, else ./.mloe/artifacts)',
    )
    .option('--upstream', 'only what it was made from (not with --downstream; both directions by default)')
    .option('--downstream', 'only what was made from it (not with --upstream)')
    .option('--depth <n>', 'execution levels to follow (0-1000, default 10)')
    .option('--json', 'print JSON')
    .action(async (target: string, options: LineageCommandOptions) => {
      if (options.upstream === true && options.downstream === true) {
        io.stderr('error: give --upstream or --downstream, not both (without either, both directions are shown)');
        return setExitCode(2);
      }
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runLineage } = require('./lineage') as typeof import('./lineage');
      const storeGiven = (options.artifactStore?.trim() ?? '') !== '';
      const config = configOf((settings) => settings.loadStoreReaderConfig({ env }, { storeGiven }));
      if (config === undefined) return setExitCode(1);
      setExitCode(
        await runLineage(
          target,
          {
            ...options,
            ...(config.s3 === undefined ? {} : { s3: config.s3 }),
            ...(config.artifactStore === undefined ? {} : { defaultArtifactStore: config.artifactStore }),
          },
          io,
        ),
      );
    });

  addModelsCommand(program, io, setExitCode, env);
  addApprovalCommands(program, io, setExitCode, env, connectionConfig, configOf);
  addMonitorCommands(program, io, setExitCode, connectionConfig);
  addTriggerCommands(program, io, setExitCode, env);
  addServeCommand(program, io, setExitCode, env);
  addCodecServerCommand(program, io, setExitCode, env);
  addScheduleCommands(program, io, setExitCode, connectionConfig);
  addExecutorCommands(program, io, setExitCode, env);
  addStepCommands(program, io, setExitCode, env);

  return program;
}

/** `mloe serve MODEL`: a registered model over HTTP (`clients/serve.ts`, loaded when the command runs). */
function addServeCommand(program: Command, io: StartDevIo, setExitCode: (code: number) => void, env: ConfigEnv): void {
  program
    .command('serve')
    .description(
      'Serve a registered model over HTTP: POST /predict, GET /health, hot reload when the alias moves (registry at ' +
        'MLFLOW_TRACKING_URI, else 127.0.0.1:5000)',
    )
    .argument('<model>', 'NAME@ALIAS, NAME/VERSION or a models:/ URI, e.g. penguins@champion')
    .option('--host <address>', 'the address to bind', '127.0.0.1')
    .option('--port <port>', 'the port (0: any free port)', '8080')
    .option('--poll-interval <ms>', 'how often the alias is resolved again (0: never)', '5000')
    .option('--log-sample-rate <share>', 'log this share of requests and predictions to the artifact store (0 to 1)')
    .option('--artifact-store <uri>', 'where prediction logs go (default: .mloe/artifacts here)')
    .option('--ready-file <path>', 'write {pid, url, uri, name, version} as JSON here once listening')
    .action(async (reference: string, flags: import('./serve').ServeFlags) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const serve = require('./serve') as typeof import('./serve');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const models = require('./models') as typeof import('./models');
      let target: import('./models').ModelsTarget;
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        target = (require('../workers/config') as typeof import('../workers/config')).loadModelsConfig({ env });
      } catch (error) {
        io.stderr(`error: ${ensureError(error).message}`);
        return setExitCode(1);
      }
      setExitCode(await serve.serveUntilStopped(reference, flags, target, io, models.modelsClient(target)));
    });
}

/** `mloe codec-server`: the payload codec of MLOE_CODEC_KEYS over Temporal's codec server contract. */
function addCodecServerCommand(
  program: Command,
  io: StartDevIo,
  setExitCode: (code: number) => void,
  env: ConfigEnv,
): void {
  program
    .command('codec-server')
    .description(
      'Serve the payload codec of MLOE_CODEC_KEYS for the Temporal Web UI and CLI: POST /encode, POST /decode ' +
        '(docs/encryption.md)',
    )
    .option('--ip <address>', 'the address to bind', '127.0.0.1')
    .option('--port <port>', 'the port (0: any free port)', '8081')
    .option(
      '--cors-origin <origin>',
      "a browser origin allowed to call it: the Web UI's, e.g. http://localhost:8233 (repeatable)",
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option('--auth-token <ref>', 'require Authorization: Bearer <token>, the token from env:NAME or file:PATH')
    .action(async (flags: import('./codec-server').CodecServerFlags) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const codecServer = require('./codec-server') as typeof import('./codec-server');
      setExitCode(await codecServer.runCodecServer(flags, io, env));
    });
}

/**
 * `mloe models list | versions NAME | show NAME@ALIAS|NAME/VERSION | alias set NAME ALIAS VERSION | alias delete NAME
 * ALIAS`: the MLflow model registry at MLFLOW_TRACKING_URI, or `mloe dev`'s (`clients/models.ts`, loaded when a
 * subcommand runs).
 */
function addModelsCommand(program: Command, io: StartDevIo, setExitCode: (code: number) => void, env: ConfigEnv): void {
  const run = async (
    action: (
      models: typeof import('./models'),
      client: import('../activities/mlflow').MlflowClient,
    ) => Promise<string[]>,
  ): Promise<void> => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const models = require('./models') as typeof import('./models');
    let target: import('./models').ModelsTarget;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      target = (require('../workers/config') as typeof import('../workers/config')).loadModelsConfig({ env });
    } catch (error) {
      io.stderr(`error: ${ensureError(error).message}`);
      return setExitCode(1);
    }
    setExitCode(await models.runModelsCommand(target, io, (client) => action(models, client)));
  };
  const models = program
    .command('models')
    .description(
      'The MLflow model registry: registered models, their versions and aliases (at MLFLOW_TRACKING_URI, else the ' +
        'server `mloe dev` starts on 127.0.0.1:5000)',
    );
  models
    .command('list')
    .description('List registered models: name, latest version, aliases, last update')
    .action(() => run((m, client) => m.listModels(client)));
  models
    .command('versions')
    .description("List a registered model's versions, newest first: created, aliases, MLflow run, mloe run, source")
    .argument('<name>', 'the registered model')
    .action((name: string) => run((m, client) => m.listVersions(client, name)));
  models
    .command('show')
    .description('Show one model version: source, run, status, aliases, tags and its MLmodel file')
    .argument('<model>', 'NAME@ALIAS or NAME/VERSION, e.g. housing-price@champion or housing-price/3')
    .action((reference: string) => run((m, client) => m.showVersion(client, reference)));
  const alias = models.command('alias').description("Set or delete a registered model's aliases");
  alias
    .command('set')
    .description('Point an alias at a version (moving it if it pointed elsewhere)')
    .argument('<name>', 'the registered model')
    .argument('<alias>', 'the alias, e.g. champion')
    .argument('<version>', 'the version number')
    .action((name: string, aliasName: string, version: string) =>
      run((m, client) => m.setAlias(client, name, aliasName, version)),
    );
  alias
    .command('delete')
    .description('Remove an alias')
    .argument('<name>', 'the registered model')
    .argument('<alias>', 'the alias')
    .action((name: string, aliasName: string) => run((m, client) => m.deleteAlias(client, name, aliasName)));
  models
    .command('rollback')
    .description(
      'Move the champion alias back to the previous version, and previous to the version before that; recorded ' +
        '(who, when, why) on the version taken out and in the model history (docs/promotion.md)',
    )
    .argument('<name>', 'the registered model')
    .option('--reason <text>', 'why, recorded with the rollback')
    .option('--identity <id>', 'who rolls back (default: MLOE_IDENTITY, else the OS user)')
    .option('--alias <alias>', 'the production alias', 'champion')
    .option('--previous-alias <alias>', 'the alias of the version to go back to', 'previous')
    .action((name: string, options: { reason?: string; identity?: string; alias: string; previousAlias: string }) => {
      let identity: string;
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const config = require('../workers/config') as typeof import('../workers/config');
        identity = config.loadIdentityConfig({ env, identity: options.identity }).identity;
      } catch (error) {
        io.stderr(`error: ${ensureError(error).message}`);
        return setExitCode(2);
      }
      return run((m, client) =>
        m.rollbackModel(client, name, {
          identity,
          alias: options.alias,
          previousAlias: options.previousAlias,
          ...(options.reason === undefined ? {} : { reason: options.reason }),
        }),
      );
    });
}

/**
 * `mloe approvals`, `mloe approve RUN` and `mloe reject RUN`: the approval gates of promote steps
 * (`clients/approvals.ts`, loaded when a command runs).
 */
function addApprovalCommands(
  program: Command,
  io: StartDevIo,
  setExitCode: (code: number) => void,
  env: ConfigEnv,
  connectionConfig: (flags: SettingFlags) => import('../workers/config').ConnectionConfig | undefined,
  configOf: <T>(load: (config: typeof import('../workers/config')) => T) => T | undefined,
): void {
  withConnectionOptions(
    program
      .command('approvals')
      .description(
        'List the runs waiting for a promotion approval: run, pipeline, step, model and version, current champion, ' +
          'since when, deadline and policy outcomes (from visibility: no worker needed)',
      )
      .option('--pipeline <name>', 'only runs of this pipeline'),
  ).action(async (options: SettingFlags & { pipeline?: string }) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runApprovals } = require('./approvals') as typeof import('./approvals');
    const config = connectionConfig(options);
    setExitCode(
      config === undefined
        ? 1
        : await runApprovals(options.pipeline === undefined ? {} : { pipeline: options.pipeline }, config, io),
    );
  });
  for (const kind of ['approve', 'reject'] as const) {
    const command = program
      .command(kind)
      .description(
        kind === 'approve'
          ? 'Approve the promotion a run waits for: its alias moves to the new version; who and why are recorded'
          : 'Reject the promotion a run waits for: no alias moves; who and why are recorded on the model version',
      )
      .argument('<run>', 'the run id (its workflow id)');
    command.option(
      '--reason <text>',
      kind === 'approve' ? 'why, recorded with the approval' : 'why, recorded with the rejection (required)',
    );
    withConnectionOptions(
      command
        .option('--identity <id>', 'who decides (default: MLOE_IDENTITY, else the OS user); always recorded')
        .option('--step <id>', 'the promote step, when the run waits at more than one'),
    ).action(async (run: string, options: SettingFlags & { reason?: string; identity?: string; step?: string }) => {
      if (kind === 'reject' && (options.reason ?? '').trim() === '') {
        io.stderr('error: a rejection needs a reason: give --reason "<why>" (it is recorded on the model version)');
        return setExitCode(2);
      }
      const identity = configOf((config) => config.loadIdentityConfig({ env, identity: options.identity }));
      if (identity === undefined) return setExitCode(2);
      const config = connectionConfig(options);
      if (config === undefined) return setExitCode(1);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runDecision } = require('./approvals') as typeof import('./approvals');
      setExitCode(
        await runDecision(
          kind,
          run,
          {
            identity: identity.identity,
            ...(options.reason === undefined ? {} : { reason: options.reason }),
            ...(options.step === undefined ? {} : { step: options.step }),
          },
          config,
          io,
        ),
      );
    });
  }
}

/** `mloe executors sweep`: the orphan job sweep of remote executors, for operators (docs/executors.md). */
function addExecutorCommands(
  program: Command,
  io: StartDevIo,
  setExitCode: (code: number) => void,
  env: ConfigEnv,
): void {
  const executors = program.command('executors').description('Remote executors: Kubernetes Jobs, AWS Batch jobs');
  withConnectionOptions(
    executors
      .command('sweep')
      .description(
        'Remove the unfinished Kubernetes Jobs and AWS Batch jobs mloe created for runs of this namespace that have ' +
          'closed (terminated, timed out), as `mloe worker --executor ...` does every minute; jobs of running runs ' +
          'and of other namespaces are kept (see docs/executors.md)',
      )
      .option('--dry-run', 'list the jobs that would be removed, remove nothing')
      .option(
        '--executor <kinds>',
        'the executors to sweep: kubernetes, batch (comma-separated; default: MLOE_EXECUTORS)',
      ),
  ).action(async (options: SettingFlags & { dryRun?: boolean }) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runExecutorsSweep } = require('./executors') as typeof import('./executors');
    setExitCode(await runExecutorsSweep(options, env, io));
  });
}

/** `mloe step exec`: a built-in step under the command-step contract, the command of remote `uses:` steps. */
function addStepCommands(program: Command, io: StartDevIo, setExitCode: (code: number) => void, env: ConfigEnv): void {
  const step = program.command('step').description('Run steps outside the worker');
  step
    .command('exec')
    .description(
      'Run built-in step NAME@VERSION under the command-step contract: inputs from $MLOE_INPUTS_FILE, outputs, ' +
        'outputs.json and metrics.json into $MLOE_OUTPUTS_DIR (the container command of a uses: step on the ' +
        'kubernetes or batch executor; see docs/executors.md)',
    )
    .argument('<step>', 'the built-in step, exactly name@version, e.g. train@2')
    .action(async (ref: string) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runStepExec } = require('./step-exec') as typeof import('./step-exec');
      setExitCode(await runStepExec(ref, env, io));
    });
}

/**
 * Runs the CLI with `process.argv` and exits with the command's code. Open handles (servers, timers) never keep
 * a finished command alive.
 */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  let exitCode = 0;
  const program = buildProgram(processIo, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    processIo.stderr(`error: ${ensureError(error).message}`);
    exitCode = 1;
  }
  exitAfterFlush(exitCode);
}

/** Exits once stdout and stderr have drained; pipes are asynchronous on some platforms. */
function exitAfterFlush(code: number): void {
  process.stdout.write('', () => {
    process.stderr.write('', () => process.exit(code));
  });
}

if (require.main === module) {
  void main();
}

/** `--seed`: a whole number from 0 to 2³²−1 (the split's seed range). */
function seedOption(value: string): number {
  const seed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(seed) || seed > 0xffffffff) {
    throw new InvalidArgumentError(`expected a whole number from 0 to 4294967295, got "${value}"`);
  }
  return seed;
}
