/**
 * List manifests on the worker side (see `core/list-manifest.ts`): the activities the pipeline workflow calls to write
 * a large list as a manifest (its parts, then the manifest naming them), and the expansion `runStep` applies to a
 * request before the step, its cache key and its lineage record see it. Parts and manifests are content-addressed
 * JSON artifacts of canonical JSON, so writing one again (a retried activity, a second run with the same list) is
 * harmless and gives the same reference; reading one back verifies its bytes against the digest.
 */
import { z } from 'zod';

import { canonicalJson } from '../../core/canonical-json';
import {
  LIST_MANIFEST_KIND,
  LIST_PART_KIND,
  isListManifestValue,
  type ListManifest,
  type ListManifestRef,
  type ListManifestValue,
  type ListPart,
} from '../../core/list-manifest';
import { MloeError } from '../../core/errors';
import type { JsonValue } from '../../core/spec';
import { getJson, type ArtifactStore } from '../artifacts';
import { withFailureMapping } from '../failures';

/** Input of `writeListPart`: a slice of the list, small enough for one payload. */
export interface WriteListPartInput {
  /** The run's artifact store; the worker's default when absent. */
  artifactStore?: string;
  items: JsonValue[];
}

/** Input of `writeListManifest`: the parts already written, in list order. */
export interface WriteListManifestInput {
  artifactStore?: string;
  parts: ListManifestRef[];
}

/** The activities a pipeline worker registers for list manifests. */
export interface ListManifestActivities {
  /** Stores one part; returns its reference. Idempotent (content-addressed). */
  writeListPart: (input: WriteListPartInput) => Promise<ListManifestRef>;
  /** Stores the manifest naming the parts; returns the value that stands for the list. Idempotent. */
  writeListManifest: (input: WriteListManifestInput) => Promise<ListManifestValue>;
}

/** The list manifest activities, writing to the stores `stores` opens (and keeps). */
export function createListManifestActivities(stores: (location?: string) => ArtifactStore): ListManifestActivities {
  const write = async (artifactStore: string | undefined, content: object, count: number, role: string) => {
    const ref = await stores(artifactStore).put(canonicalJson(content), {
      type: 'file',
      metadata: { 'mloe.list': role, count },
    });
    return { uri: ref.uri, digest: ref.digest, size: ref.size, count };
  };
  return {
    writeListPart: (input) =>
      withFailureMapping(() => {
        const part: ListPart = { kind: LIST_PART_KIND, version: 1, items: input.items };
        return write(input.artifactStore, part, input.items.length, 'part');
      }),
    writeListManifest: (input) =>
      withFailureMapping(async () => {
        const count = input.parts.reduce((total, part) => total + part.count, 0);
        const manifest: ListManifest = { kind: LIST_MANIFEST_KIND, version: 1, count, parts: input.parts };
        return { mloeListManifest: await write(input.artifactStore, manifest, count, 'manifest') };
      }),
  };
}

const refSchema = z.object({
  uri: z.string().min(1),
  digest: z.string().min(1),
  size: z.number().int().nonnegative(),
  count: z.number().int().nonnegative(),
});

const manifestSchema = z.object({
  kind: z.literal(LIST_MANIFEST_KIND),
  version: z.literal(1),
  count: z.number().int().nonnegative(),
  parts: z.array(refSchema),
});

const partSchema = z.object({
  kind: z.literal(LIST_PART_KIND),
  version: z.literal(1),
  items: z.array(z.json()),
});

/** Parts read at once when a manifest is expanded. */
const PART_READS = 8;

/**
 * The list a manifest stands for, read from `store`: the manifest, then each of its parts, every one verified
 * against its digest (`ARTIFACT_NOT_FOUND`, `ARTIFACT_CORRUPT`); `DATA_INVALID` when one is not what it should be.
 */
export async function readListManifest(store: ArtifactStore, ref: ListManifestRef): Promise<JsonValue[]> {
  const manifest = await getJson(store, ref, manifestSchema, 'a list manifest');
  if (manifest.count !== ref.count || manifest.parts.reduce((total, part) => total + part.count, 0) !== ref.count) {
    throw new MloeError('DATA_INVALID', `list manifest ${ref.uri} does not hold the ${ref.count} elements it should`);
  }
  const slices: JsonValue[][] = new Array<JsonValue[]>(manifest.parts.length);
  let next = 0;
  const reader = async (): Promise<void> => {
    while (next < manifest.parts.length) {
      const position = next++;
      const part = manifest.parts[position];
      if (part === undefined) continue;
      const { items } = await getJson(store, part, partSchema, 'a part of a list manifest');
      if (items.length !== part.count) {
        throw new MloeError('DATA_INVALID', `list part ${part.uri} holds ${items.length} elements, not ${part.count}`);
      }
      slices[position] = items;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PART_READS, manifest.parts.length) }, reader));
  return slices.flat();
}

/**
 * Input values with every {@link ListManifestValue} replaced by the list it stands for (the same object when there
 * is none). Only top-level values can be manifests: the workflow replaces whole input values.
 */
export async function expandListManifests(
  store: ArtifactStore,
  inputs: Readonly<Record<string, JsonValue>>,
): Promise<Record<string, JsonValue>> {
  const manifests = Object.entries(inputs).filter(([, value]) => isListManifestValue(value));
  if (manifests.length === 0) return inputs;
  const expanded: Record<string, JsonValue> = { ...inputs };
  for (const [name, value] of manifests) {
    if (!isListManifestValue(value)) continue;
    try {
      expanded[name] = await readListManifest(store, value.mloeListManifest);
    } catch (error) {
      if (!(error instanceof MloeError)) throw error;
      throw new MloeError(
        error.code,
        `input ${name} (a list of ${value.mloeListManifest.count} elements written as a manifest) cannot be read: ` +
          error.message,
        { cause: error, retryable: error.retryable },
      );
    }
  }
  return expanded;
}
