/**
 * `npm run bench:executors`: what the Kubernetes Job executor's watching costs, on the Kubernetes API test server
 * (`infra/kubernetes`, in its own process, so this process's CPU is the worker's alone). Pods are scripted
 * (`mloe-test/succeed`: running, then exit 0 after `mloe.dev/test-duration-ms`), so no process runs per job.
 *
 * 1. Per-step overhead: jobs one after another, create → running → completed observed, through the executor's path
 *    (client-node create, the shared informers of `JobWatcher`, `jobOutcome`), beside the same create and a plain
 *    HTTP watch of that one job (no client library, no informer) in the same run.
 * 2. Concurrency: `BENCH_JOBS` (1,000) jobs created, then watched at once by one worker until all completed; the
 *    worker's CPU over the watch, beside a baseline that makes the same creates and reads the same events from one
 *    plain HTTP watch stream.
 *
 * Staging (S3 round trips of inputs and outputs) is not part of these figures: it depends on the store, not the
 * executor. Prints a table; copy the figures into docs/benchmarks.md with the machine they ran on.
 * Knobs: `BENCH_JOBS` (1000), `BENCH_SEQUENTIAL` (30), `BENCH_RUN_MS` (how long each concurrent job runs, 20000).
 */
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { cpus, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { BatchV1Api, KubeConfig, type V1Job } from '@kubernetes/client-node';

import { JobWatcher } from '../activities/executors';
import { jobOutcome } from '../activities/executors/kubernetes/status';

const JOBS = Number(process.env.BENCH_JOBS ?? 1000);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 30);
const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 20_000);
const NAMESPACE = 'bench';
const MANAGED = { 'app.kubernetes.io/managed-by': 'mloe' };

function job(name: string, runMs: number, group: string): V1Job {
  const labels = { ...MANAGED, 'mloe.dev/bench': group };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, labels },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels, annotations: { 'mloe.dev/test-duration-ms': String(runMs) } },
        spec: {
          restartPolicy: 'Never',
          containers: [{ name: 'main', image: 'mloe-test/succeed', command: ['train'] }],
        },
      },
    },
  };
}

function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** POSTs a job with plain HTTP. */
function postJob(base: URL, body: V1Job): Promise<void> {
  return new Promise((ok, fail) => {
    const text = JSON.stringify(body);
    const req = httpRequest(
      new URL(`/apis/batch/v1/namespaces/${NAMESPACE}/jobs`, base),
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 201 ? ok() : fail(new Error(`create: ${res.statusCode}`))));
      },
    );
    req.on('error', fail);
    req.end(text);
  });
}

/** A plain HTTP watch of jobs matching `selector`; calls `onJob` per event until `stop()`. */
function rawWatch(
  base: URL,
  selector: string,
  onJob: (job: V1Job) => void,
): { ready: Promise<void>; stop: () => void } {
  let stop = (): void => undefined;
  const ready = new Promise<void>((ok, fail) => {
    const url = new URL(`/apis/batch/v1/namespaces/${NAMESPACE}/jobs`, base);
    url.searchParams.set('watch', 'true');
    url.searchParams.set('labelSelector', selector);
    const req = httpRequest(url, (res) => {
      res.on('error', () => undefined);
      const lines = createInterface({ input: res });
      lines.on('error', () => undefined);
      lines.on('line', (line) => onJob((JSON.parse(line) as { object: V1Job }).object));
      ok();
    });
    req.on('error', fail);
    req.end();
    stop = () => req.destroy();
  });
  return { ready, stop: () => stop() };
}

const complete = (job: V1Job | undefined): boolean =>
  job?.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') ?? false;

