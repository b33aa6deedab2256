/** The workflow of the UI benchmark's long history: batches of small activities until the history is long enough. */
import * as wf from '@temporalio/workflow';
import type * as activities from './ui-activities';

const { recordReading } = wf.proxyActivities<typeof activities>({ startToCloseTimeout: '30s' });

/** Activities run at once per batch (each adds three events: scheduled, started, completed). */
const BATCH = 16;

/**
 * Runs batches of {@link BATCH} activities until the history has about `events` events (the last batch and the
 * completion may pass it by a few); returns how many readings it collected, in words (the page shows it as the result).
 */
export async function collectReadings(events: number): Promise<string> {
  let ran = 0;
  // Room for one more batch: its activities' events, the workflow tasks around them and the completion.
  while (wf.workflowInfo().historyLength + BATCH * 3 + 8 <= events) {
    const first = ran;
    await Promise.all(Array.from({ length: BATCH }, (_, k) => recordReading({ i: first + k, note: 'ui benchmark' })));
    ran += BATCH;
  }
  return `collected ${ran} readings`;
}
