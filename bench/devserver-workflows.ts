/** Workflows driven by the dev server benchmark. */
import * as wf from '@temporalio/workflow';
import type * as activities from './devserver-activities';

const { noop } = wf.proxyActivities<typeof activities>({ startToCloseTimeout: '30s' });

/** Runs `n` no-op activities one after another; returns the workflow time after each (task start times). */
export async function sequential(n: number): Promise<number[]> {
  const times: number[] = [Date.now()];
  for (let i = 0; i < n; i++) {
    await noop();
    times.push(Date.now());
  }
  return times;
}

/** One activity: the smallest useful workflow. */
export async function hello(): Promise<void> {
  await noop();
}

/** Runs `n` no-op activities at once. */
export async function fanOut(n: number): Promise<number> {
  await Promise.all(Array.from({ length: n }, () => noop()));
  return n;
}