async function main(): Promise<void> {
  const child = spawn(
    process.execPath,
    [resolve(__dirname, '../node_modules/tsx/dist/cli.mjs'), resolve(__dirname, '../infra/kubernetes/main.ts')],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const { url } = await new Promise<{ url: string }>((ok) =>
    createInterface({ input: child.stdout }).once('line', (line) => ok(JSON.parse(line) as { url: string })),
  );
  const base = new URL(url);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'bench', server: url, skipTLSVerify: true }],
    users: [{ name: 'bench', token: 'bench' }],
    contexts: [{ name: 'bench', cluster: 'bench', user: 'bench', namespace: NAMESPACE }],
    currentContext: 'bench',
  });
  const batch = kubeConfig.makeApiClient(BatchV1Api);
  const watcher = await JobWatcher.start(kubeConfig, NAMESPACE);
  const never = new AbortController().signal;
  const rows: string[][] = [];
  try {
    // 1. Sequential: executor path, then baseline, alternating.
    const executorMs: number[] = [];
    const baselineMs: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const name = `seq-exec-${i}`;
      let started = performance.now();
      await batch.createNamespacedJob({ namespace: NAMESPACE, body: job(name, 0, 'seq') });
      for (;;) {
        const current = watcher.job(name);
        const { pod, deleted } = watcher.lastPod(name);
        if (current !== undefined && jobOutcome(current, pod, name, deleted).state === 'succeeded') break;
        await watcher.changed(name, never, 5_000);
      }
      executorMs.push(performance.now() - started);

      const raw = `seq-raw-${i}`;
      started = performance.now();
      let done!: () => void;
      const finished = new Promise<void>((ok) => (done = ok));
      const watch = rawWatch(base, `mloe.dev/bench=${raw}`, (object) => {
        if (object.metadata?.name === raw && complete(object)) done();
      });
      await watch.ready;
      await postJob(base, job(raw, 0, raw));
      await finished;
      watch.stop();
      baselineMs.push(performance.now() - started);
    }
    const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
    rows.push([
      'sequential: create → completed observed (median ms)',
      median(executorMs).toFixed(1),
      median(baselineMs).toFixed(1),
    ]);

    // 2. Concurrent: the executor's watch of JOBS jobs at once.
    const names = Array.from({ length: JOBS }, (_, i) => `conc-exec-${i}`);
    let cpu0 = cpuMs();
    let wall0 = performance.now();
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(
        names
          .slice(i, i + 50)
          .map((name) => batch.createNamespacedJob({ namespace: NAMESPACE, body: job(name, RUN_MS, 'conc') })),
      );
    }
    const createCpu = cpuMs() - cpu0;
    const createWall = performance.now() - wall0;
    cpu0 = cpuMs();
    wall0 = performance.now();
    let peak = 0;
    let running = 0;
    await Promise.all(
      names.map(async (name) => {
        running += 1;
        peak = Math.max(peak, running);
        for (;;) {
          const current = watcher.job(name);
          const { pod, deleted } = watcher.lastPod(name);
          if (current !== undefined && jobOutcome(current, pod, name, deleted).state === 'succeeded') break;
          await watcher.changed(name, never, 10_000);
        }
        running -= 1;
      }),
    );
    const watchCpu = cpuMs() - cpu0;
    const watchWall = performance.now() - wall0;

    // Baseline: the same creates with plain HTTP, the same events from one plain watch.
    const rawNames = Array.from({ length: JOBS }, (_, i) => `conc-raw-${i}`);
    const remaining = new Set(rawNames);
    let allDone!: () => void;
    const finished = new Promise<void>((ok) => (allDone = ok));
    const watch = rawWatch(base, 'mloe.dev/bench=conc-raw', (object) => {
      if (complete(object) && remaining.delete(object.metadata?.name ?? '') && remaining.size === 0) allDone();
    });
    await watch.ready;
    let rcpu0 = cpuMs();
    let rwall0 = performance.now();
    for (let i = 0; i < rawNames.length; i += 50) {
      await Promise.all(rawNames.slice(i, i + 50).map((name) => postJob(base, job(name, RUN_MS, 'conc-raw'))));
    }
    const rawCreateCpu = cpuMs() - rcpu0;
    const rawCreateWall = performance.now() - rwall0;
    rcpu0 = cpuMs();
    rwall0 = performance.now();
    await finished;
    watch.stop();
    const rawWatchCpu = cpuMs() - rcpu0;
    const rawWatchWall = performance.now() - rwall0;

    rows.push([`create ${JOBS} jobs (50 at a time): wall ms`, createWall.toFixed(0), rawCreateWall.toFixed(0)]);
    rows.push([`create ${JOBS} jobs: worker CPU ms`, createCpu.toFixed(0), rawCreateCpu.toFixed(0)]);
    rows.push([
      `watch ${JOBS} jobs to completion (${peak} at once): wall ms`,
      watchWall.toFixed(0),
      rawWatchWall.toFixed(0),
    ]);
    rows.push([`watch: worker CPU ms`, watchCpu.toFixed(0), rawWatchCpu.toFixed(0)]);
    rows.push([
      `watch: worker CPU in cores (CPU / wall)`,
      (watchCpu / watchWall).toFixed(3),
      (rawWatchCpu / rawWatchWall).toFixed(3),
    ]);
  } finally {
    await watcher.stop();
    child.stdin?.end();
    child.kill('SIGTERM');
  }
  console.log(
    `executors benchmark: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  console.log('| measurement | executor (client-node + informers) | baseline (plain HTTP) |');
  console.log('| --- | --- | --- |');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
