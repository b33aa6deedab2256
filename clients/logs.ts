/**
 * `mloe logs RUN [STEP]`: prints the stdout and stderr that the command (`run:`) steps of a run stored as artifacts,
 * read back through the artifact store of their URI (`file://` or `s3://`) and verified against their sha256. The
 * step statuses carry the references as `logs: { stdout, stderr }` (a list of them for a `foreach` step); steps
 * without any (built-in steps, steps not run yet) are listed with the reason. The CLI loads this module only for this
 * command.
 */
import { StringDecoder } from 'node:string_decoder';

import { z } from 'zod';

import { storeForUri, type ArtifactStore } from '../activities/artifacts';
import type { ClientConfig } from '../workers/config';
import type { StepRunStatus } from '../workflows/types';
import { withConnectedClient } from './connection';
import { getPipelineStatus } from './pipelines';
import { ensureError } from '../core/errors';
import type { StartDevIo } from './start-dev';

/** The two streams a command step stores. */
export const LOG_STREAMS = ['stdout', 'stderr'] as const;

/** A stored log as the status carries it: an artifact reference (only the fields needed to read and verify it). */
const logRefSchema = z.looseObject({
  uri: z.string().min(1),
  digest: z.string().min(1),
  size: z.number().int().nonnegative().optional(),
});

/** A step's logs: one pair, or one pair per `foreach` item (an item that did not run has none). */
const stepLogsSchema = z.union([
  z.looseObject({ stdout: logRefSchema, stderr: logRefSchema }),
  z.array(z.looseObject({ stdout: logRefSchema, stderr: logRefSchema }).nullable()),
]);

/** One stored log of a step (of one `foreach` item, when `index` is set). */
export interface StepLog {
  stepId: string;
  index?: number;
  stream: (typeof LOG_STREAMS)[number];
  ref: z.output<typeof logRefSchema>;
}

/** What `mloe logs` prints for one step: its logs, or why it has none. */
export type StepLogs = { stepId: string; logs: StepLog[] } | { stepId: string; none: string };

/** Why a step has no logs, from its state and kind. */
function noLogsReason(step: StepRunStatus): string {
  switch (step.state) {
    case 'pending':
      return 'not started yet';
    case 'running':
      return 'running; logs are stored when the attempt ends';
    case 'skipped':
      return `skipped${step.reason === undefined ? '' : ` (${step.reason})`}`;
    default:
      return step.uses === 'run'
        ? `${step.state}, with no logs recorded`
        : `a built-in step (${step.uses}): only command (run:) steps have logs`;
  }
}

/**
 * The logs of a step as its status carries them. Read defensively: the field may be absent (built-in steps, steps
 * not run, workers that do not record logs) or, from a newer worker, shaped otherwise (then it is ignored).
 */
export function stepLogs(step: StepRunStatus): StepLogs {
  const parsed = stepLogsSchema.safeParse(step.logs);
  if (!parsed.success) return { stepId: step.id, none: noLogsReason(step) };
  const pairs = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
  const logs = pairs.flatMap((pair, index) =>
    pair === null
      ? []
      : LOG_STREAMS.map((stream) => ({
          stepId: step.id,
          ...(Array.isArray(parsed.data) ? { index } : {}),
          stream,
          ref: pair[stream],
        })),
  );
  return logs.length === 0 ? { stepId: step.id, none: noLogsReason(step) } : { stepId: step.id, logs };
}

/** Streams an artifact's text to `print`, one line at a time; returns whether it had any bytes. */
async function printLines(store: ArtifactStore, log: StepLog, print: (line: string) => void): Promise<boolean> {
  const stream = await store.get({
    uri: log.ref.uri,
    digest: log.ref.digest,
    ...(log.ref.size === undefined ? {} : { size: log.ref.size }),
  });
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let any = false;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    any ||= chunk.length > 0;
    pending += decoder.write(chunk);
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) print(line);
  }
  pending += decoder.end();
  if (pending !== '') print(pending);
  return any;
}

/**
 * Runs `mloe logs RUN [STEP]` and resolves with its exit code: 0 when every stored log was printed, 1 when the run or
 * the step does not exist or a log could not be read (missing, or its bytes do not match its digest).
 */
export async function runLogs(
  workflowId: string,
  stepId: string | undefined,
  config: ClientConfig,
  io: StartDevIo,
): Promise<number> {
  return withConnectedClient(config, io, async (client) => {
    const status = await getPipelineStatus(client, workflowId);
    let steps = status.steps;
    if (stepId !== undefined) {
      steps = steps.filter((step) => step.id === stepId);
      if (steps.length === 0) {
        io.stderr(
          `error: ${workflowId} has no step ${stepId}; its steps are: ${status.steps.map((s) => s.id).join(', ')}`,
        );
        return 1;
      }
    }

    const stores = new Map<string, ArtifactStore>();
    const storeFor = (uri: string): ArtifactStore => {
      const root = uri.replace(/\/sha256\/[0-9a-f]{2}\/[0-9a-f]{64}$/, '');
      let store = stores.get(root);
      if (store === undefined) {
        store = storeForUri(uri, config.s3 === undefined ? {} : { s3: config.s3 });
        stores.set(root, store);
      }
      return store;
    };

    let exitCode = 0;
    try {
      for (const step of steps) {
        const found = stepLogs(step);
        if ('none' in found) {
          io.stdout(`==> ${step.id}: no logs: ${found.none} <==`);
          continue;
        }
        for (const log of found.logs) {
          const label = log.index === undefined ? log.stepId : `${log.stepId}[${log.index}]`;
          io.stdout(`==> ${label}: ${log.stream} <==`);
          try {
            if (!(await printLines(storeFor(log.ref.uri), log, io.stdout))) io.stdout('(empty)');
          } catch (error) {
            io.stderr(`error: ${label} ${log.stream} (${log.ref.uri}): ${ensureError(error).message}`);
            exitCode = 1;
          }
        }
      }
    } finally {
      await Promise.all([...stores.values()].map((store) => store.close().catch(() => undefined)));
    }
    return exitCode;
  });
}
