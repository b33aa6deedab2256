/**
 * Why a step missed the cache, in words: the parts of its key that differ from the last cached execution of the same
 * step, e.g. `input dataset changed: sha256:1a2b… → sha256:9f8e…` or `code of ingest@1 changed`.
 */
import type { CacheKeyParts, KeyPart } from './key';

/** Reasons a key differs from the previous one of the same step; empty when the parts are equal. */
export function explainKeyChange(previous: CacheKeyParts, current: CacheKeyParts): string[] {
  const reasons: string[] = [];
  if (previous.definition.ref !== current.definition.ref) {
    reasons.push(`step changed from ${previous.definition.ref} to ${current.definition.ref}`);
  } else if (previous.definition.image !== current.definition.image) {
    const where = (image: string | undefined) => image ?? 'the worker';
    reasons.push(
      `${current.definition.ref} runs in ${where(current.definition.image)} (was ${where(previous.definition.image)})`,
    );
  } else if (previous.definition.digest !== current.definition.digest) {
    reasons.push(
      current.definition.ref === 'run'
        ? 'command changed (its arguments, environment, image, working directory or outputs)'
        : `code of ${current.definition.ref} changed`,
    );
  }
  reasons.push(...diffParts('input', previous.inputs, current.inputs));
  reasons.push(...diffParts('parameter', previous.params, current.params));
  reasons.push(...diffParts('file', previous.files, current.files));
  return reasons;
}

function diffParts(kind: string, previous: Record<string, KeyPart>, current: Record<string, KeyPart>): string[] {
  const reasons: string[] = [];
  for (const name of [...new Set([...Object.keys(previous), ...Object.keys(current)])].sort()) {
    const before = previous[name];
    const after = current[name];
    if (before === undefined) reasons.push(`${kind} ${name} is new${after?.preview ? ` (${after.preview})` : ''}`);
    else if (after === undefined) reasons.push(`${kind} ${name} was removed`);
    else if (before.digest !== after.digest) {
      const change =
        before.preview !== undefined && after.preview !== undefined ? `: ${before.preview} → ${after.preview}` : '';
      reasons.push(`${kind} ${name} changed${change}`);
    }
  }
  return reasons;
}
