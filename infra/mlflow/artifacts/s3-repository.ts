/**
 * Artifacts in an S3 bucket (AWS or any S3-compatible server) under an optional key prefix. Uploads stream through
 * multipart when large (`@aws-sdk/lib-storage`); S3 replaces objects atomically. Credentials come from the AWS SDK's
 * default provider chain.
 */
import type { Readable } from 'node:stream';

import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

import type { S3Settings } from '../config';
import type { ArtifactFileInfo, ArtifactRepository } from './repository';

/** Artifacts under `s3://bucket/prefix`. */
export class S3ArtifactRepository implements ArtifactRepository {
  readonly uri: string;
  private readonly client: S3Client;

  constructor(
    private readonly bucket: string,
    private readonly prefix: string,
    settings: S3Settings,
  ) {
    this.uri = `s3://${bucket}${prefix === '' ? '' : `/${prefix}`}`;
    this.client = new S3Client({
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    });
  }

  async put(path: string, body: Readable): Promise<void> {
    await new Upload({ client: this.client, params: { Bucket: this.bucket, Key: this.key(path), Body: body } }).done();
  }

  async get(path: string): Promise<{ body: Readable; size: number } | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
      return { body: out.Body as Readable, size: out.ContentLength ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async list(path: string): Promise<ArtifactFileInfo[]> {
    const prefix = path === '' ? (this.prefix === '' ? '' : `${this.prefix}/`) : `${this.key(path)}/`;
    const infos: ArtifactFileInfo[] = [];
    for await (const page of this.pages(prefix, '/')) {
      for (const common of page.CommonPrefixes ?? []) {
        const name = (common.Prefix ?? '').slice(prefix.length).replace(/\/$/, '');
        if (name !== '') infos.push({ name, isDir: true });
      }
      for (const object of page.Contents ?? []) {
        const name = (object.Key ?? '').slice(prefix.length);
        if (name !== '') infos.push({ name, isDir: false, size: object.Size ?? 0 });
      }
    }
    return infos.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async delete(path: string): Promise<void> {
    const keys = [this.key(path)];
    for await (const page of this.pages(`${this.key(path)}/`, undefined)) {
      for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
    }
    for (let i = 0; i < keys.length; i += 1000) {
      await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
        }),
      );
    }
  }

  /** Closes the client's connections. */
  destroy(): void {
    this.client.destroy();
  }

  private key(path: string): string {
    return this.prefix === '' ? path : `${this.prefix}/${path}`;
  }

  private async *pages(prefix: string, delimiter: string | undefined): AsyncGenerator<ListObjectsV2CommandOutput> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ...(delimiter === undefined ? {} : { Delimiter: delimiter }),
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
      yield page;
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}
