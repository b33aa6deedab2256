/** The timeouts of a scheduled activity, derived from whichever ones the workflow set, as Temporal's history does. */
import { durationToMs } from '../proto';

/** An activity's four timeouts in milliseconds (0: none). */
export interface ActivityTimeouts {
  scheduleToClose: number;
  scheduleToStart: number;
  startToClose: number;
  heartbeat: number;
}

/**
 * Derives the timeouts of a ScheduleActivityTask command: schedule-to-close bounds the others and the run timeout
 * bounds it; with only start-to-close set, the run timeout stands in for schedule-to-close and schedule-to-start.
 * Returns Temporal's message when the command's timeouts are invalid (the workflow task then fails).
 */
export function deriveActivityTimeouts(
  a: {
    scheduleToCloseTimeout?: unknown;
    scheduleToStartTimeout?: unknown;
    startToCloseTimeout?: unknown;
    heartbeatTimeout?: unknown;
  },
  runTimeoutMs: number,
): ActivityTimeouts | string {
  const d = (x: unknown): number => durationToMs(x as never);
  let scheduleToClose = d(a.scheduleToCloseTimeout);
  let scheduleToStart = d(a.scheduleToStartTimeout);
  let startToClose = d(a.startToCloseTimeout);
  let heartbeat = d(a.heartbeatTimeout);
  if (scheduleToClose < 0 || scheduleToStart < 0 || startToClose < 0 || heartbeat < 0) {
    return 'A valid timeout may not be negative on ScheduleActivityTaskCommand.';
  }
  if (scheduleToClose > 0) {
    if (runTimeoutMs > 0) scheduleToClose = Math.min(scheduleToClose, runTimeoutMs);
    scheduleToStart = scheduleToStart > 0 ? Math.min(scheduleToStart, scheduleToClose) : scheduleToClose;
    startToClose = startToClose > 0 ? Math.min(startToClose, scheduleToClose) : scheduleToClose;
  } else if (startToClose > 0) {
    scheduleToClose = runTimeoutMs;
    if (scheduleToStart === 0) scheduleToStart = runTimeoutMs;
  } else {
    return 'A valid StartToClose or ScheduleToCloseTimeout is not set on ScheduleActivityTaskCommand.';
  }
  if (heartbeat > startToClose) heartbeat = startToClose;
  return { scheduleToClose, scheduleToStart, startToClose, heartbeat };
}
