/**
 * The recorded workflow histories, by the workflows entry whose bundle runs them: one directory per entry, one JSON
 * file per workflow execution, named after its workflow id (replay needs it: the interpreter derives child workflow
 * ids from it). `record.ts` writes them, `test/workflow-replay.test.ts` replays them; docs/versioning.md says when.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.History;

/** One workflows entry and the histories recorded from its bundle. */
export interface HistorySet {
  /** The directory under `test/histories/` that holds its histories. */
  directory: string;
  /** The workflows entry file a worker bundles (`workflowsPath`). */
  workflowsPath: string;
}

/** Every workflows entry whose runs must survive a deploy: the pipeline workers' and the code-first demo's. */
export const HISTORY_SETS: readonly HistorySet[] = [
  { directory: 'workflows', workflowsPath: require.resolve('../../workflows') },
  { directory: 'code-first', workflowsPath: require.resolve('../../pipelines/demo/code-first') },
];

/** The directory of a set's histories. */
export function historyDirectory(set: HistorySet): string {
  return join(__dirname, set.directory);
}

/** A recorded history, parsed, with the workflow id and type it ran as. */
export interface RecordedHistory {
  file: string;
  workflowId: string;
  workflowType: string;
  history: History;
}

/** The `.json` files of a set, in name order. */
export function historyFiles(set: HistorySet): string[] {
  return readdirSync(historyDirectory(set))
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => join(historyDirectory(set), name));
}

/**
 * Reads one history file: the JSON form of the `History` message as the SDK's protobufjs writes it (`toJSON()` of a
 * fetched history: enums by name, 64-bit numbers and timestamps' seconds as strings, bytes in base64), which
 * `History.fromObject` reads back exactly.
 */
export function readHistory(file: string): RecordedHistory {
  const history = temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(file, 'utf8')) as object);
  const started = history.events[0]?.workflowExecutionStartedEventAttributes;
  const workflowType = started?.workflowType?.name;
  if (typeof workflowType !== 'string') throw new Error(`${file}: the first event is not a workflow start`);
  const name = file.slice(file.lastIndexOf('/') + 1);
  return { file, workflowId: name.slice(0, -'.json'.length), workflowType, history };
}
