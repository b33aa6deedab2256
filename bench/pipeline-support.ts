/**
 * Pieces of `npm run bench:pipeline` (`bench/pipeline.ts`): the `noop@1` step, the benchmark DAGs built with the
 * typed builder, the in-process baseline scheduler that runs the same DAG without any orchestration, the dev server
 * in its own process, and CPU readings of that process and of this one.
 */
import { readFileSync } from 'node:fs';

import { createStepImplementations, type StepImplementation, type StepOutput } from '../activities/steps';
import { expr, pipeline, type PipelineBuilder } from '../core/builder';
import { buildGraph, readySteps, type JsonValue, type PipelineSpec, type StepDescriptor } from '../core/spec';

/**
 * The body of `noop@1`: does nothing and returns its `seed` input (0 by default) as its one integer output. The
 * baseline calls it directly; the worker calls it through `runStep`.
 */
// Async because step implementations return promises; the engine awaits the same function.
// eslint-disable-next-line @typescript-eslint/require-await
export async function noop(inputs: Readonly<Record<string, JsonValue>>): Promise<StepOutput> {
  return { outputs: { value: typeof inputs.seed === 'number' ? inputs.seed : 0 } };
}

/**
 * `noop@1`, registered on the benchmark worker. The benchmark DAGs give every execution its own seed: the cache keys
 * a step by its inputs, not its id, so identical no-op steps would share one cache entry and a first run with the
 * cache on would be one miss and then hits.
 */
export const NOOP_STEP: StepImplementation = {
  descriptor: {
    name: 'noop',
    version: '1',
    description: 'does nothing: what is left of a step is orchestration',
    inputs: { seed: { type: 'integer', default: 0 } },
    outputs: { value: { type: 'integer' } },
  },
  run: (inputs) => noop(inputs),
};

/** The steps the benchmark worker implements: only `noop@1` (the built-ins are not needed). */
export const BENCH_STEPS = createStepImplementations([NOOP_STEP]);

/** The descriptors to pass to `startPipeline`, matching {@link BENCH_STEPS}. */
export const BENCH_DESCRIPTORS: readonly StepDescriptor[] = BENCH_STEPS.descriptors;

const NOOP = 'noop@1';

/** Step ids that sort in declaration order: `s0007`. */
function stepId(index: number, total: number): string {
  return `s${String(index).padStart(String(Math.max(total - 1, 0)).length, '0')}`;
}

/** Builds (and validates) a spec against the benchmark registry. */
function built(builder: PipelineBuilder<never, string>): PipelineSpec {
  return builder.build({ registry: BENCH_STEPS.registry });
}

/** A chain of `length` no-op steps, each needing the one before it. */
export function chainSpec(length: number): PipelineSpec {
  let builder: PipelineBuilder<never, string> = pipeline('bench-chain');
  for (let i = 0; i < length; i += 1) {
    builder = builder.step(stepId(i, length), {
      uses: NOOP,
      with: { seed: i },
      ...(i === 0 ? {} : { needs: [stepId(i - 1, length)] }),
    });
  }
  return built(builder);
}

/**
 * One `foreach` step over `items` integers, each iteration seeded with its item. Without `maxParallel` the step runs
 * 50 iterations at once (the interpreter's default); with it, that many.
 */
export function foreachSpec(items: number, maxParallel?: number): PipelineSpec {
  return built(
    pipeline(maxParallel === undefined ? 'bench-foreach' : 'bench-foreach-wide').step('fan', {
      uses: NOOP,
      foreach: Array.from({ length: items }, (_, i) => i),
      with: { seed: expr('item') },
      ...(maxParallel === undefined ? {} : { maxParallel }),
    }),
  );
}

/** One root step and `width` distinct steps that each need only the root. */
export function distinctSpec(width: number): PipelineSpec {
  // The builder copies its whole state per step (quadratic); 2,000 steps are still well under a second.
  let builder: PipelineBuilder<never, string> = pipeline('bench-distinct').step('root', {
    uses: NOOP,
    with: { seed: -1 },
  });
  for (let i = 0; i < width; i += 1) {
    builder = builder.step(stepId(i, width), { uses: NOOP, needs: ['root'], with: { seed: i } });
  }
  return built(builder);
}

/** How many step executions a spec makes (a `foreach` step counts once per item). */
export function executionCount(spec: PipelineSpec): number {
  return Object.values(spec.steps).reduce(
    (sum, step) => sum + (Array.isArray(step.foreach) ? step.foreach.length : 1),
    0,
  );
}

/**
 * The baseline: the same DAG run by a tiny in-process scheduler with no orchestration at all. Wave by wave, every
 * ready step (`readySteps` over `buildGraph`) runs at once, each `foreach` item at once, calling `step` (the body of
 * `noop@1` by default) with the step's inputs. Returns the executions made.
 */
export async function runInProcess(
  spec: PipelineSpec,
  step: (inputs: Readonly<Record<string, JsonValue>>) => Promise<StepOutput> = noop,
): Promise<number> {
  const graph = buildGraph(spec.steps);
  const done = new Set<string>();
  const none = new Set<string>();
  let executions = 0;
  const execute = async (id: string, item?: JsonValue): Promise<void> => {
    await step(inputsOf(spec.steps[id]?.with ?? {}, item));
    executions += 1;
  };
  for (;;) {
    const ready = readySteps(graph, done, none, none);
    if (ready.length === 0) break;
    await Promise.all(
      ready.map(async (id) => {
        const items = spec.steps[id]?.foreach;
        if (Array.isArray(items)) await Promise.all(items.map((item) => execute(id, item)));
        else await execute(id);
      }),
    );
    for (const id of ready) done.add(id);
  }
  if (done.size !== graph.ids.length) throw new Error(`baseline ran ${done.size} of ${graph.ids.length} steps`);
  return executions;
}

/** The benchmark's `with` values without an expression engine: literals as they are, `${{ item }}` as the item. */
function inputsOf(values: Readonly<Record<string, JsonValue>>, item: JsonValue | undefined): Record<string, JsonValue> {
  const ITEM = expr('item');
  return Object.fromEntries(
    Object.entries(values).map(([name, value]) => [name, value === ITEM && item !== undefined ? item : value]),
  );
}

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

/** CPU time (user + system, ms) a process has used so far, from `/proc`; undefined where there is no `/proc`. */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces), from field 3 on: utime is 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system, ms) of this process, every thread (the SDK's Rust core and workflow thread included). */
export function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
