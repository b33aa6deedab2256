/**
 * A `promote` step, run by the workflow itself (docs/promotion.md): read the version the alias points at now,
 * evaluate the policies (deterministically, here), record their outcomes on the model version and the MLflow run,
 * wait at the approval gate for an `approve` or `reject` Update (durably: a worker restart replays up to the gate
 * and keeps waiting) or approve at once (`mode: auto`), then move the aliases. A failed policy or a rejection fails
 * the step with a message that names the rule and its values, or who rejected and why, and no alias moves.
 *
 * While the gate waits, the run's `MloeApproval` search attribute is `Pending` and its memo says what it waits for,
 * so `mloe approvals` lists it from visibility without asking a worker.
 */
import {
  ApplicationFailure,
  condition,
  patched,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
} from '@temporalio/workflow';

import type { PromotionActivities } from '../activities/promotion';
import { resolveTemplates } from '../core/expressions';
import {
  DEFAULT_APPROVAL_TIMEOUT,
  DEFAULT_AUTO_IDENTITY,
  DEFAULT_PREVIOUS_ALIAS,
  DEFAULT_PROMOTION_ALIAS,
  describePolicyOutcome,
  evaluatePolicies,
  type ApprovalDecision,
  type ApprovalMemo,
  type ApprovalRequest,
  type PromotionStatus,
} from '../core/promotion';
import { paramsType, type JsonValue, type PromoteSpec } from '../core/spec';
import { parseDuration } from '../core/spec/units';
import { notify, wants } from './notifications';
import type { PipelineDefinition } from './pipeline-definition';
import type { RunStatus } from './run-status';
import { QUICK_STORE_CALL, backoffRetry } from './activity-options';
import type { StepRequests } from './step-requests';
import {
  APPROVAL_MEMO_KEY,
  APPROVAL_SEARCH_ATTRIBUTE,
  APPROVAL_STATUS_VALUES,
  approveUpdate,
  rejectUpdate,
  type RunPipelineInput,
} from './types';

/** The registry activities: quick calls, retried through an MLflow server's restarts. */
const registry = proxyActivities<PromotionActivities>(QUICK_STORE_CALL);

/** The escalation webhook: a few attempts, then the gate goes on waiting (or times out) without it. */
const webhook = proxyActivities<PromotionActivities>({
  startToCloseTimeout: '30 seconds',
  retry: backoffRetry({ maximumInterval: '10 seconds', maximumAttempts: 5 }),
});

/** The longest identity and reason an update may carry. */
const MAX_IDENTITY = 256;
const MAX_REASON = 2000;

/** A promote step at its approval gate. */
interface Gate {
  promotion: PromotionStatus;
  decision?: ApprovalDecision;
}

/**
 * The patch under which a manual gate says it waits (search attribute, memo) before recording the waiting state, and
 * says `Cancelled` if cancelled while that record runs.
 */
export const PROMOTION_WAITING_STATE_PATCH = 'mloe-promotion-waiting-state';

const noop = (): Promise<void> => Promise.resolve();

/**
 * The run's approval gates and the `approve` / `reject` Update handlers that decide them. Validators refuse an
 * update that names no identity, a rejection without a reason, and any update while no gate waits: a refused update
 * leaves no trace in the history.
 */
export class ApprovalGates {
  private readonly waiting = new Map<string, Gate>();

  constructor(private readonly workflowId: string) {}

  /** Registers the update handlers (no commands: safe for every run, old histories included). */
  install(): void {
    setHandler(approveUpdate, (request) => this.decide('approved', request), {
      validator: (request: ApprovalRequest) => void this.check('approved', request),
    });
    setHandler(rejectUpdate, (request) => this.decide('rejected', request), {
      validator: (request: ApprovalRequest) => void this.check('rejected', request),
    });
  }

  /** Opens a step's gate: from now on an update may decide it (a decision before {@link wait} is kept). */
  open(step: string, promotion: PromotionStatus): void {
    if (!this.waiting.has(step)) this.waiting.set(step, { promotion });
  }

  /** Waits at a step's gate for a decision, up to `timeoutMs` (forever when undefined); undefined on timeout. */
  async wait(step: string, promotion: PromotionStatus, timeoutMs?: number): Promise<ApprovalDecision | undefined> {
    const gate: Gate = this.waiting.get(step) ?? { promotion };
    this.waiting.set(step, gate);
    if (timeoutMs === undefined) await condition(() => gate.decision !== undefined);
    else await condition(() => gate.decision !== undefined, timeoutMs);
    return gate.decision;
  }

  /** Closes a step's gate: later updates are refused. */
  close(step: string): void {
    this.waiting.delete(step);
  }

