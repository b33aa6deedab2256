/**
 * The metrics a step execution reports, as MLflow points (key, value, step). Two sources (docs/command-steps.md,
 * "Metrics"):
 *
 * - the step's summary numbers (`metrics.json` of a command step, `metrics` of a TypeScript step): one point each,
 *   at step 0;
 * - its artifact outputs of type `metrics`: a JSON object whose values are a number (one point at step 0), a list of
 *   numbers (the values at steps 0, 1, 2, …: one per epoch), or a list of points `{ "step": 3, "value": 0.12,
 *   "timestamp": 1700000000000 }` (`timestamp`, in ms since the epoch, optional). `NaN` and `Infinity`, as Python's
 *   `json` writes them, are read (and then reported, not logged).
 *
 * A key with a history in a `metrics` output is logged from that history only (the summary holds its last value).
 * What cannot be read is reported as a problem naming the output and the key, never thrown: the rest is logged.
 */
import { artifactRefsIn, getText, type ArtifactRef, type ArtifactStore } from '../artifacts';
import { ensureError } from '../../core/errors';

/** A `metrics` output larger than this is not read (the runner's limit on `metrics.json`, 1 MiB). */
export const MAX_METRICS_ARTIFACT_BYTES = 1024 * 1024;

/** One value of one metric. */
export interface MetricPoint {
  key: string;
  value: number;
  step: number;
  /** Milliseconds since the epoch, when the step reported one. */
  timestamp?: number;
}

/** The points of a step execution and what could not be read. */
export interface StepMetricPoints {
  points: MetricPoint[];
  problems: string[];
}

/**
 * The points of a step's summary numbers and of its `metrics` outputs (read from `store`). Points of the same key
 * and step are reported once (the last wins).
 */
export async function stepMetricPoints(
  result: { metrics?: Readonly<Record<string, number>>; outputs: Readonly<Record<string, unknown>> },
  store: ArtifactStore,
): Promise<StepMetricPoints> {
  const problems: string[] = [];
  const byKey = new Map<string, Map<number, MetricPoint>>();
  const add = (point: MetricPoint): void => {
    const steps = byKey.get(point.key) ?? new Map<number, MetricPoint>();
    steps.set(point.step, point);
    byKey.set(point.key, steps);
  };
  for (const { port, ref } of artifactRefsIn(result.outputs)) {
    if (ref.type !== 'metrics') continue;
    const read = await readMetricsArtifact(port, ref, store);
    problems.push(...read.problems);
    for (const point of read.points) add(point);
  }
  for (const [key, value] of Object.entries(result.metrics ?? {})) {
    if (!byKey.has(key)) add({ key, value, step: 0 });
  }
  const points = [...byKey.values()].flatMap((steps) => [...steps.values()].sort((a, b) => a.step - b.step));
  return { points, problems };
}

/** The last point of each key (highest step): what a pipeline run shows of its steps' metrics. */
export function latestPoints(points: readonly MetricPoint[]): MetricPoint[] {
  const latest = new Map<string, MetricPoint>();
  for (const point of points) {
    const known = latest.get(point.key);
    if (known === undefined || point.step >= known.step) latest.set(point.key, point);
  }
  return [...latest.values()];
}

/** The points of one `metrics` artifact. */
async function readMetricsArtifact(port: string, ref: ArtifactRef, store: ArtifactStore): Promise<StepMetricPoints> {
  const where = `metrics output ${JSON.stringify(port)}`;
  if (ref.size > MAX_METRICS_ARTIFACT_BYTES) {
    return { points: [], problems: [`${where}: ${ref.size} bytes, more than ${MAX_METRICS_ARTIFACT_BYTES}: not read`] };
  }
  let text: string;
  try {
    text = await getText(store, ref);
  } catch (error) {
    return { points: [], problems: [`${where}: could not be read: ${ensureError(error).message}`] };
  }
  return parseMetricsDocument(text, where);
}

/** Reads a `metrics` document (see the module doc); `where` names it in problems. */
export function parseMetricsDocument(text: string, where: string): StepMetricPoints {
  let document: unknown;
  try {
    document = JSON.parse(quoteNonFiniteTokens(text));
  } catch (error) {
    return { points: [], problems: [`${where}: not JSON (${ensureError(error).message})`] };
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    return { points: [], problems: [`${where}: not a JSON object of metrics`] };
  }
  const points: MetricPoint[] = [];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(document)) {
    const number = numberOf(value);
    if (number !== undefined) {
      points.push({ key, value: number, step: 0 });
      continue;
    }
    if (!Array.isArray(value)) {
      problems.push(`${where}: metric ${JSON.stringify(key)} is neither a number nor a list of values or points`);
      continue;
    }
    value.forEach((entry: unknown, index) => {
      const plain = numberOf(entry);
      if (plain !== undefined) {
        points.push({ key, value: plain, step: index });
        return;
      }
      const point = pointOf(key, entry);
      if (point === undefined) {
        problems.push(
          `${where}: metric ${JSON.stringify(key)}, entry ${index}: expected a number or { "step": <integer ≥ 0>, "value": <number>, "timestamp"?: <ms> }`,
        );
      } else points.push(point);
    });
  }
  return { points, problems };
}

/** A number, or `"NaN"`/`"Infinity"`/`"-Infinity"` (how non-finite values survive JSON) as one. */
function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (value === 'NaN') return Number.NaN;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  return undefined;
}

function pointOf(key: string, entry: unknown): MetricPoint | undefined {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return undefined;
  const { step, value, timestamp } = entry as Record<string, unknown>;
  const number = numberOf(value);
  if (number === undefined || typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) return undefined;
  if (timestamp !== undefined && (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0)) {
    return undefined;
  }
  return { key, value: number, step, ...(timestamp === undefined ? {} : { timestamp }) };
}

/**
 * Quotes the bare `NaN`, `Infinity` and `-Infinity` tokens Python's `json` module writes (outside strings), so that
 * `JSON.parse` reads them as strings and a non-finite value is reported by key instead of failing the whole file.
 */
export function quoteNonFiniteTokens(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i] ?? '';
    if (inString) {
      out += char;
      if (char === '\\') {
        out += text[i + 1] ?? '';
        i += 1;
      } else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') {
      inString = true;
      out += char;
      continue;
    }
    const token = ['-Infinity', 'Infinity', 'NaN'].find((candidate) => text.startsWith(candidate, i));
    if (token !== undefined) {
      out += JSON.stringify(token);
      i += token.length - 1;
      continue;
    }
    out += char;
  }
  return out;
}
