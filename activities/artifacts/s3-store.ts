/**
 * The `s3://` artifact store, on `@aws-sdk/client-s3` against AWS or any S3-compatible server. Blobs are objects at
 * `<prefix>/sha256/<ab>/<hex>` (prefix `artifacts` by default) carrying their digest as `x-amz-meta-sha256`, with a
 * record object beside each (`<hex>.json`).
 *
 * A streamed put cannot know its key before the last byte, so it uploads to `<prefix>/uploads/<uuid>` (multipart
 * above the part size, via `@aws-sdk/lib-storage`), hashing on the way, then copies server-side to the content key
 * and deletes the upload. An upload left behind by a crashed worker is garbage: expire `<prefix>/uploads/` and
 * incomplete multipart uploads with a bucket lifecycle rule. Buffers are hashed first and uploaded to their key.
 *
 * The client is configured with `requestChecksumCalculation` and `responseChecksumValidation` set to
 * `WHEN_REQUIRED`: with the SDK's default checksums, S3-compatible servers that do not understand `aws-chunked`
 * uploads store the chunk framing inside the object. Our own sha256 covers integrity end to end.
 */
import { randomUUID } from 'node:crypto';
import { Readable, pipeline } from 'node:stream';

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

import { MloeError } from '../../core/errors';
import { parseS3StoreConfig, type S3StoreConfig, type S3StoreConfigInput } from './config';
import {
  checkBucketName,
  checkDigestPrefix,
  checkKeyPrefix,
  contentKey,
  contentKeyPrefix,
  parseS3Uri,
  recordKey,
  splitContentKey,
  type RecordCollection,
} from './keys';
import { formatDigest, sha256Hex, type ArtifactRecord, type ArtifactRef } from './ref';
import {
  checkPageSize,
  checkPutOptions,
  nextRecord,
  parseJsonRecord,
  parseRecord,
  refFromRecord,
  resolveLocator,
  serializeJsonRecord,
  serializeRecord,
  unusableRecord,
  verifyByReading,
  type ArtifactEntry,
  type ArtifactLocator,
  type ArtifactStatus,
  type ArtifactStore,
  type ListOptions,
  type PutOptions,
  type PutRecordOptions,
  type ResolvedLocator,
} from './store';
import {
  DigestCounter,
  VerifyingStream,
  bytesOf,
  hashedReadable,
  isInMemory,
  readAll,
  type ArtifactBody,
} from './streams';

/** The key prefix used when a store URI names only a bucket. */
export const DEFAULT_S3_PREFIX = 'artifacts';

/** The largest object a single CopyObject may copy; larger ones are copied part by part. */
const MAX_COPY_OBJECT_BYTES = 5 * 1024 ** 3;
/** Part size of multipart copies (S3 allows at most 10,000 parts). */
const COPY_PART_BYTES = 512 * 1024 ** 2;
/** The object metadata key (`x-amz-meta-sha256`) holding a blob's hex digest. */
const DIGEST_METADATA_KEY = 'sha256';
const BLOB_CONTENT_TYPE = 'application/octet-stream';

/** Options of {@link S3ArtifactStore}. */
export interface S3ArtifactStoreOptions {
  bucket: string;
  /** Key prefix the store keeps its artifacts under; defaults to {@link DEFAULT_S3_PREFIX}. */
  prefix?: string;
  /** Client settings; ignored for those a shared `client` already has. */
  config?: S3StoreConfigInput;
  /** A client to share between stores; the store then leaves it open on `close`. */
  client?: S3Client;
}

/** The S3 client configuration for parsed settings. */
export function s3ClientConfig(config: S3StoreConfig): S3ClientConfig {
  return {
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    maxAttempts: config.maxAttempts,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    ...(config.credentials === undefined
      ? {}
      : {
          credentials: {
            accessKeyId: config.credentials.accessKeyId,
            secretAccessKey: config.credentials.secretAccessKey,
            ...(config.credentials.sessionToken === undefined ? {} : { sessionToken: config.credentials.sessionToken }),
          },
        }),
  };
}

/** The `s3://` store. See the module comment for the layout and the put protocol. */
export class S3ArtifactStore implements ArtifactStore {
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix, without leading or trailing slash. */
  readonly prefix: string;
  readonly rootUri: string;
  private readonly config: S3StoreConfig;
  private readonly ownsClient: boolean;

  constructor(options: S3ArtifactStoreOptions) {
    this.bucket = checkBucketName(options.bucket);
    this.prefix = checkKeyPrefix(options.prefix ?? DEFAULT_S3_PREFIX);
    this.rootUri = `s3://${this.bucket}/${this.prefix}`;
    this.config = parseS3StoreConfig(options.config);
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? new S3Client(s3ClientConfig(this.config));
  }

