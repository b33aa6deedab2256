/**
 * `storeForUri`: the store that serves a URI, whether the URI names a store's root (`file:///data/artifacts`,
 * `s3://bucket/team-a`) or one artifact in it (`…/sha256/<ab>/<hex>`).
 */
import { MloeError } from '../../core/errors';
import { parseArtifactStoreConfig, type ArtifactStoreConfigInput } from './config';
import { FileArtifactStore } from './file-store';
import { parseFileUri, parseS3Uri, splitContentKey, uriScheme } from './keys';
import { DEFAULT_S3_PREFIX, S3ArtifactStore } from './s3-store';
import type { ArtifactStore } from './store';

/** The URI schemes a store exists for. */
export const ARTIFACT_STORE_SCHEMES = ['file', 's3'] as const;

/**
 * The store for a URI. `file:///dir` is a store rooted at `/dir`; `s3://bucket` one under the `artifacts` prefix of
 * the bucket and `s3://bucket/some/prefix` one under that prefix. An artifact URI gives the store it belongs to.
 * Each call makes a new store (and, for S3, a new client): keep the store rather than calling this per artifact.
 * Throws `PATH_INVALID` for anything else, `CONFIG_INVALID` for a bad configuration.
 */
export function storeForUri(uri: string, config: ArtifactStoreConfigInput = {}): ArtifactStore {
  const parsed = parseArtifactStoreConfig(config);
  const scheme = uriScheme(uri);
  switch (scheme) {
    case 'file': {
      const path = parseFileUri(uri);
      return new FileArtifactStore({ root: splitContentKey(path)?.root ?? path });
    }
    case 's3': {
      const { bucket, key } = parseS3Uri(uri);
      const prefix = key === '' ? DEFAULT_S3_PREFIX : (splitContentKey(key)?.root ?? key);
      return new S3ArtifactStore({ bucket, prefix, config: parsed.s3 });
    }
    default:
      throw new MloeError(
        'PATH_INVALID',
        `unsupported artifact store URI "${uri}": expected one of ${ARTIFACT_STORE_SCHEMES.map((s) => `${s}://`).join(', ')}`,
      );
  }
}

/**
 * Opens stores by location and keeps them for the process's life: a worker talks to the same few stores over and
 * over, and an S3 store holds a client with a connection pool. A location is a store URI or the absolute root of a
 * file store; no location means `defaultLocation`.
 */
export function createStoreResolver(options: {
  config?: ArtifactStoreConfigInput;
  defaultLocation: string;
}): (location?: string) => ArtifactStore {
  const stores = new Map<string, ArtifactStore>();
  return (location = options.defaultLocation) => {
    let store = stores.get(location);
    if (store === undefined) {
      store = location.startsWith('/')
        ? new FileArtifactStore({ root: location })
        : storeForUri(location, options.config ?? {});
      stores.set(location, store);
    }
    return store;
  };
}
