/**
 * What pipeline steps hand each other: {@link ArtifactRef}, a small, validated reference to content-addressed bytes
 * (where they are, what they hash to, what they are), never the bytes themselves. Temporal payloads stay small and
 * every read can be verified against the digest.
 */
import { createHash } from 'node:crypto';

import { z } from 'zod';

import { MloeError } from '../../core/errors';
import { canonicalJson } from '../../core/canonical-json';

/** The kinds of artifact a pipeline produces. `file` is for anything else. */
export const ARTIFACT_TYPES = ['dataset', 'model', 'metrics', 'report', 'file'] as const;

/** The kind of an artifact. */
export type ArtifactType = (typeof ARTIFACT_TYPES)[number];

/** Schema of {@link ArtifactType}. */
export const artifactTypeSchema = z.enum(ARTIFACT_TYPES);

/** Metadata keys: short identifiers, so they are safe as JSON keys, log fields and (later) search attributes. */
const METADATA_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** Serialised metadata above this many bytes is rejected: references travel in Temporal payloads. */
export const MAX_METADATA_BYTES = 8 * 1024;

/** Schema of artifact metadata: a JSON object with identifier keys, at most {@link MAX_METADATA_BYTES} as JSON. */
export const artifactMetadataSchema = z
  .record(z.string().regex(METADATA_KEY_PATTERN, 'metadata keys are identifiers of at most 128 characters'), z.json())
  .refine((metadata) => Buffer.byteLength(JSON.stringify(metadata)) <= MAX_METADATA_BYTES, {
    message: `metadata must serialise to at most ${MAX_METADATA_BYTES} bytes of JSON`,
  });

/** Free-form, JSON-serialisable facts about an artifact (source file, row count, hyper-parameters, ...). */
export type ArtifactMetadata = z.infer<typeof artifactMetadataSchema>;

/** The one digest algorithm, as it prefixes digests. */
export const DIGEST_ALGORITHM = 'sha256';

const HEX_DIGEST_PATTERN = /^[0-9a-f]{64}$/;

/** Schema of a digest string, `sha256:` and 64 lowercase hex digits. */
export const artifactDigestSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'expected sha256:<64 lowercase hex>');

/** Schema of {@link ArtifactRef}. Unknown keys are dropped, so older workers accept references from newer ones. */
export const artifactRefSchema = z.object({
  /** Where the bytes are: `file:///…/sha256/ab/<hex>` or `s3://bucket/…/sha256/ab/<hex>`. */
  uri: z.string().min(1).max(2048),
  /** `sha256:<hex>` of the bytes. */
  digest: artifactDigestSchema,
  /** Size in bytes. */
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  type: artifactTypeSchema,
  metadata: artifactMetadataSchema,
  /** When the store first recorded this content with this type and metadata (ISO 8601, UTC). */
  createdAt: z.iso.datetime(),
});

/** A stored artifact as steps pass it to each other. */
export type ArtifactRef = z.infer<typeof artifactRefSchema>;

/**
 * Schema of the record a store keeps beside each blob (a sidecar JSON file or object): everything in a reference
 * except the URI, which depends on where the store is mounted.
 */
export const artifactRecordSchema = artifactRefSchema.omit({ uri: true }).extend({ version: z.literal(1) });

/** The stored description of an artifact. */
export type ArtifactRecord = z.infer<typeof artifactRecordSchema>;

/**
 * Parses and validates a reference from outside the type system (a workflow input, a JSON file).
 * Throws `PATH_INVALID` naming what was wrong.
 */
export function parseArtifactRef(value: unknown): ArtifactRef {
  const parsed = artifactRefSchema.safeParse(value);
  if (!parsed.success) {
    throw new MloeError('PATH_INVALID', `invalid artifact reference: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** The sha256 of some bytes, as 64 lowercase hex digits. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** `sha256:<hex>` for 64 hex digits. */
export function formatDigest(hex: string): string {
  return `${DIGEST_ALGORITHM}:${hex}`;
}

/** The 64 hex digits of a digest given as `sha256:<hex>` (or bare hex); throws `PATH_INVALID` for anything else. */
export function digestHex(digest: string): string {
  const hex = digest.startsWith(`${DIGEST_ALGORITHM}:`) ? digest.slice(DIGEST_ALGORITHM.length + 1) : digest;
  if (!HEX_DIGEST_PATTERN.test(hex)) {
    throw new MloeError('PATH_INVALID', `artifact digest must be sha256:<64 lowercase hex digits>, got "${digest}"`);
  }
  return hex;
}

/** Whether two metadata objects hold the same JSON (key order aside). */
export function sameMetadata(a: ArtifactMetadata, b: ArtifactMetadata): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** `sha256:1a2b3c4d5e6f`: enough of a digest to tell artifacts apart in a message. */
export function shortDigest(digest: string): string {
  return digest.slice(0, DIGEST_ALGORITHM.length + 1 + 12);
}

/**
 * Every artifact reference among port values (a port holding a list gives one per element, lists nested up to 8
 * deep), with the port it was found in. Values that do not parse as references are skipped.
 */
export function artifactRefsIn(values: Readonly<Record<string, unknown>>): { port: string; ref: ArtifactRef }[] {
  const found: { port: string; ref: ArtifactRef }[] = [];
  const visit = (port: string, value: unknown, depth: number): void => {
    if (Array.isArray(value)) {
      if (depth < 8) for (const element of value) visit(port, element, depth + 1);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const parsed = artifactRefSchema.safeParse(value);
    if (parsed.success) found.push({ port, ref: parsed.data });
  };
  for (const [port, value] of Object.entries(values)) visit(port, value, 0);
  return found;
}
