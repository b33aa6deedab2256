/**
 * The embedded MLflow server of the zero-service commands (`mloe dev`, `mloe demo`, an embedded `mloe run`): where
 * its data lives, and the line that says where runs are tracked. It is started only when `MLFLOW_TRACKING_URI` is
 * unset; a tracking URI set by the user always wins.
 *
 * - `mloe dev`: on 127.0.0.1:5000 (`--mlflow-port`), in memory; with `-f state.db`, in SQLite beside the dev server's
 *   file (`state.mlflow.db`), so that tracked runs and registered models survive a restart as the workflows do.
 * - `mloe demo`: on a free port, in SQLite `.mloe/demo.mlflow.db` under its artifact root, so that the next demo meets
 *   this one's champion.
 * - An embedded `mloe run`: on a free port, in memory: it lasts as long as the command, which prints what was tracked
 *   before it stops.
 *
 * Proxied artifacts (the server's `mlflow-artifacts:`) go to `.mloe/mlflow-artifacts` beside the run's artifact store
 * (mloe itself keeps models in its own artifact store and sends MLflow none).
 */
import { basename, dirname, join, resolve } from 'node:path';

import type { TrackingConfig } from '../activities/tracking/config';
import type { EmbeddedStackOptions } from './embedded-stack';

/** The SQLite file of `mloe dev -f FILE`'s MLflow server: `state.db` → `state.mlflow.db`, beside it. */
export function mlflowDatabaseFor(dbFilename: string): string {
  const path = resolve(dbFilename);
  const name = basename(path);
  const stem = name.endsWith('.db') ? name.slice(0, -'.db'.length) : name;
  return join(dirname(path), `${stem}.mlflow.db`);
}

/** The embedded server's options: in memory, or in the SQLite file beside `dbFilename`. */
export function embeddedMlflowOptions(options: {
  host?: string;
  port: number;
  dbFilename?: string;
  /** The directory `.mloe/mlflow-artifacts` goes in. */
  artifactsParent: string;
}): NonNullable<EmbeddedStackOptions['mlflow']> {
  return {
    host: options.host ?? '127.0.0.1',
    port: options.port,
    ...(options.dbFilename === undefined
      ? {}
      : { backendStoreUri: `sqlite:///${mlflowDatabaseFor(options.dbFilename)}` }),
    artifactsDestination: join(resolve(options.artifactsParent), '.mloe', 'mlflow-artifacts'),
  };
}

/** Where runs are tracked, for the start-up lines. */
export function trackingLine(tracking: TrackingConfig | undefined, options: { dbFilename?: string } = {}): string {
  if (tracking === undefined) return 'MLflow tracking: off';
  const server = tracking.mlflow.trackingUri;
  if (tracking.links === 'ui') return `MLflow tracking: runs tracked in ${server} (MLFLOW_TRACKING_URI)`;
  const where = options.dbFilename === undefined ? 'in memory' : `in SQLite ${mlflowDatabaseFor(options.dbFilename)}`;
  return `MLflow tracking server (embedded, ${where}) running at ${server}: MLFLOW_TRACKING_URI=${server} mloe models list`;
}
