/**
 * Presigned S3 URLs (SigV4 query authentication) from an `S3Client`'s own signer and endpoint, the way the SDK's
 * request presigner does it: a container without credentials (and without mloe) can then GET one input or PUT one
 * output, and nothing else, until the URL expires.
 */
import type { S3Client } from '@aws-sdk/client-s3';

import { MloeError } from '../../core/errors';

/** SigV4 presigned URLs live at most seven days. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

interface PresignableRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
}

interface Presigner {
  presign(request: PresignableRequest, options: { expiresIn: number }): Promise<PresignableRequest>;
}

function encodeKey(key: string): string {
  return key
    .split('/')
    .map((segment) =>
      encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    )
    .join('/');
}

/**
 * A presigned URL for `method` on `bucket/key`, valid `expiresIn` seconds (at most {@link MAX_PRESIGN_SECONDS}).
 * Path-style when the client forces it (S3-compatible servers), virtual-hosted otherwise.
 */
export async function presignS3Url(
  client: S3Client,
  method: 'GET' | 'PUT',
  bucket: string,
  key: string,
  expiresIn: number,
): Promise<string> {
  const config = client.config as unknown as {
    endpoint?: () => Promise<{ protocol: string; hostname: string; port?: number; path: string }>;
    forcePathStyle?: boolean;
    region: () => Promise<string>;
    signer: (authScheme?: unknown) => Promise<Presigner>;
  };
  const region = await config.region();
  let endpoint = config.endpoint === undefined ? undefined : await config.endpoint();
  endpoint ??= { protocol: 'https:', hostname: `s3.${region}.amazonaws.com`, path: '/' };
  const pathStyle = config.forcePathStyle === true;
  const base = endpoint.path.endsWith('/') ? endpoint.path.slice(0, -1) : endpoint.path;
  const request: PresignableRequest = {
    method,
    protocol: endpoint.protocol,
    hostname: pathStyle ? endpoint.hostname : `${bucket}.${endpoint.hostname}`,
    ...(endpoint.port === undefined ? {} : { port: endpoint.port }),
    path: pathStyle ? `${base}/${bucket}/${encodeKey(key)}` : `${base}/${encodeKey(key)}`,
    query: {},
    headers: {},
  };
  const host = request.port === undefined ? request.hostname : `${request.hostname}:${request.port}`;
  request.headers.host = host;
  const signer = await config.signer({
    name: 'sigv4',
    signingProperties: { signingRegion: region, signingName: 's3' },
  });
  const signed = await signer.presign(request, {
    expiresIn: Math.min(Math.max(1, Math.round(expiresIn)), MAX_PRESIGN_SECONDS),
  });
  const query = Object.entries(signed.query)
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .join('&');
  if (query === '') throw new MloeError('INTERNAL', 'the S3 signer returned no query signature');
  return `${signed.protocol}//${host}${signed.path}?${query}`;
}