  private decide(decision: ApprovalDecision['decision'], request: ApprovalRequest): ApprovalDecision {
    const gate = this.check(decision, request);
    const reason = request.reason?.trim();
    gate.decision = {
      decision,
      identity: request.identity.trim(),
      ...(reason === undefined || reason === '' ? {} : { reason }),
      at: new Date().toISOString(),
      via: 'update',
    };
    return gate.decision;
  }

  /** The gate a request decides; throws why it cannot. */
  private check(decision: ApprovalDecision['decision'], request: ApprovalRequest): Gate {
    const invalid = (message: string): ApplicationFailure =>
      ApplicationFailure.create({ type: 'CONFIG_INVALID', message, nonRetryable: true });
    if (request === null || typeof request !== 'object') throw invalid('expected { identity, reason?, step? }');
    if (typeof request.identity !== 'string' || request.identity.trim() === '') {
      throw invalid('an identity is required: who decides is recorded with the decision');
    }
    if (request.identity.length > MAX_IDENTITY) throw invalid(`identity is longer than ${MAX_IDENTITY} characters`);
    if (request.reason !== undefined && typeof request.reason !== 'string') throw invalid('reason must be a string');
    if ((request.reason?.length ?? 0) > MAX_REASON) throw invalid(`reason is longer than ${MAX_REASON} characters`);
    if (decision === 'rejected' && (request.reason ?? '').trim() === '') {
      throw invalid('a rejection needs a reason: it is recorded on the model version');
    }
    const open = [...this.waiting.entries()].filter(([, gate]) => gate.decision === undefined);
    const notWaiting = (detail: string): ApplicationFailure =>
      ApplicationFailure.create({
        type: 'NOT_AWAITING_APPROVAL',
        message: `run ${this.workflowId} is not waiting for approval${detail}`,
        nonRetryable: true,
      });
    if (request.step !== undefined) {
      const gate = open.find(([step]) => step === request.step)?.[1];
      if (gate === undefined) throw notWaiting(` at step ${request.step}`);
      return gate;
    }
    const [first, ...others] = open;
    if (first === undefined) throw notWaiting('');
    if (others.length > 0) {
      throw invalid(`run ${this.workflowId} waits at steps ${open.map(([step]) => step).join(', ')}: name one`);
    }
    return first[1];
  }
}

/** What a promote step works with. */
export interface PromotionContext {
  input: RunPipelineInput;
  definition: PipelineDefinition;
  requests: StepRequests;
  status: RunStatus;
  gates: ApprovalGates;
  workflowId: string;
}

/** The values bound to a promote step's inputs, checked. */
interface PromoteInputs {
  model: string;
  version: string;
  candidate: Record<string, number>;
  champion: Record<string, number>;
  dataset: Record<string, JsonValue>;
}

