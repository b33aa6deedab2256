/**
 * The tags a promotion writes in the MLflow model registry: on the model version (its policies, the decision, the
 * alias move, a rollback) and on the registered model (the history of alias moves). They are the registry's own
 * record of who moved an alias, when and why, readable with `mloe models show` or any MLflow client.
 */
import type { MlflowClient, ModelVersion } from '../mlflow';

/** Tags on a model version. */
export const PROMOTION_TAGS = {
  /** `awaiting-approval`, `policy-failed`, `approved`, `rejected`, `promoted`, `rolled-back`. */
  state: 'mloe.promotion.state',
  /** `passed` or `failed`: all policies held, or one did not. An alias moves only onto a version with `passed`. */
  policies: 'mloe.promotion.policies',
  /** Prefix of `mloe.policy.<name>`: `passed` or `failed`. */
  policy: 'mloe.policy.',
  /** Every policy outcome as JSON (rule, values, passed, error), cut to MLflow's tag size. */
  policyResults: 'mloe.promotion.policyResults',
  /** The run and promote step deciding on the version. */
  workflowId: 'mloe.promotion.workflowId',
  step: 'mloe.promotion.step',
  /** `approved` or `rejected`, who decided, when, why, and how (`update`, `auto`, `timeout`). */
  decision: 'mloe.promotion.decision',
  decidedBy: 'mloe.promotion.decidedBy',
  decidedAt: 'mloe.promotion.decidedAt',
  reason: 'mloe.promotion.reason',
  via: 'mloe.promotion.via',
  /** The version the alias pointed at before this one ("" for none): written before the alias moves. */
  previousVersion: 'mloe.promotion.previousVersion',
  /** When the alias reached this version, and which alias. */
  promotedAt: 'mloe.promotion.promotedAt',
  alias: 'mloe.promotion.alias',
  /** A rollback away from this version: who, when, why. */
  rolledBackBy: 'mloe.rollback.by',
  rolledBackAt: 'mloe.rollback.at',
  rolledBackReason: 'mloe.rollback.reason',
} as const;

/** Tag on the registered model: the alias moves, newest last, as a JSON list cut to MLflow's tag size. */
export const ALIAS_HISTORY_TAG = 'mloe.aliasHistory';

/** MLflow's limit on a registry tag's value (characters). */
export const MAX_REGISTRY_TAG_VALUE = 5000;

/** One alias move in {@link ALIAS_HISTORY_TAG}. */
export interface AliasMove {
  action: 'promote' | 'rollback';
  alias: string;
  /** The version the alias moved to, and from ("" for none). */
  version: string;
  from: string;
  by: string;
  at: string;
  reason?: string;
  /** The run that promoted (absent for a rollback from the CLI). */
  workflowId?: string;
}

/** A version's tag, if set. */
export function tagOf(version: ModelVersion, key: string): string | undefined {
  return version.tags.find((tag) => tag.key === key)?.value;
}

/** A text cut to fit a registry tag. */
export function fitTag(text: string): string {
  return text.length <= MAX_REGISTRY_TAG_VALUE ? text : `${text.slice(0, MAX_REGISTRY_TAG_VALUE - 3)}...`;
}

/**
 * Appends a move to the registered model's history, unless its last entry is this very move (a retried activity);
 * the oldest entries go when the list no longer fits one tag.
 */
export async function appendAliasHistory(client: MlflowClient, name: string, move: AliasMove): Promise<void> {
  const model = await client.registeredModels.get(name);
  const raw = model.tags.find((tag) => tag.key === ALIAS_HISTORY_TAG)?.value;
  let history: AliasMove[] = [];
  try {
    const parsed: unknown = raw === undefined ? [] : JSON.parse(raw);
    if (Array.isArray(parsed)) history = parsed as AliasMove[];
  } catch {
    history = [];
  }
  const last = history[history.length - 1];
  if (
    last !== undefined &&
    last.action === move.action &&
    last.alias === move.alias &&
    last.version === move.version &&
    last.from === move.from &&
    last.workflowId === move.workflowId
  ) {
    return;
  }
  history.push(move);
  while (history.length > 1 && JSON.stringify(history).length > MAX_REGISTRY_TAG_VALUE) history.shift();
  await client.registeredModels.setTag(name, ALIAS_HISTORY_TAG, fitTag(JSON.stringify(history)));
}
