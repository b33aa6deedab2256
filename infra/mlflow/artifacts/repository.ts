/**
 * Where proxied artifacts live: a directory (`file://`) or an S3 bucket and prefix (`s3://`). Paths given to a
 * repository have been validated ({@link validateArtifactPath}) and are relative to its root.
 */
import type { Readable } from 'node:stream';

/** One entry of a listing. */
export interface ArtifactFileInfo {
  /** The entry's name relative to the listed directory. */
  name: string;
  isDir: boolean;
  /** Size in bytes of a file. */
  size?: number;
}

/** An artifact store the proxy reads and writes. */
export interface ArtifactRepository {
  /** The destination's URI, for messages. */
  readonly uri: string;
  /** Stores a file, replacing any file at `path`; resolves once it is durable. */
  put(path: string, body: Readable): Promise<void>;
  /** A file's bytes and size, or undefined when there is no file at `path`. */
  get(path: string): Promise<{ body: Readable; size: number } | undefined>;
  /** The entries directly under a directory (empty when there is none), sorted by name. */
  list(path: string): Promise<ArtifactFileInfo[]>;
  /** Deletes a file, or a directory and everything under it. */
  delete(path: string): Promise<void>;
}