/** Runs a promote step to its end; returns its outputs, or throws why no alias moved. */
export async function runPromotion(context: PromotionContext, id: string): Promise<Record<string, JsonValue>> {
  const { definition, requests, status, input, workflowId } = context;
  const step = definition.step(id);
  const spec: PromoteSpec = step.promote ?? {};
  const values = promoteInputs(id, resolveTemplates(step.with ?? {}, requests.bindings(id, 'with')));
  const alias = spec.alias ?? DEFAULT_PROMOTION_ALIAS;
  const previousAlias = spec.previousAlias ?? DEFAULT_PREVIOUS_ALIAS;
  const pipeline = definition.spec.metadata.name;
  const promotion: PromotionStatus = {
    state: 'checking',
    model: values.model,
    version: values.version,
    alias,
    previousAlias,
    policies: [],
  };
  status.entry(id).promotion = promotion;
  const label = `model ${values.model} version ${values.version}`;

  const champion = await registry.readPromotionChampion({ model: values.model, alias });
  if (champion.version !== undefined) promotion.championVersion = champion.version;
  promotion.policies = evaluatePolicies(spec.policies ?? [], {
    candidate: { model: values.model, version: values.version, metrics: values.candidate },
    champion: {
      exists: champion.version !== undefined,
      model: values.model,
      version: champion.version ?? '',
      metrics: values.champion,
    },
    dataset: values.dataset,
    params: input.params,
    paramTypes: paramsType(definition.spec),
  });
  const record = (decision?: ApprovalDecision) =>
    registry.recordPromotion({
      model: values.model,
      version: values.version,
      workflowId,
      pipeline,
      step: id,
      state: promotion.state,
      policies: promotion.policies,
      ...(decision === undefined ? {} : { decision }),
    });

  const failed = promotion.policies.filter((outcome) => !outcome.passed);
  if (failed.length > 0) {
    promotion.state = 'policy-failed';
    await record();
    throw ApplicationFailure.create({
      type: 'PROMOTION_POLICY_FAILED',
      message: `${label} was not promoted to '${alias}': ${failed.map(describePolicyOutcome).join('; ')}`,
      nonRetryable: true,
    });
  }

  const approval = spec.approval ?? {};
  let decision: ApprovalDecision;
  if (approval.mode === 'auto') {
    decision = {
      decision: 'approved',
      identity: approval.identity ?? DEFAULT_AUTO_IDENTITY,
      reason: approval.reason ?? `approval: auto in pipeline ${pipeline}`,
      at: new Date().toISOString(),
      via: 'auto',
    };
  } else {
    // The gate opens before the state says so anywhere (status query, MLflow tags): an approval that reads
    // 'awaiting-approval' must find it open, even while the state is still being recorded.
    promotion.state = 'awaiting-approval';
    context.gates.open(id, promotion);
    // Runs started before the patch recorded the waiting state before the search attribute said Pending (a cancel
    // while that record ran left no `Cancelled`); they replay as they ran.
    const recordFirst = !patched(PROMOTION_WAITING_STATE_PATCH);
    if (recordFirst) {
      try {
        await record();
      } catch (error) {
        context.gates.close(id);
        throw error;
      }
    }
    decision = await awaitDecision(context, id, promotion, approval, pipeline, recordFirst ? noop : record);
  }
  promotion.decision = decision;
  promotion.state = decision.decision;
  await record(decision);
  if (decision.decision === 'rejected') {
    throw ApplicationFailure.create({
      type: 'PROMOTION_REJECTED',
      message:
        decision.via === 'timeout'
          ? `${label} was not promoted to '${alias}': ${decision.reason ?? 'the approval timed out'}`
          : `${label} was not promoted to '${alias}': rejected by ${decision.identity}${decision.reason === undefined ? '' : `: ${decision.reason}`}`,
      nonRetryable: true,
    });
  }

  const moved = await registry.movePromotionAlias({
    model: values.model,
    version: values.version,
    alias,
    previousAlias,
    identity: decision.identity,
    ...(decision.reason === undefined ? {} : { reason: decision.reason }),
    workflowId,
    step: id,
  });
  promotion.state = 'promoted';
  if (moved.previousVersion !== undefined) promotion.previousVersion = moved.previousVersion;
  if (wants(definition.spec.notifications, 'model.promoted')) {
    await notify(
      definition.spec.notifications,
      'model.promoted',
      {
        pipeline,
        workflowId,
        step: id,
        model: values.model,
        version: values.version,
        alias,
        previousVersion: moved.previousVersion ?? null,
        decidedBy: decision.identity,
        via: decision.via,
      },
      mlflowOf(context),
    );
  }
  return {
    version: values.version,
    alias,
    previousVersion: moved.previousVersion ?? '',
    decidedBy: decision.identity,
  };
}

/**
 * The manual gate (already open): says it waits (search attribute, memo, recorded state), then waits for an update,
 * up to the timeout; then rejects, or escalates and waits on. A cancel at any point after the gate opened, even while
 * the waiting state is being recorded, leaves the search attribute saying `Cancelled`.
 */
