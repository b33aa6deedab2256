/**
 * MLflow's rules for what a run may hold (`mlflow/utils/validation.py`), checked before anything is sent: MLflow
 * refuses a whole `log-batch` for one bad item, and tracking logs everything it can and reports the rest. Keys: 1 to
 * 250 characters of letters, digits, `_ - . /` and space, never resolving to another path; param values up to 6,000
 * characters, tag values up to 5,000; metric values finite (MLflow would take NaN and ±Infinity, but its stores keep
 * them differently and they break comparisons and charts, so mloe reports them instead).
 */
import type { MetricInput } from '../mlflow';

/** MLflow's length limits, in characters (code points). */
export const MLFLOW_LIMITS = { key: 250, paramValue: 6000, tagValue: 5000 } as const;

const VALID_KEY = /^[/\p{L}\p{N}_.\- ]*$/u;

/** Characters as Python counts them. */
function length(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/** Why MLflow would refuse `key` as a metric, param or tag name, or undefined when it would take it. */
export function keyProblem(key: string): string | undefined {
  if (key === '') return 'an empty name';
  if (length(key) > MLFLOW_LIMITS.key) return `a name of ${length(key)} characters (MLflow's limit is 250)`;
  if (!VALID_KEY.test(key)) {
    return "a name MLflow refuses: only letters, digits, '_', '-', '.', '/' and spaces are allowed";
  }
  // MLflow's `path_not_unique`: the name, read as a path, must normalise to itself and stay relative.
  if (key.startsWith('/') || key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    return 'a name MLflow refuses: read as a path, it would resolve to another name';
  }
  return undefined;
}

/** A param or tag to log. */
export interface KeyValue {
  key: string;
  value: string;
}

/** What a step (or the pipeline) asked to log, split into what MLflow takes and what it would refuse. */
export interface CheckedBatch {
  metrics: MetricInput[];
  params: KeyValue[];
  tags: KeyValue[];
  /** One line per refused item: `metric "loss": NaN is not a finite number`. */
  problems: string[];
}

/** Checks metrics, params and tags against MLflow's rules; `problems` names each refused one and why. */
export function checkBatch(batch: {
  metrics?: readonly MetricInput[];
  params?: readonly KeyValue[];
  tags?: readonly KeyValue[];
}): CheckedBatch {
  const checked: CheckedBatch = { metrics: [], params: [], tags: [], problems: [] };
  for (const metric of batch.metrics ?? []) {
    const problem = keyProblem(metric.key);
    if (problem !== undefined) checked.problems.push(`metric ${JSON.stringify(metric.key)}: ${problem}`);
    else if (!Number.isFinite(metric.value)) {
      const at = metric.step === undefined || metric.step === 0 ? '' : ` at step ${metric.step}`;
      checked.problems.push(
        `metric ${JSON.stringify(metric.key)}${at}: ${String(metric.value)} is not a finite number`,
      );
    } else checked.metrics.push(metric);
  }
  for (const [kind, items, limit, target] of [
    ['param', batch.params ?? [], MLFLOW_LIMITS.paramValue, checked.params],
    ['tag', batch.tags ?? [], MLFLOW_LIMITS.tagValue, checked.tags],
  ] as const) {
    for (const item of items) {
      const problem = keyProblem(item.key);
      const size = length(item.value);
      if (problem !== undefined) checked.problems.push(`${kind} ${JSON.stringify(shorten(item.key, 80))}: ${problem}`);
      else if (size > limit) {
        checked.problems.push(
          `${kind} ${JSON.stringify(item.key)}: a value of ${size} characters (MLflow's limit is ${limit})`,
        );
      } else target.push(item);
    }
  }
  return checked;
}

/** `text` cut to `max` characters, with an ellipsis when cut. */
export function shorten(text: string, max: number): string {
  const characters = [...text];
  return characters.length <= max ? text : `${characters.slice(0, max - 1).join('')}…`;
}

/** A value for a tag: cut to MLflow's limit (for tags mloe writes itself, such as an error message). */
export function tagValue(text: string): string {
  return shorten(text, MLFLOW_LIMITS.tagValue);
}

/** A parameter value as MLflow keeps it: strings as they are, anything else as JSON. */
export function paramText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
}
