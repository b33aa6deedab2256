/**
 * Large lists on their way to a step (see `core/list-manifest.ts`): an input that is a list whose JSON passes the
 * run's threshold is written to the artifact store as a manifest — its elements in parts of bounded size, one
 * activity each and one after the other (so no single payload, and no workflow task completion, carries more than a
 * part), then the manifest naming them — and the request carries the manifest's reference instead. A list is
 * measured and written once per run however many requests carry it (a `foreach` step's iterations share their
 * inputs' lists). `runStep` reads the list back before the step sees it.
 *
 * Versioning: older code sent such lists inline, which a Temporal with a raised blob limit accepted, so the new
 * commands run behind `patched(LIST_MANIFEST_PATCH)`.
 */
import { patched, proxyActivities } from '@temporalio/workflow';

import type { ListManifestActivities, RunStepRequest } from '../activities/steps';
import { jsonLength, splitList, type ListManifestRef, type ListManifestValue } from '../core/list-manifest';
import type { JsonValue } from '../core/spec';
import { LIST_MANIFEST_PART_BYTES, LIST_MANIFEST_THRESHOLD_BYTES, type RunPipelineInput } from './types';

/** The patch that sends large list inputs as manifests. */
export const LIST_MANIFEST_PATCH = 'mloe-list-manifests';

/** The run's large list inputs, written as manifests once each. */
export class ListManifests {
  private readonly threshold: number;
  /** JSON sizes of lists already measured, by identity (stored outputs are handed on as the same object). */
  private readonly sizes = new Map<readonly JsonValue[], number>();
  private readonly written = new Map<readonly JsonValue[], Promise<ListManifestValue>>();

  constructor(private readonly input: Pick<RunPipelineInput, 'artifactStore' | 'listManifestThresholdBytes'>) {
    this.threshold = Math.max(0, input.listManifestThresholdBytes ?? LIST_MANIFEST_THRESHOLD_BYTES);
  }

  /**
   * Whether a request has list inputs over the threshold, to be sent as manifests. Synchronous on purpose: a run
   * whose requests need none awaits nothing more than before, so its commands keep their order.
   */
  needsManifests(request: RunStepRequest): boolean {
    for (const value of Object.values(request.inputs)) {
      if (Array.isArray(value) && this.isLarge(value)) return patched(LIST_MANIFEST_PATCH);
    }
    return false;
  }

  /** The request with every list input over the threshold replaced by its manifest (written once per list). */
  async compact(request: RunStepRequest): Promise<RunStepRequest> {
    const inputs: Record<string, JsonValue> = { ...request.inputs };
    for (const [name, value] of Object.entries(request.inputs)) {
      if (Array.isArray(value) && this.isLarge(value)) inputs[name] = await this.manifestOf(value, request);
    }
    return { ...request, inputs };
  }

  private isLarge(list: readonly JsonValue[]): boolean {
    let size = this.sizes.get(list);
    if (size === undefined) {
      size = jsonLength(list as JsonValue);
      this.sizes.set(list, size);
    }
    return size > this.threshold;
  }

  private manifestOf(list: readonly JsonValue[], request: RunStepRequest): Promise<ListManifestValue> {
    let found = this.written.get(list);
    if (found === undefined) {
      found = this.write(list, request);
      this.written.set(list, found);
      // A failed write is not remembered: the next request that needs the list tries again.
      void found.catch(() => this.written.delete(list));
    }
    return found;
  }

  private async write(list: readonly JsonValue[], request: RunStepRequest): Promise<ListManifestValue> {
    const { writeListPart, writeListManifest } = proxyActivities<ListManifestActivities>({
      startToCloseTimeout: '5 minutes',
      retry: { maximumAttempts: 5 },
      summary: `list manifest for ${request.stepId} (${list.length} elements)`,
    });
    const store = this.input.artifactStore === undefined ? {} : { artifactStore: this.input.artifactStore };
    const parts: ListManifestRef[] = [];
    // One part at a time: each part is a payload of up to LIST_MANIFEST_PART_BYTES, and several scheduled in one
    // workflow task would travel in one completion message.
    for (const items of splitList(list, Math.max(1, LIST_MANIFEST_PART_BYTES))) {
      parts.push(await writeListPart({ ...store, items }));
    }
    return writeListManifest({ ...store, parts });
  }
}