  /** The object key of a blob. */
  keyOf(hex: string): string {
    return `${this.prefix}/${contentKey(hex)}`;
  }

  async put(body: ArtifactBody, options: PutOptions = {}): Promise<ArtifactRef> {
    const checked = checkPutOptions(options);
    let hex: string;
    let size: number;
    if (isInMemory(body)) {
      const bytes = bytesOf(body);
      hex = sha256Hex(bytes);
      size = bytes.byteLength;
      const key = this.keyOf(hex);
      if (!(await this.holdsCopy(key, hex, size))) await this.upload(key, bytes, hex);
    } else {
      const counter = new DigestCounter();
      const uploadKey = `${this.prefix}/uploads/${randomUUID()}`;
      try {
        await this.upload(uploadKey, hashedReadable(body, counter), undefined);
        hex = counter.hex();
        size = counter.size;
        const key = this.keyOf(hex);
        if (!(await this.holdsCopy(key, hex, size))) await this.copy(uploadKey, key, hex, size);
      } finally {
        await this.deleteQuietly(uploadKey);
      }
    }
    const key = this.keyOf(hex);
    const uri = this.uriOf(key);
    const existing = await this.readRecord(key, uri, hex).catch(unusableRecord);
    const { record, changed } = nextRecord(existing, hex, size, checked, new Date());
    if (changed) {
      await this.call(
        this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: `${key}.json`,
            Body: serializeRecord(record),
            ContentType: 'application/json',
          }),
        ),
        `write the record of ${uri}`,
      );
    }
    return refFromRecord(uri, record);
  }

  async get(locator: ArtifactLocator): Promise<Readable> {
    const { key, resolved } = this.locate(locator);
    const response = await this.call(
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })),
      `read ${resolved.uri}`,
      resolved.uri,
    );
    const body = response.Body;
    if (!(body instanceof Readable)) {
      throw new MloeError('INTERNAL', `S3 returned no readable body for ${resolved.uri}`);
    }
    if (
      resolved.size !== undefined &&
      response.ContentLength !== undefined &&
      response.ContentLength !== resolved.size
    ) {
      body.destroy();
      throw new MloeError(
        'ARTIFACT_CORRUPT',
        `artifact ${resolved.uri} is corrupt: expected ${resolved.size} bytes, found ${response.ContentLength}`,
      );
    }
    const verifier = new VerifyingStream(resolved.uri, resolved.hex, resolved.size);
    // Errors of the response stream reach the consumer through `verifier`, which pipeline destroys with them.
    pipeline(body, verifier, () => undefined);
    return verifier;
  }

  async head(locator: ArtifactLocator): Promise<ArtifactRef> {
    const { key, resolved } = this.locate(locator);
    const blob = await this.call(
      this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })),
      `inspect ${resolved.uri}`,
      resolved.uri,
    );
    const size = blob.ContentLength ?? 0;
    if (resolved.size !== undefined && size !== resolved.size) {
      throw new MloeError(
        'ARTIFACT_CORRUPT',
        `artifact ${resolved.uri} is corrupt: expected ${resolved.size} bytes, found ${size}`,
      );
    }
    const record = await this.readRecord(key, resolved.uri, resolved.hex);
    if (record !== undefined && record.size !== size) {
      throw new MloeError(
        'ARTIFACT_CORRUPT',
        `artifact ${resolved.uri} is corrupt: ${size} bytes, recorded ${record.size}`,
      );
    }
    // A blob without a record (uploaded by other means) is described as a plain file.
    return refFromRecord(
      resolved.uri,
      record ?? {
        version: 1,
        digest: formatDigest(resolved.hex),
        size,
        type: 'file',
        metadata: {},
        createdAt: (blob.LastModified ?? new Date(0)).toISOString(),
      },
    );
  }

  async exists(locator: ArtifactLocator): Promise<boolean> {
    const { key, resolved } = this.locate(locator);
    try {
      await this.call(
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })),
        `inspect ${resolved.uri}`,
        resolved.uri,
      );
      return true;
    } catch (error) {
      if (error instanceof MloeError && error.code === 'ARTIFACT_NOT_FOUND') return false;
      throw error;
    }
  }

  verify(locator: ArtifactLocator): Promise<ArtifactStatus> {
    return verifyByReading(this, locator);
  }

  async *list(options: ListOptions = {}): AsyncGenerator<ArtifactEntry> {
    const hex = checkDigestPrefix(options.prefix ?? '');
    const pageSize = checkPageSize(options.pageSize);
    const keyPrefix = `${this.prefix}/${contentKeyPrefix(hex)}`;
    let continuationToken: string | undefined;
    do {
      const page = await this.call(
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: keyPrefix,
            MaxKeys: pageSize,
            ContinuationToken: continuationToken,
          }),
        ),
        `list ${this.rootUri} under ${keyPrefix}`,
      );
      for (const object of page.Contents ?? []) {
        const split = object.Key === undefined ? undefined : splitContentKey(object.Key);
        if (split === undefined || split.root !== this.prefix || !split.hex.startsWith(hex)) continue;
        yield { uri: this.uriOf(this.keyOf(split.hex)), digest: formatDigest(split.hex), size: object.Size ?? 0 };
      }
      continuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  }

  /** S3 acknowledges a PUT once it is stored durably, so `options.sync` changes nothing here. */
  async putRecord(
    collection: RecordCollection,
    name: string,
    value: unknown,
    _options?: PutRecordOptions,
  ): Promise<void> {
    const key = `${this.prefix}/${recordKey(collection, name)}`;
    await this.call(
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: serializeJsonRecord(value),
          ContentType: 'application/json',
        }),
      ),
      `write ${this.uriOf(key)}`,
    );
  }

  async getRecord(collection: RecordCollection, name: string): Promise<unknown> {
    const key = `${this.prefix}/${recordKey(collection, name)}`;
    const uri = this.uriOf(key);
    try {
      const response = await this.call(
        this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })),
        `read ${uri}`,
        uri,
      );
      if (!(response.Body instanceof Readable)) throw new MloeError('INTERNAL', `S3 returned no body for ${uri}`);
      return parseJsonRecord(await readAll(response.Body), uri);
    } catch (error) {
      if (error instanceof MloeError && error.code === 'ARTIFACT_NOT_FOUND') return undefined;
      throw error;
    }
  }

  async *listRecords(collection: RecordCollection): AsyncGenerator<string> {
    const keyPrefix = `${this.prefix}/${recordKey(collection, 'x').slice(0, -'x.json'.length)}`;
    // S3 lists keys in byte order, where `a-b.json` comes before `a.json`: collect the names and sort them.
    const names: string[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.call(
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: keyPrefix, ContinuationToken: continuationToken }),
        ),
        `list ${this.rootUri} under ${keyPrefix}`,
      );
      for (const object of page.Contents ?? []) {
        const rest = object.Key?.slice(keyPrefix.length) ?? '';
        if (rest.endsWith('.json') && !rest.includes('/')) names.push(rest.slice(0, -'.json'.length));
      }
      continuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
    yield* names.sort();
  }

  close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
    return Promise.resolve();
  }

  /**
   * The object key of a locator, accepted only when its URI is exactly where this store keeps that digest: another
   * bucket or prefix, traversal, or a digest that disagrees with the URI is `PATH_INVALID`.
   */
  locate(locator: ArtifactLocator): { key: string; resolved: ResolvedLocator } {
    const uri = typeof locator === 'string' ? locator : locator.uri;
    if (!uri.startsWith('s3://')) throw new MloeError('PATH_INVALID', `artifact URI "${uri}" is not an s3:// URI`);
    const { bucket, key } = parseS3Uri(uri);
    const split = splitContentKey(key);
    if (bucket !== this.bucket || split === undefined || split.root !== this.prefix) {
      throw new MloeError('PATH_INVALID', `artifact URI "${uri}" is not an artifact of the store at ${this.rootUri}`);
    }
    return { key, resolved: resolveLocator(locator, split.hex) };
  }

  private uriOf(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /** Whether the content key already holds an object of this size recorded (by us) with this digest. */
  private async holdsCopy(key: string, hex: string, size: number): Promise<boolean> {
    try {
      const head = await this.call(
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })),
        `inspect ${key}`,
        key,
      );
      return head.ContentLength === size && head.Metadata?.[DIGEST_METADATA_KEY] === hex;
    } catch (error) {
      if (error instanceof MloeError && error.code === 'ARTIFACT_NOT_FOUND') return false;
      throw error;
    }
  }

  /** Uploads a body, in parts when it is larger than the part size. */
  private async upload(key: string, body: Buffer | Readable, hex: string | undefined): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: BLOB_CONTENT_TYPE,
        ...(hex === undefined ? {} : { Metadata: { [DIGEST_METADATA_KEY]: hex } }),
      },
      partSize: this.config.partSizeBytes,
      queueSize: this.config.queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      // An error of the stream being stored is the caller's, not the store's: pass it through.
      if (body instanceof Readable && body.errored !== null && body.errored === error) throw error;
      throw s3Failure(error, `upload s3://${this.bucket}/${key}`);
    }
  }

  /** Copies an object server-side to its content key, stamping the digest into its metadata. */
  private async copy(source: string, target: string, hex: string, size: number): Promise<void> {
    const copySource = `${this.bucket}/${source}`;
    const what = `copy s3://${copySource} to ${target}`;
    if (size <= MAX_COPY_OBJECT_BYTES) {
      await this.call(
        this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: target,
            CopySource: copySource,
            MetadataDirective: 'REPLACE',
            Metadata: { [DIGEST_METADATA_KEY]: hex },
            ContentType: BLOB_CONTENT_TYPE,
          }),
        ),
        what,
      );
      return;
    }
    // Above 5 GiB S3 only copies part by part.
    const partSize = Math.max(COPY_PART_BYTES, Math.ceil(size / 10_000));
    const { UploadId: uploadId } = await this.call(
      this.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key: target,
          ContentType: BLOB_CONTENT_TYPE,
          Metadata: { [DIGEST_METADATA_KEY]: hex },
        }),
      ),
      what,
    );
    try {
      const parts: CompletedPart[] = [];
      for (let start = 0, partNumber = 1; start < size; start += partSize, partNumber += 1) {
        const end = Math.min(start + partSize, size) - 1;
        const { CopyPartResult } = await this.call(
          this.client.send(
            new UploadPartCopyCommand({
              Bucket: this.bucket,
              Key: target,
              UploadId: uploadId,
              PartNumber: partNumber,
              CopySource: copySource,
              CopySourceRange: `bytes=${start}-${end}`,
            }),
          ),
          what,
        );
        parts.push({ PartNumber: partNumber, ETag: CopyPartResult?.ETag });
      }
      await this.call(
        this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key: target,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
          }),
        ),
        what,
      );
    } catch (error) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: target, UploadId: uploadId }))
        .catch(() => undefined);
      throw error;
    }
  }

  /** Deletes a temporary upload; a failure only leaves garbage for the lifecycle rule, so it is not an error. */
  private async deleteQuietly(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch(() => undefined);
  }

  /** The record object beside a blob, or undefined when there is none. */
  private async readRecord(key: string, uri: string, hex: string): Promise<ArtifactRecord | undefined> {
    let bytes: Buffer;
    try {
      const response = await this.call(
        this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: `${key}.json` })),
        `read the record of ${uri}`,
        uri,
      );
      if (!(response.Body instanceof Readable)) {
        throw new MloeError('INTERNAL', `S3 returned no readable body for the record of ${uri}`);
      }
      bytes = await readAll(response.Body);
    } catch (error) {
      if (error instanceof MloeError && error.code === 'ARTIFACT_NOT_FOUND') return undefined;
      throw error;
    }
    return parseRecord(bytes, uri, hex);
  }

  /** Awaits an S3 call, turning S3 and network errors into {@link MloeError}s (see {@link s3Failure}). */
  private async call<Output>(request: Promise<Output>, what: string, uri?: string): Promise<Output> {
    try {
      return await request;
    } catch (error) {
      throw s3Failure(error, what, uri);
    }
  }
}

