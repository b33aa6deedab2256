/**
 * The typed MLflow client: one object over one configuration, its APIs grouped as MLflow's REST API groups them.
 *
 * ```ts
 * const mlflow = createMlflowClient(mlflowConfigFromEnv(process.env));
 * const experiment = await mlflow.experiments.ensure({ name: 'churn' });
 * const run = await mlflow.runs.create({ experimentId: experiment.experimentId, runName: 'train' });
 * await mlflow.runs.logBatch(run.info.runId, { metrics: [{ key: 'rmse', value: 0.3, step: 1 }] });
 * ```
 */
import { ArtifactsApi } from './artifacts';
import type { MlflowConfig } from './config';
import { ExperimentsApi } from './experiments';
import { MlflowHttpClient, type HttpHooks } from './http';
import { ModelVersionsApi } from './model-versions';
import { RegisteredModelsApi } from './registered-models';
import { RunsApi } from './runs';
import { UriResolver } from './uris';

/** An MLflow tracking server and model registry, through their REST API. */
export class MlflowClient {
  /** The transport: base URLs, retries, timeouts, authentication. */
  readonly http: MlflowHttpClient;
  readonly experiments: ExperimentsApi;
  readonly runs: RunsApi;
  readonly artifacts: ArtifactsApi;
  readonly registeredModels: RegisteredModelsApi;
  readonly modelVersions: ModelVersionsApi;
  /** `models:/…` and `runs:/…` URIs resolved to versions and artifact locations. */
  readonly uris: UriResolver;

  constructor(http: MlflowHttpClient) {
    this.http = http;
    this.experiments = new ExperimentsApi(http);
    this.runs = new RunsApi(http);
    this.artifacts = new ArtifactsApi(http, this.runs);
    this.registeredModels = new RegisteredModelsApi(http);
    this.modelVersions = new ModelVersionsApi(http);
    this.uris = new UriResolver(this.registeredModels, this.modelVersions, this.runs);
  }

  /** The same client with every request aborted by `signal` (e.g. an activity's cancellation signal). */
  withSignal(signal: AbortSignal): MlflowClient {
    return new MlflowClient(this.http.withSignal(signal));
  }
}

/** A client for `config`; `hooks` replace the wait between retries, the jitter's randomness or `fetch` (tests). */
export function createMlflowClient(config: MlflowConfig, hooks: HttpHooks = {}): MlflowClient {
  return new MlflowClient(new MlflowHttpClient(config, hooks));
}
