/**
 * List manifests without a server: splitting is bounded and deterministic; the manifest activities write
 * content-addressed parts and a manifest; `runStep` reads a manifest back before the step, its cache key and its
 * lineage see the input, so a manifest and the list it stands for have the same cache key; a damaged or missing part
 * fails the step with the store's error code, naming the input.
 */
import { writeFile } from 'node:fs/promises';

import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';

import { FileArtifactStore, type ArtifactRef, type ArtifactStore } from '../activities/artifacts';
import {
  BUILTIN_IMPLEMENTATIONS,
  createListManifestActivities,
  createRunStep,
  createStepImplementations,
  type ExecutionObserver,
  type RunStepRequest,
  type RunStepResult,
  type StepImplementation,
} from '../activities/steps';
import {
  isListManifestValue,
  jsonLength,
  splitList,
  type ListManifestRef,
  type ListManifestValue,
} from '../core/list-manifest';
import type { JsonValue } from '../core/spec';
import { suiteTemporaryDirectories } from './temporary-directories';

const temporaryDirectory = suiteTemporaryDirectories('mloe-list-manifest-unit-');
const ignore = (): void => undefined;
const silentLogger = { log: ignore, trace: ignore, debug: ignore, info: ignore, warn: ignore, error: ignore };

/** What the counting step received, per call. */
const seen: JsonValue[][] = [];

const COUNT_STEP: StepImplementation = {
  descriptor: {
    name: 'count-files',
    version: '1',
    inputs: { files: { type: 'list', items: 'file' } },
    outputs: { count: { type: 'integer' } },
  },
  async run(inputs) {
    const files = inputs.files as JsonValue[];
    seen.push(files);
    return { outputs: { count: files.length } };
  },
};

/** Writes `count` small artifacts and returns their references, in order. */
async function artifacts(store: ArtifactStore, count: number): Promise<ArtifactRef[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => store.put(`file ${i}\n`, { type: 'file' })));
}

/** Writes a list as the workflow does: parts of at most `partBytes`, then the manifest. */
async function writeManifest(store: ArtifactStore, list: JsonValue[], partBytes: number): Promise<ListManifestValue> {
  const env = new MockActivityEnvironment(undefined, { logger: silentLogger });
  const activities = createListManifestActivities(() => store);
  const parts: ListManifestRef[] = [];
  for (const items of splitList(list, partBytes)) parts.push(await env.run(activities.writeListPart, { items }));
  return env.run(activities.writeListManifest, { parts });
}

describe('splitList', () => {
  it('keeps the order, bounds every part, and splits the same list the same way', () => {
    const list = Array.from({ length: 1000 }, (_, i) => ({ i, text: 'x'.repeat(i % 37) }));
    const parts = splitList(list, 2_000);
    expect(parts.flat()).toEqual(list);
    expect(parts.length).toBeGreaterThan(10);
    for (const part of parts) expect(jsonLength(part)).toBeLessThanOrEqual(2_000);
    expect(splitList(list, 2_000)).toEqual(parts);
    // An element larger than a part gets one of its own.
    expect(splitList(['x'.repeat(50), 'y'], 10)).toEqual([['x'.repeat(50)], ['y']]);
    expect(splitList([], 10)).toEqual([]);
  });

  it('measures JSON in UTF-8 bytes, as a payload weighs it', () => {
    expect(jsonLength('é')).toBe(4); // "é" is two bytes, and the quotes
    expect(jsonLength('😀')).toBe(6);
    expect(jsonLength([1, 'ab'])).toBe(8);
  });
});

