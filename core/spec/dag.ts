/**
 * The step graph of a pipeline: steps are nodes and `needs` are edges. Pure helpers for the validator (cycles,
 * upstream closures) and the interpreter workflow (order, what can start now). Every result is deterministic: ties
 * are broken by the order in which the spec declares the steps.
 */
import { MloeError } from '../errors';

/** The dependency graph of a pipeline's steps. */
export interface StepGraph {
  /** Step ids in declaration order. */
  readonly ids: readonly string[];
  /** For each step, the steps it needs (existing ones, once each, in the order written). */
  readonly needs: ReadonlyMap<string, readonly string[]>;
  /** For each step, the steps that need it, in declaration order. */
  readonly dependents: ReadonlyMap<string, readonly string[]>;
}

/** Builds the graph of a `steps` mapping. Needs naming unknown steps are dropped (the validator reports them). */
export function buildGraph(
  steps: Readonly<Record<string, { readonly needs?: readonly string[] | undefined }>>,
): StepGraph {
  const ids = Object.keys(steps);
  const known = new Set(ids);
  const needs = new Map<string, readonly string[]>();
  const dependents = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const id of ids) {
    const unique = [...new Set(steps[id]?.needs ?? [])].filter((need) => known.has(need));
    needs.set(id, unique);
    for (const need of unique) dependents.get(need)?.push(id);
  }
  return { ids, needs, dependents };
}

function needsOf(graph: StepGraph, id: string): readonly string[] {
  return graph.needs.get(id) ?? [];
}

/**
 * Every cycle of the graph, one per strongly connected component, as the path around it starting from its first
 * declared step: `['a', 'b', 'c']` means a needs b, b needs c, c needs a. A step that needs itself is `['a']`.
 */
export function findCycles(graph: StepGraph): string[][] {
  // Tarjan's strongly connected components, iteratively (no recursion limit for long chains).
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;

  for (const root of graph.ids) {
    if (index.has(root)) continue;
    const work: { id: string; next: number }[] = [{ id: root, next: 0 }];
    index.set(root, counter);
    lowLink.set(root, counter);
    counter += 1;
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      if (frame === undefined) break;
      const edges = needsOf(graph, frame.id);
      if (frame.next < edges.length) {
        const target = edges[frame.next] ?? '';
        frame.next += 1;
        if (!index.has(target)) {
          index.set(target, counter);
          lowLink.set(target, counter);
          counter += 1;
          stack.push(target);
          onStack.add(target);
          work.push({ id: target, next: 0 });
        } else if (onStack.has(target)) {
          lowLink.set(frame.id, Math.min(lowLink.get(frame.id) ?? 0, index.get(target) ?? 0));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) {
        lowLink.set(parent.id, Math.min(lowLink.get(parent.id) ?? 0, lowLink.get(frame.id) ?? 0));
      }
      if (lowLink.get(frame.id) === index.get(frame.id)) {
        const component: string[] = [];
        let member: string | undefined;
        do {
          member = stack.pop();
          if (member === undefined) break;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.id);
        components.push(component);
      }
    }
  }

  const position = new Map(graph.ids.map((id, i) => [id, i]));
  const cycles: string[][] = [];
  for (const component of components) {
    const members = new Set(component);
    const [start] = [...component].sort((a, b) => (position.get(a) ?? 0) - (position.get(b) ?? 0));
    if (start === undefined) continue;
    if (component.length === 1 && !needsOf(graph, start).includes(start)) continue;
    cycles.push(cycleThrough(graph, start, members));
  }
  cycles.sort((a, b) => (position.get(a[0] ?? '') ?? 0) - (position.get(b[0] ?? '') ?? 0));
  return cycles;
}

/** A shortest path from `start` back to itself inside one strongly connected component (breadth-first). */
function cycleThrough(graph: StepGraph, start: string, members: ReadonlySet<string>): string[] {
  const previous = new Map<string, string>();
  const queue: string[] = [start];
  for (let head = 0; head < queue.length; head += 1) {
    const id = queue[head] ?? '';
    for (const need of needsOf(graph, id)) {
      if (!members.has(need)) continue;
      if (need === start) {
        const path = [id];
        while (path[0] !== start) path.unshift(previous.get(path[0] ?? '') ?? start);
        return path;
      }
      if (!previous.has(need)) {
        previous.set(need, id);
        queue.push(need);
      }
    }
  }
  return [start];
}

/**
 * The steps in an order where each comes after everything it needs; among steps that could go next, the one
 * declared first goes first. Throws `SPEC_INVALID` if the graph has a cycle (validate first).
 */
export function topologicalOrder(graph: StepGraph): string[] {
  return executionLevels(graph).flat();
}

/**
 * The steps in waves: the first wave needs nothing, each later wave needs only steps of earlier waves. Steps of one
 * wave can run in parallel. Throws `SPEC_INVALID` if the graph has a cycle.
 */
export function executionLevels(graph: StepGraph): string[][] {
  const remaining = new Map(graph.ids.map((id) => [id, needsOf(graph, id).length]));
  const position = new Map(graph.ids.map((id, index) => [id, index]));
  const levels: string[][] = [];
  let current = graph.ids.filter((id) => remaining.get(id) === 0);
  let placed = 0;
  while (current.length > 0) {
    levels.push(current);
    placed += current.length;
    const next = new Set<string>();
    for (const id of current) {
      for (const dependent of graph.dependents.get(id) ?? []) {
        const left = (remaining.get(dependent) ?? 0) - 1;
        remaining.set(dependent, left);
        if (left === 0) next.add(dependent);
      }
    }
    current = [...next].sort((a, b) => (position.get(a) ?? 0) - (position.get(b) ?? 0));
  }
  if (placed !== graph.ids.length) {
    const cycle = findCycles(graph)[0] ?? [];
    throw new MloeError('SPEC_INVALID', `steps form a cycle: ${[...cycle, cycle[0]].join(' → ')}`);
  }
  return levels;
}

function closure(start: string, edges: (id: string) => readonly string[]): Set<string> {
  const seen = new Set<string>();
  const queue = [...edges(start)];
  for (let head = 0; head < queue.length; head += 1) {
    const id = queue[head] ?? '';
    if (seen.has(id)) continue;
    seen.add(id);
    queue.push(...edges(id));
  }
  return seen;
}

/** Every step a step needs, directly or transitively (itself only if it is on a cycle). */
export function upstreamOf(graph: StepGraph, id: string): Set<string> {
  return closure(id, (step) => needsOf(graph, step));
}

/** Every step that needs a step, directly or transitively: what a failure of it blocks. */
export function downstreamOf(graph: StepGraph, id: string): Set<string> {
  return closure(id, (step) => graph.dependents.get(step) ?? []);
}

/**
 * The steps that can start now: not yet done, running, skipped or failed, and every step they need is done or
 * skipped. In declaration order. A skipped need counts as settled; whether the dependent then runs or is skipped
 * too is the interpreter's decision (it skips it, like GitHub Actions, unless the dependent opts in).
 */
export function readySteps(
  graph: StepGraph,
  done: ReadonlySet<string>,
  running: ReadonlySet<string>,
  skipped: ReadonlySet<string>,
  failed: ReadonlySet<string> = new Set(),
): string[] {
  return graph.ids.filter(
    (id) =>
      !done.has(id) &&
      !running.has(id) &&
      !skipped.has(id) &&
      !failed.has(id) &&
      needsOf(graph, id).every((need) => done.has(need) || skipped.has(need)),
  );
}
