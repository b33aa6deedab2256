/**
 * Artifacts: content-addressed (sha256), typed, described by metadata, and passed between pipeline steps as
 * {@link ArtifactRef}s, never through Temporal payloads. Two stores implement {@link ArtifactStore}: `file://` (the
 * default, under `.mloe/artifacts` in the working directory) and `s3://` (any S3-compatible endpoint).
 */
export {
  ARTIFACT_TYPES,
  MAX_METADATA_BYTES,
  artifactDigestSchema,
  artifactMetadataSchema,
  artifactRecordSchema,
  artifactRefSchema,
  artifactTypeSchema,
  digestHex,
  formatDigest,
  artifactRefsIn,
  parseArtifactRef,
  sha256Hex,
  shortDigest,
} from './ref';
export type { ArtifactMetadata, ArtifactRecord, ArtifactRef, ArtifactType } from './ref';
export { getBytes, getJson, getText, putJson } from './store';
export type {
  ArtifactEntry,
  ArtifactLocator,
  ArtifactStatus,
  ArtifactStore,
  ListOptions,
  PutOptions,
  PutRecordOptions,
} from './store';
export type { ArtifactBody } from './streams';
export { checkAbsolutePath, checkBucketName, parseFileUri, parseS3Uri } from './keys';
export { artifactStoreConfigSchema, parseArtifactStoreConfig, parseS3StoreConfig, s3StoreConfigSchema } from './config';
export type { ArtifactStoreConfig, ArtifactStoreConfigInput, S3StoreConfig, S3StoreConfigInput } from './config';
export { DEFAULT_ARTIFACTS_SUBDIRECTORY, FileArtifactStore } from './file-store';
export type { FileArtifactStoreOptions } from './file-store';
export { DEFAULT_S3_PREFIX, S3ArtifactStore, s3ClientConfig } from './s3-store';
export type { S3ArtifactStoreOptions } from './s3-store';
export { ARTIFACT_STORE_SCHEMES, createStoreResolver, storeForUri } from './factory';
export { RECORD_COLLECTIONS, recordKey } from './keys';
export type { RecordCollection } from './keys';
