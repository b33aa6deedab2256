/**
 * Every time-based transition of a run, armed from its state: user timers, activity backoffs and timeouts, the
 * workflow task's start-to-close timeout and start backoff, and the run/execution timeouts. Re-arming is
 * idempotent, so the same function serves after each change and after a restart (overdue deadlines fire at once).
 */
import type { Engine, RunRecord } from '../engine';
import { EventType, WorkflowExecutionStatus } from '../proto';
import { activityDeadline, onActivityDeadline } from './activity';
import { chainAfterTimeout, closeRunInChain } from './run-chaining';
import { timeoutWorkflowTask } from './workflow-task';

/** Engine hook: (re)arms all deadlines of a run. */
export function armDeadlines(engine: Engine, run: RunRecord): void {
  if (!run.isOpen) return;
  const s = run.state;
  for (const [timerId, t] of Object.entries(s.timers)) {
    const name = `timer:${timerId}`;
    if (run.deadlines.has(name)) continue;
    engine.setDeadline(run, name, t.fireAt, () => fireTimer(engine, run, timerId));
  }
  for (const a of Object.values(s.activities)) {
    const d = activityDeadline(a);
    const name = `activity:${a.scheduledEventId}`;
    if (d)
      engine.setDeadline(run, name, d.at, () =>
        committed(engine, () => onActivityDeadline(engine, run, a.scheduledEventId)),
      );
    else engine.clearDeadline(run, name);
  }
  const wft = s.wft;
  if (wft && wft.startedEventId > 0) {
    const seq = wft.seq;
    engine.setDeadline(run, 'wft', wft.startedTime + s.workflowTaskTimeoutMs, () => {
      if (run.state.wft?.seq === seq) timeoutWorkflowTask(engine, run);
      void engine.commit().catch(() => undefined);
    });
  } else if (wft && wft.notBefore > engine.now()) {
    const seq = wft.seq;
    engine.setDeadline(run, 'wft', wft.notBefore, () => {
      const current = run.state.wft;
      if (current?.seq !== seq) return;
      current.notBefore = 0;
      if (current.kind === 'normal' && current.scheduledEventId === 0) engine.writeWorkflowTaskScheduled(run, current);
      engine.markDirty(run);
      engine.hooks.dispatchWorkflowTask(run);
      void engine.commit().catch(() => undefined);
    });
  } else {
    engine.clearDeadline(run, 'wft');
  }
  if (!run.deadlines.has('run-timeout')) {
    // As Temporal: the run timeout counts from the end of the first workflow task's backoff (start delay, retry or
    // cron wait), and never goes past the execution timeout.
    const runDeadline = s.runTimeoutMs > 0 ? s.executionTime + s.runTimeoutMs : 0;
    const at = [runDeadline, s.executionExpirationTime].filter((x) => x > 0);
    if (at.length) engine.setDeadline(run, 'run-timeout', Math.min(...at), () => timeoutRun(engine, run));
  }
}

/** Wraps a deadline action so its changes are committed. */
function committed(engine: Engine, action: () => void): void {
  action();
  void engine.commit().catch(() => undefined);
}

function fireTimer(engine: Engine, run: RunRecord, timerId: string): void {
  committed(engine, () => {
    const t = run.state.timers[timerId];
    if (!run.isOpen || !t) return;
    delete run.state.timers[timerId];
    engine.addExternalEvent(run, EventType.EVENT_TYPE_TIMER_FIRED, { timerId, startedEventId: t.startedEventId });
  });
}

function timeoutRun(engine: Engine, run: RunRecord): void {
  committed(engine, () => {
    if (!run.isOpen) return;
    const { retryState, next } = chainAfterTimeout(engine, run);
    closeRunInChain(
      engine,
      run,
      WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
      { retryState },
      next,
    );
  });
}
