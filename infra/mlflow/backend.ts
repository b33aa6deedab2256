/**
 * The server's stores assembled over one database: experiments, runs and their search, registered models and model
 * versions, and the artifact repository of the artifacts destination. Benchmarks call these in-process.
 */
import { FileArtifactRepository } from './artifacts/file-repository';
import type { ArtifactRepository } from './artifacts/repository';
import { S3ArtifactRepository } from './artifacts/s3-repository';
import type { ArtifactsDestination, MlflowServerConfig, S3Settings } from './config';
import { RegistryReader } from './registry/entities';
import { ModelVersionStore } from './registry/model-versions';
import { RegisteredModelStore } from './registry/registered-models';
import { MlflowDatabase } from './store/database';
import { ExperimentStore } from './tracking/experiments';
import { searchRuns, type SearchRunsOptions } from './tracking/run-search';
import { RunStore, type RunJson } from './tracking/runs';
import { localPathOf } from './uris';

/** Everything the HTTP layer serves. */
export interface MlflowBackend {
  readonly config: MlflowServerConfig;
  readonly database: MlflowDatabase;
  readonly experiments: ExperimentStore;
  readonly runs: RunStore;
  readonly registeredModels: RegisteredModelStore;
  readonly modelVersions: ModelVersionStore;
  /** The artifacts destination (used when serving artifacts). */
  readonly artifacts: ArtifactRepository;
  /** Runs matching a search, one page at a time. */
  searchRuns(options: SearchRunsOptions): { runs: RunJson[]; nextPageToken?: string };
  /** A repository for a non-proxied artifact root (`file:`, a local path or `s3://`); undefined for other schemes. */
  repositoryFor(uri: string): ArtifactRepository | undefined;
  /** Commits what is pending and closes the database and the repositories. */
  close(): void;
}

/** An artifact repository for a destination. */
export function artifactRepository(destination: ArtifactsDestination, s3: S3Settings): ArtifactRepository {
  return destination.kind === 'file'
    ? new FileArtifactRepository(destination.root)
    : new S3ArtifactRepository(destination.bucket, destination.prefix, s3);
}

/** Opens the database (durable or in memory) and builds the stores on it. */
export function createMlflowBackend(config: MlflowServerConfig, now: () => number = Date.now): MlflowBackend {
  const database = new MlflowDatabase(config.databaseFile);
  try {
    const experiments = new ExperimentStore(database, config.defaultArtifactRoot, now);
    const runs = new RunStore(database, experiments, now);
    const reader = new RegistryReader(database.db);
    const artifacts = artifactRepository(config.artifactsDestination, config.s3);
    const s3Roots = new Map<string, S3ArtifactRepository>();
    return {
      config,
      database,
      experiments,
      runs,
      registeredModels: new RegisteredModelStore(database, reader, now),
      modelVersions: new ModelVersionStore(database, reader, (runId) => runs.info(runId).artifact_uri, now),
      artifacts,
      searchRuns: (options) => searchRuns(database.db, runs, options),
      repositoryFor: (uri) => {
        const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
        if (s3 !== null) {
          const prefix = s3[2]!.replace(/\/+$/, '');
          const key = `${s3[1]!}/${prefix}`;
          let repository = s3Roots.get(key);
          if (repository === undefined) {
            repository = new S3ArtifactRepository(s3[1]!, prefix, config.s3);
            s3Roots.set(key, repository);
          }
          return repository;
        }
        const local = localPathOf(uri, config.cwd);
        return local === undefined ? undefined : new FileArtifactRepository(local);
      },
      close: () => {
        database.close();
        if (artifacts instanceof S3ArtifactRepository) artifacts.destroy();
        for (const repository of s3Roots.values()) repository.destroy();
      },
    };
  } catch (error) {
    database.close();
    throw error;
  }
}