/** S3 error names that mean the request cannot succeed as it is. */
const PERMANENT_S3_ERRORS = new Set([
  'NoSuchBucket',
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidBucketName',
  'InvalidArgument',
  'InvalidRequest',
  'NotImplemented',
  'EntityTooLarge',
  'EntityTooSmall',
]);

/**
 * An S3 or network error as an {@link MloeError}: a missing key (when `uri` says which artifact was asked for) is
 * `ARTIFACT_NOT_FOUND`; anything else is `ARTIFACT_STORE_FAILED`, retryable unless S3 said the request itself is
 * wrong (missing bucket, denied, invalid).
 */
export function s3Failure(error: unknown, what: string, uri?: string): MloeError {
  if (error instanceof MloeError) return error;
  const details = error as { name?: unknown; message?: unknown; $metadata?: { httpStatusCode?: number } } | undefined;
  const name = typeof details?.name === 'string' ? details.name : 'Error';
  const status = details?.$metadata?.httpStatusCode;
  const message = typeof details?.message === 'string' && details.message !== '' ? details.message : name;
  if (
    uri !== undefined &&
    (name === 'NoSuchKey' || name === 'NotFound' || (status === 404 && name !== 'NoSuchBucket'))
  ) {
    return new MloeError('ARTIFACT_NOT_FOUND', `artifact ${uri} does not exist`, { cause: error });
  }
  const permanent =
    PERMANENT_S3_ERRORS.has(name) ||
    (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429);
  return new MloeError(
    'ARTIFACT_STORE_FAILED',
    `artifact store could not ${what}: ${name}${status === undefined ? '' : ` (HTTP ${status})`}: ${message}`,
    { cause: error, retryable: !permanent },
  );
}