describe('list manifests through runStep', () => {
  let root: string;
  let store: FileArtifactStore;
  let refs: ArtifactRef[];
  let manifest: ListManifestValue;
  const startedWith: JsonValue[] = [];
  const observer: ExecutionObserver = {
    started: async (request) => {
      startedWith.push(request.inputs.files ?? null);
    },
  };
  const runStep = (): ReturnType<typeof createRunStep> =>
    createRunStep(createStepImplementations(BUILTIN_IMPLEMENTATIONS, [COUNT_STEP]), {
      stores: () => store,
      observers: [observer],
      warn: ignore,
    });
  const request = (files: JsonValue, workflowId: string): RunStepRequest => ({
    stepId: 'count',
    workflowId,
    firstExecutionRunId: `${workflowId}-first`,
    pipeline: 'manifests',
    uses: 'count-files@1',
    inputs: { files },
    params: {},
    outputs: {},
    workingDir: root,
  });
  const run = (files: JsonValue, workflowId: string): Promise<RunStepResult> =>
    new MockActivityEnvironment(undefined, { logger: silentLogger }).run(runStep(), request(files, workflowId));

  beforeAll(async () => {
    root = await temporaryDirectory();
    store = FileArtifactStore.inWorkingDirectory(root);
    refs = await artifacts(store, 300);
    manifest = await writeManifest(store, refs, 8_000);
  });

  afterAll(async () => {
    await store.close();
  });

  it('writes content-addressed parts and a manifest that counts the whole list', async () => {
    expect(isListManifestValue(manifest)).toBe(true);
    expect(manifest.mloeListManifest.count).toBe(300);
    // The same list written again is the same manifest.
    expect(await writeManifest(store, refs, 8_000)).toEqual(manifest);
  });

  it('hands the step the list, and gives the manifest the cache key of the list it stands for', async () => {
    seen.length = 0;
    startedWith.length = 0;
    const inline = await run(refs, 'manifests-inline');
    expect(inline.cache.decision).toBe('miss');
    const viaManifest = await run(manifest, 'manifests-manifest');
    expect(viaManifest.cache).toMatchObject({ decision: 'hit', key: inline.cache.key });
    expect(viaManifest.outputs).toEqual({ count: 300 });

    // With the cache off the step runs, and sees exactly the list (lineage observers too).
    seen.length = 0;
    startedWith.length = 0;
    const executed: RunStepResult = await new MockActivityEnvironment(undefined, { logger: silentLogger }).run(
      runStep(),
      {
        ...request(manifest, 'manifests-no-cache'),
        noCache: 'the test',
      },
    );
    expect(executed.outputs).toEqual({ count: 300 });
    expect(seen).toEqual([refs]);
    expect(startedWith).toEqual([refs]);
  });

  it('fails the step naming the input when a part is damaged', async () => {
    const damagedRoot = await temporaryDirectory();
    const damagedStore = FileArtifactStore.inWorkingDirectory(damagedRoot);
    try {
      const list = await artifacts(damagedStore, 50);
      const value = await writeManifest(damagedStore, list, 2_000);
      // Damage every part (the manifest itself is the newest blob; parts are named by their digests).
      const manifestDigest = value.mloeListManifest.digest.slice('sha256:'.length);
      const listed = [];
      for await (const entry of damagedStore.list()) listed.push(entry);
      const parts = listed.filter((entry) => entry.size > 1_000 && !entry.digest.endsWith(manifestDigest));
      expect(parts.length).toBeGreaterThan(1);
      for (const part of parts) await writeFile(damagedStore.pathOf(part.digest), '{"kind":"tampered"}');
      const error = await new MockActivityEnvironment(undefined, { logger: silentLogger })
        .run(
          createRunStep(createStepImplementations(BUILTIN_IMPLEMENTATIONS, [COUNT_STEP]), {
            stores: () => damagedStore,
            warn: ignore,
          }),
          { ...request(value, 'manifests-damaged'), workingDir: damagedRoot },
        )
        .then(
          () => undefined,
          (failure: unknown) => failure,
        );
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect((error as ApplicationFailure).type).toBe('ARTIFACT_CORRUPT');
      expect((error as ApplicationFailure).message).toContain('input files (a list of 50 elements');
    } finally {
      await damagedStore.close();
    }
  });
});
