/**
 * The object manifest of a debounced run (`TriggerObjectManifest`): the objects the run covers, written as one
 * content-addressed JSON artifact of canonical JSON to the run's artifact store, so writing it again (a retried
 * activity) is harmless and gives the same URI. The run gets that URI in the trigger's `objectsParam`: a list of a
 * thousand objects stays out of the run's input and its history.
 */
import { canonicalJson } from '../../core/canonical-json';
import {
  TRIGGER_OBJECTS_KIND,
  type TriggerObjectManifest,
  type WriteObjectManifestInput,
  type WrittenObjectManifest,
} from '../../workflows/trigger-types';
import type { ArtifactStore } from '../artifacts';

/** Writes the manifest of `input` to the store `stores` opens for the run's location. */
export async function writeObjectManifest(
  stores: (location?: string) => ArtifactStore,
  input: WriteObjectManifestInput,
): Promise<WrittenObjectManifest> {
  const manifest: TriggerObjectManifest = {
    kind: TRIGGER_OBJECTS_KIND,
    version: 1,
    trigger: input.trigger,
    on: input.on,
    count: input.objects.length,
    objects: input.objects.map((object) => ({
      uri: object.uri,
      etag: object.etag,
      size: object.size,
      lastModified: new Date(object.lastModifiedMs).toISOString(),
    })),
  };
  const ref = await stores(input.artifactStore).put(canonicalJson(manifest), {
    type: 'file',
    metadata: { 'mloe.trigger': input.trigger, 'mloe.trigger.objects': input.objects.length },
  });
  return { uri: ref.uri, digest: ref.digest, count: input.objects.length };
}
