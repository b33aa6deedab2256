/**
 * Auto reset points, as Temporal keeps them: each workflow task completion by a worker build (binary checksum, build
 * id) not seen before in the chain adds a point naming the run and the `WorkflowTaskCompleted` event; the points go
 * from run to run (continue-as-new, retry, cron, reset) as `prevAutoResetPoints`, and DescribeWorkflowExecution shows
 * them in `autoResetPoints`. The Web UI and the CLI offer them as reset targets.
 */
import type { Engine, RunRecord } from '../engine';
import { msToTimestamp, timestampToMs, type Timestamp } from '../proto';
import type { ResetPoint, RunState } from '../state';

/** Temporal's default limit on the reset points of a run (`history.maxAutoResetPoints`). */
export const MAX_RESET_POINTS = 20;

/** Temporal's `CheckResettable`: a run with pending children or requests to other workflows cannot be reset there. */
function resettable(s: RunState): boolean {
  return Object.keys(s.children).length === 0 && Object.keys(s.external).length === 0;
}

/**
 * Adds a reset point for a workflow task completion if its worker build is new to the chain; keeps the latest
 * {@link MAX_RESET_POINTS}.
 */
export function addResetPoint(
  engine: Engine,
  run: RunRecord,
  binaryChecksum: string,
  buildId: string,
  completedEventId: number,
): void {
  const s = run.state;
  const points = s.autoResetPoints ?? [];
  if (points.some((p) => p.binaryChecksum === binaryChecksum && p.buildId === buildId)) return;
  const point: ResetPoint = {
    buildId,
    binaryChecksum,
    runId: s.runId,
    firstWorkflowTaskCompletedId: completedEventId,
    createTime: engine.now(),
    expireTime: 0,
    resettable: resettable(s),
  };
  s.autoResetPoints = [...points, point].slice(-MAX_RESET_POINTS);
  engine.markDirty(run);
}

/**
 * The points a new run of a chain starts with (`prevAutoResetPoints`): those of the run before, the ones naming that
 * run now expiring with the namespace's retention from the hand-over, as Temporal rolls them over.
 */
export function rolloverResetPoints(
  points: readonly ResetPoint[] | undefined,
  previousRunId: string,
  now: number,
  retentionMs: number,
): ResetPoint[] {
  return (points ?? []).map((p) =>
    p.runId === previousRunId && !p.expireTime ? { ...p, expireTime: now + retentionMs } : { ...p },
  );
}

/** The points as `temporal.api.workflow.v1.ResetPoints`. */
export function resetPointsProto(points: readonly ResetPoint[] | undefined): object | undefined {
  if (!points?.length) return undefined;
  return {
    points: points.map((p) => ({
      buildId: p.buildId || undefined,
      binaryChecksum: p.binaryChecksum || undefined,
      runId: p.runId,
      firstWorkflowTaskCompletedId: p.firstWorkflowTaskCompletedId,
      createTime: msToTimestamp(p.createTime),
      expireTime: p.expireTime ? msToTimestamp(p.expireTime) : undefined,
      resettable: p.resettable,
    })),
  };
}

/** Reads `prevAutoResetPoints` of a started event back into reset points. */
export function resetPointsFromProto(proto: unknown): ResetPoint[] {
  const points = (proto as { points?: Record<string, unknown>[] } | undefined)?.points ?? [];
  const ms = (t: unknown): number => timestampToMs(t as Timestamp | undefined);
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  return points.map((p) => ({
    buildId: str(p['buildId']),
    binaryChecksum: str(p['binaryChecksum']),
    runId: str(p['runId']),
    firstWorkflowTaskCompletedId: Number(p['firstWorkflowTaskCompletedId'] ?? 0),
    createTime: ms(p['createTime']),
    expireTime: ms(p['expireTime']),
    resettable: Boolean(p['resettable']),
  }));
}
