/**
 * The activities of a promotion (`workflows/promotion.ts` calls them): read the current champion, record the
 * policies and the decision as tags (on the model version and on the pipeline's MLflow run), move the aliases, and
 * call the escalation webhook. Each is idempotent: tags overwrite, the alias move converges (`aliases.ts`), and a
 * webhook delivered twice says the same thing twice.
 */
import type { ApprovalDecision, PolicyOutcome, PromotionState } from '../../core/promotion';
import { MloeError } from '../../core/errors';
import { withFailureMapping } from '../failures';
import type { MlflowClient } from '../mlflow';
import type { MlflowTracker } from '../tracking';
import { promoteVersion, versionByAlias, type AliasMoveRequest, type AliasMoveResult } from './aliases';
import { PROMOTION_TAGS, fitTag } from './tags';
import { postWebhook } from './webhook';

/** Input of `recordPromotion`. */
export interface RecordPromotionInput {
  model: string;
  version: string;
  workflowId: string;
  pipeline: string;
  step: string;
  state: PromotionState;
  policies: PolicyOutcome[];
  decision?: ApprovalDecision;
}

/** Input of `escalatePromotion`. */
export interface EscalatePromotionInput {
  url: string;
  payload: Record<string, unknown>;
}

/** The promotion activities, as workflows call them. */
export interface PromotionActivities {
  /** The version `alias` points at now, if any. */
  readPromotionChampion(input: { model: string; alias: string }): Promise<{ version?: string }>;
  /** Writes the promotion's state, policies and decision as tags on the version and the pipeline's MLflow run. */
  recordPromotion(input: RecordPromotionInput): Promise<void>;
  /** Moves the aliases onto an approved version (see `aliases.ts`). */
  movePromotionAlias(input: AliasMoveRequest): Promise<AliasMoveResult>;
  /** Posts the escalation webhook; answers the HTTP status. */
  escalatePromotion(input: EscalatePromotionInput): Promise<{ status: number }>;
}

/** Options of {@link createPromotionActivities}. */
export interface PromotionActivityOptions {
  /** The worker's tracking (its MLflow registry); the activities refuse to run without one. */
  tracker?: MlflowTracker;
  /** The `fetch` of the webhook; Node's by default. */
  fetch?: typeof fetch;
}

/** The promotion activities of a worker. */
export function createPromotionActivities(options: PromotionActivityOptions): PromotionActivities {
  const registry = (what: string): { client: MlflowClient; tracker: MlflowTracker } => {
    const tracker = options.tracker;
    if (tracker === undefined) {
      throw new MloeError(
        'TRACKING_NOT_CONFIGURED',
        `${what} needs an MLflow model registry, and this worker tracks nothing: start it with MLFLOW_TRACKING_URI set (mloe dev and mloe run start an embedded one)`,
      );
    }
    return { client: tracker.client, tracker };
  };
  const failure = (tracker: MlflowTracker, error: unknown, what: string): MloeError =>
    error instanceof MloeError && error.code !== 'MLFLOW_REQUEST_FAILED' ? error : tracker.failure(error, what);

  return {
    readPromotionChampion: (input) =>
      withFailureMapping(async () => {
        const { client, tracker } = registry('a promotion');
        try {
          const version = await versionByAlias(client, input.model, input.alias);
          return version === undefined ? {} : { version: version.version };
        } catch (error) {
          throw failure(tracker, error, `reading ${input.model}@${input.alias}`);
        }
      }),

    recordPromotion: (input) =>
      withFailureMapping(async () => {
        const { client, tracker } = registry('a promotion');
        const passed = input.policies.every((policy) => policy.passed);
        const tags: Record<string, string> = {
          [PROMOTION_TAGS.state]: input.state,
          [PROMOTION_TAGS.policies]: passed ? 'passed' : 'failed',
          [PROMOTION_TAGS.policyResults]: fitTag(JSON.stringify(input.policies)),
          [PROMOTION_TAGS.workflowId]: input.workflowId,
          [PROMOTION_TAGS.step]: input.step,
        };
        for (const policy of input.policies) {
          tags[`${PROMOTION_TAGS.policy}${policy.name}`] = policy.passed ? 'passed' : 'failed';
        }
        const decision = input.decision;
        if (decision !== undefined) {
          tags[PROMOTION_TAGS.decision] = decision.decision;
          tags[PROMOTION_TAGS.decidedBy] = fitTag(decision.identity);
          tags[PROMOTION_TAGS.decidedAt] = decision.at;
          tags[PROMOTION_TAGS.via] = decision.via;
          if (decision.reason !== undefined) tags[PROMOTION_TAGS.reason] = fitTag(decision.reason);
        }
        try {
          // The policy verdict first: a version is never left with a decision but no verdict.
          for (const [key, value] of Object.entries(tags)) {
            await client.modelVersions.setTag(input.model, input.version, key, value);
          }
        } catch (error) {
          throw failure(tracker, error, `recording the promotion of ${input.model} version ${input.version}`);
        }
        try {
          const run = await tracker.findPipelineRun(input.workflowId, input.pipeline);
          if (run === undefined) return;
          const prefix = `mloe.promotion.${input.step}`;
          const runTags: Record<string, string> = {
            [prefix]: input.state,
            [`${prefix}.model`]: `${input.model}/${input.version}`,
            [`${prefix}.policies`]: fitTag(JSON.stringify(input.policies)),
          };
          for (const policy of input.policies) {
            runTags[`mloe.policy.${input.step}.${policy.name}`] = policy.passed ? 'passed' : 'failed';
          }
          if (decision !== undefined) {
            runTags[`${prefix}.decidedBy`] = fitTag(decision.identity);
            if (decision.reason !== undefined) runTags[`${prefix}.reason`] = fitTag(decision.reason);
          }
          for (const [key, value] of Object.entries(runTags)) await client.runs.setTag(run.runId, key, value);
        } catch (error) {
          throw failure(tracker, error, `recording the promotion in the MLflow run of ${input.workflowId}`);
        }
      }),

    movePromotionAlias: (input) =>
      withFailureMapping(async () => {
        const { client, tracker } = registry('a promotion');
        try {
          return await promoteVersion(client, input);
        } catch (error) {
          throw failure(tracker, error, `moving ${input.model}@${input.alias} to version ${input.version}`);
        }
      }),

    escalatePromotion: (input) =>
      withFailureMapping(async () => ({ status: await postWebhook(input.url, input.payload, options.fetch) })),
  };
}
