/**
 * List manifests: how a list too large for a Temporal payload travels from the pipeline workflow to a step. Temporal
 * refuses any payload over 2 MB (an activity's input included), and a list of a few thousand artifact references
 * (about 300 bytes each) passes that. Beyond a threshold the workflow has the list written to the run's artifact store
 * as a manifest (its elements in parts of bounded size, then a small JSON artifact listing the parts, all
 * content-addressed) and hands the step a {@link ListManifestValue} instead; `runStep` reads the manifest back,
 * verifying every part against its digest, before the step, its cache key or its lineage record see the input.
 *
 * Pure: the workflow (which decides) and the activities (which write and read) share these shapes.
 */
import type { JsonValue } from './spec/schema';

/** The `kind` of a manifest artifact. */
export const LIST_MANIFEST_KIND = 'mloe.dev/list-manifest';
/** The `kind` of one part of a manifest. */
export const LIST_PART_KIND = 'mloe.dev/list-part';

/** A stored part or manifest: where it is, what it hashes to, and how many list elements it holds. */
export type ListManifestRef = {
  uri: string;
  /** `sha256:<hex>` of the stored JSON. */
  digest: string;
  size: number;
  /** Elements of the list it holds (for a manifest: the whole list). */
  count: number;
};

/** A manifest artifact's content: the parts, in list order. */
export interface ListManifest {
  kind: typeof LIST_MANIFEST_KIND;
  version: 1;
  count: number;
  parts: ListManifestRef[];
}

/** A part's content: a slice of the list. */
export interface ListPart {
  kind: typeof LIST_PART_KIND;
  version: 1;
  items: JsonValue[];
}

/**
 * An input value that stands for a list written as a manifest. A step never sees it: `runStep` replaces it by the
 * list before anything else reads the input.
 */
export type ListManifestValue = {
  mloeListManifest: ListManifestRef;
};

/** Whether a value is a {@link ListManifestValue} (an object with exactly that one key, holding a reference). */
export function isListManifestValue(value: unknown): value is ListManifestValue {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== 'mloeListManifest') return false;
  const ref = (value as { mloeListManifest: unknown }).mloeListManifest;
  if (ref === null || typeof ref !== 'object') return false;
  const { uri, digest, size, count } = ref as Partial<Record<keyof ListManifestRef, unknown>>;
  return typeof uri === 'string' && typeof digest === 'string' && typeof size === 'number' && typeof count === 'number';
}

/** The number of bytes a string takes as UTF-8 (what a JSON payload of it weighs). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      // A surrogate pair is one code point of four bytes.
      bytes += 4;
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}

/** The size of a value as JSON, in UTF-8 bytes. */
export function jsonLength(value: JsonValue): number {
  return utf8Length(JSON.stringify(value));
}

/**
 * Splits a list into consecutive slices of at most `maxBytes` of JSON each (an element larger than that gets a
 * slice of its own), keeping the order. Deterministic: the same list always splits the same way.
 */
export function splitList(items: readonly JsonValue[], maxBytes: number): JsonValue[][] {
  const parts: JsonValue[][] = [];
  let current: JsonValue[] = [];
  let bytes = 2; // []
  for (const item of items) {
    const size = jsonLength(item) + 1; // and its comma
    if (current.length > 0 && bytes + size > maxBytes) {
      parts.push(current);
      current = [];
      bytes = 2;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}