async function awaitDecision(
  context: PromotionContext,
  id: string,
  promotion: PromotionStatus,
  approval: NonNullable<PromoteSpec['approval']>,
  pipeline: string,
  recordWaiting: () => Promise<unknown>,
): Promise<ApprovalDecision> {
  const { gates, workflowId } = context;
  const timeout = approval.timeout ?? DEFAULT_APPROVAL_TIMEOUT;
  const timeoutMs = parseDuration(timeout) ?? 0;
  const since = new Date();
  promotion.awaitingSince = since.toISOString();
  promotion.deadline = new Date(since.getTime() + timeoutMs).toISOString();
  const memo = (): ApprovalMemo => ({
    step: id,
    pipeline,
    model: promotion.model,
    version: promotion.version,
    alias: promotion.alias,
    ...(promotion.championVersion === undefined ? {} : { championVersion: promotion.championVersion }),
    since: promotion.awaitingSince ?? '',
    ...(promotion.deadline === undefined ? {} : { deadline: promotion.deadline }),
    policies: promotion.policies.map((outcome) => ({ name: outcome.name, passed: outcome.passed })),
  });
  upsertSearchAttributes([{ key: APPROVAL_SEARCH_ATTRIBUTE, value: APPROVAL_STATUS_VALUES.pending }]);
  upsertMemo({ [APPROVAL_MEMO_KEY]: memo() });
  let decided: ApprovalDecision | undefined;
  try {
    await recordWaiting();
    // Only for a spec with webhooks for it (no command, no await otherwise); returns once the delivery started.
    if (wants(context.definition.spec.notifications, 'approval.needed')) {
      await notify(
        context.definition.spec.notifications,
        'approval.needed',
        {
          pipeline,
          workflowId,
          step: id,
          model: promotion.model,
          version: promotion.version,
          alias: promotion.alias,
          championVersion: promotion.championVersion ?? null,
          since: promotion.awaitingSince ?? null,
          deadline: promotion.deadline ?? null,
          policies: promotion.policies.map((outcome) => ({ name: outcome.name, passed: outcome.passed })),
          approve: `mloe approve ${workflowId} --reason "..."`,
          reject: `mloe reject ${workflowId} --reason "..."`,
        },
        mlflowOf(context),
      );
    }
    decided = await gates.wait(id, promotion, timeoutMs);
    if (decided === undefined && approval.onTimeout === 'escalate' && approval.webhook !== undefined) {
      promotion.state = 'escalated';
      const escalatedAt = new Date();
      promotion.escalatedAt = escalatedAt.toISOString();
      const escalationMs =
        approval.escalationTimeout === undefined ? undefined : parseDuration(approval.escalationTimeout);
      delete promotion.deadline;
      if (escalationMs !== undefined) promotion.deadline = new Date(escalatedAt.getTime() + escalationMs).toISOString();
      upsertMemo({ [APPROVAL_MEMO_KEY]: memo() });
      await webhook.escalatePromotion({
        url: approval.webhook,
        payload: {
          event: 'mloe.promotion.escalated',
          workflowId,
          pipeline,
          step: id,
          model: promotion.model,
          version: promotion.version,
          alias: promotion.alias,
          ...(promotion.championVersion === undefined ? {} : { championVersion: promotion.championVersion }),
          waitingSince: promotion.awaitingSince,
          waitedFor: timeout,
          policies: promotion.policies,
          approve: `mloe approve ${workflowId} --reason "..."`,
          reject: `mloe reject ${workflowId} --reason "..."`,
        },
      });
      decided = await gates.wait(id, promotion, escalationMs);
    }
  } catch (error) {
    // Cancelled (or the waiting state could not be recorded, or the webhook failed for good): it no longer waits.
    upsertSearchAttributes([{ key: APPROVAL_SEARCH_ATTRIBUTE, value: APPROVAL_STATUS_VALUES.cancelled }]);
    throw error;
  } finally {
    gates.close(id);
    upsertMemo({ [APPROVAL_MEMO_KEY]: undefined });
  }
  const decision: ApprovalDecision = decided ?? {
    decision: 'rejected',
    identity: 'mloe:timeout',
    reason:
      promotion.state === 'escalated'
        ? `no decision within ${timeout}, nor within ${approval.escalationTimeout ?? ''} of escalating`
        : `no decision within ${timeout} (onTimeout: reject)`,
    at: new Date().toISOString(),
    via: 'timeout',
  };
  upsertSearchAttributes([
    {
      key: APPROVAL_SEARCH_ATTRIBUTE,
      value: decision.decision === 'approved' ? APPROVAL_STATUS_VALUES.approved : APPROVAL_STATUS_VALUES.rejected,
    },
  ]);
  return decision;
}

/** The values bound to a promote step, checked (the spec's types were checked; these are the run's values). */
function promoteInputs(id: string, bound: JsonValue): PromoteInputs {
  const fail = (message: string): never => {
    throw ApplicationFailure.create({ type: 'CONFIG_INVALID', message: `step ${id}: ${message}`, nonRetryable: true });
  };
  const record = bound !== null && typeof bound === 'object' && !Array.isArray(bound) ? bound : {};
  const model = record.model;
  if (typeof model !== 'string' || model === '') return fail('with.model must name the registered model');
  const rawVersion = record.version;
  const version = typeof rawVersion === 'number' ? String(rawVersion) : rawVersion;
  if (typeof version !== 'string' || !/^\d+$/.test(version)) {
    return fail(`with.version must be a model version number, got ${JSON.stringify(rawVersion ?? null)}`);
  }
  const numbers = (name: string, required: boolean): Record<string, number> => {
    const value = record[name];
    if (value === undefined || value === null) return required ? fail(`with.${name} is required`) : {};
    if (typeof value !== 'object' || Array.isArray(value)) return fail(`with.${name} must be a map of metrics`);
    const result: Record<string, number> = {};
    for (const [key, item] of Object.entries(value)) if (typeof item === 'number') result[key] = item;
    return result;
  };
  const dataset = record.dataset;
  return {
    model,
    version,
    candidate: numbers('candidate', true),
    champion: numbers('champion', false),
    dataset: dataset !== null && typeof dataset === 'object' && !Array.isArray(dataset) ? dataset : {},
  };
}

/** The run's MLflow page, for notifications, when it is tracked. */
function mlflowOf(context: PromotionContext): { mlflowRun?: string } {
  const link = context.status.status.mlflow;
  return link === undefined ? {} : { mlflowRun: link.url };
}
