/**
 * Configuration of the artifact stores, parsed once with zod. Only the S3 store has settings beyond its URI: the
 * endpoint (any S3-compatible server), region, addressing style, credentials and multipart tuning.
 */
import { z } from 'zod';

import { ConfigError } from '../../core/errors';

const MIB = 1024 * 1024;

/** S3's smallest part size (every part but the last). */
export const MIN_PART_SIZE_BYTES = 5 * MIB;

/** Schema of the S3 store's settings. */
export const s3StoreConfigSchema = z
  .object({
    /** Base URL of an S3-compatible server (`http://127.0.0.1:9000`); omitted for AWS itself. */
    endpoint: z.url({ protocol: /^https?$/, message: 'endpoint must be an http(s) URL' }).optional(),
    region: z
      .string()
      .regex(/^[a-z0-9-]+$/, 'region must be lowercase letters, digits and hyphens')
      .default('us-east-1'),
    /** Path-style addressing (`endpoint/bucket/key`); defaults to on when an endpoint is set, off for AWS. */
    forcePathStyle: z.boolean().optional(),
    /** Static credentials; omitted, the AWS SDK's default provider chain (environment, profile, IMDS) is used. */
    credentials: z
      .object({
        accessKeyId: z.string().min(1),
        secretAccessKey: z.string().min(1),
        sessionToken: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /** Objects larger than this are uploaded in parts of this size (S3 allows 5 MiB to 5 GiB). */
    partSizeBytes: z
      .number()
      .int()
      .min(MIN_PART_SIZE_BYTES)
      .max(5 * 1024 * MIB)
      .default(16 * MIB),
    /** Parts uploaded concurrently; at most `queueSize × partSizeBytes` is held in memory per upload. */
    queueSize: z.number().int().min(1).max(64).default(4),
    /** Attempts per request, the SDK's own retries of throttling and server errors included. */
    maxAttempts: z.number().int().min(1).max(20).default(3),
  })
  .strict()
  .transform(({ forcePathStyle, ...rest }) => ({
    ...rest,
    forcePathStyle: forcePathStyle ?? rest.endpoint !== undefined,
  }));

/** The S3 store's settings, as written. */
export type S3StoreConfigInput = z.input<typeof s3StoreConfigSchema>;
/** The S3 store's settings, parsed and with defaults applied. */
export type S3StoreConfig = z.output<typeof s3StoreConfigSchema>;

/** Schema of the artifact stores' configuration. */
export const artifactStoreConfigSchema = z
  .object({
    s3: s3StoreConfigSchema.prefault({}),
  })
  .strict();

/** The artifact stores' configuration, as written. */
export type ArtifactStoreConfigInput = z.input<typeof artifactStoreConfigSchema>;
/** The artifact stores' configuration, parsed. */
export type ArtifactStoreConfig = z.output<typeof artifactStoreConfigSchema>;

/** Parses a configuration; `CONFIG_INVALID` lists every problem. */
export function parseArtifactStoreConfig(input: unknown): ArtifactStoreConfig {
  const parsed = artifactStoreConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new ConfigError(`invalid artifact store configuration: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** Parses the S3 settings alone; `CONFIG_INVALID` lists every problem. */
export function parseS3StoreConfig(input: unknown): S3StoreConfig {
  return parseArtifactStoreConfig({ s3: input ?? {} }).s3;
}
