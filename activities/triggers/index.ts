/**
 * The activities of data-arrival triggers (`workflows/watch-prefix.ts`): `listNewObjects` lists the watched location
 * and answers the objects new since the cursor. It only reads, so it is idempotent: a retried listing answers the
 * same objects (or more), and the workflow decides what starts. `startTriggeredRuns` starts runs, each once ever;
 * `writeObjectManifest` writes a debounced run's object manifest, content-addressed (so idempotent too).
 */
import { Context } from '@temporalio/activity';
import { S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';

import type { ArtifactStore } from '../artifacts';

import { parseS3StoreConfig, type S3StoreConfigInput } from '../artifacts/config';
import { s3ClientConfig } from '../artifacts/s3-store';
import { withFailureMapping } from '../failures';
import { MloeError } from '../../core/errors';
import type {
  ListNewObjectsInput,
  ListNewObjectsResult,
  StartTriggeredRunsInput,
  StartedRun,
  WriteObjectManifestInput,
  WrittenObjectManifest,
} from '../../workflows/trigger-types';
import { createObjectLister, newObjects, type ObjectLister } from './listing';
import { writeObjectManifest } from './manifest';
import { startTriggeredRuns } from './start-runs';

export { compileGlob, type GlobMatcher } from '../../core/triggers/glob';
export { createObjectLister, newObjects, objectUri, type ListedObject, type ObjectLister } from './listing';

/** The trigger activities, as workflows call them. */
export interface TriggerActivities {
  /** Lists the watched location; answers the new objects (oldest first) and the cursor after them. */
  listNewObjects(input: ListNewObjectsInput): Promise<ListNewObjectsResult>;
  /** Starts runs (each once ever: a run that exists is left alone and reported `existing`). */
  startTriggeredRuns(input: StartTriggeredRunsInput): Promise<StartedRun[]>;
  /** Writes a debounced run's object manifest to the run's artifact store; answers its URI (content-addressed). */
  writeObjectManifest(input: WriteObjectManifestInput): Promise<WrittenObjectManifest>;
}

/** Options of {@link createTriggerActivities}. */
export interface TriggerActivityOptions {
  /** The S3 settings of `s3://` locations (the worker's, as for its artifact stores). */
  s3?: S3StoreConfigInput;
  /** Another lister (tests). */
  lister?: ObjectLister;
  /** The Temporal client runs are started with (the worker's own connection and namespace). */
  client?: () => Client;
  /** Opens the artifact store at a location (the worker's default when absent), for object manifests. */
  stores?: (location?: string) => ArtifactStore;
}

/** The trigger activities of a worker; one S3 client, made on first use and kept. */
export function createTriggerActivities(options: TriggerActivityOptions = {}): TriggerActivities {
  let client: S3Client | undefined;
  const lister =
    options.lister ??
    createObjectLister(() => (client ??= new S3Client(s3ClientConfig(parseS3StoreConfig(options.s3 ?? {})))));
  return {
    listNewObjects: (input) =>
      withFailureMapping(async () => {
        const heartbeat = (): void => {
          if (Context.current().info.heartbeatTimeoutMs !== undefined) Context.current().heartbeat();
        };
        const listed = await lister(input.on, heartbeat);
        return newObjects(listed, input);
      }),
    startTriggeredRuns: (input) =>
      withFailureMapping(async () => {
        if (options.client === undefined) {
          throw new MloeError('INTERNAL', 'this worker was created without a Temporal client: it cannot start runs');
        }
        const context = Context.current();
        return startTriggeredRuns(options.client(), input, () => context.heartbeat());
      }),
    writeObjectManifest: (input) =>
      withFailureMapping(async () => {
        if (options.stores === undefined) {
          throw new MloeError('INTERNAL', 'this worker was created without artifact stores: it cannot write manifests');
        }
        return writeObjectManifest(options.stores, input);
      }),
  };
}
