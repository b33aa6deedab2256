/**
 * Promote steps (`promote:`, see docs/promotion.md): only the fields a promotion uses, policies with unique names
 * whose rules type-check as booleans over `candidate`, `champion`, `dataset` and `params`, an approval gate whose
 * settings fit its mode, aliases MLflow accepts, and no register step that moves the promoted alias itself (which
 * would put a model in production before its policies and approval).
 */
import { PROMOTE_PORTS, policyRuleProblem, policyVariables } from '../../promotion/policies';
import { DEFAULT_PREVIOUS_ALIAS, DEFAULT_PROMOTION_ALIAS } from '../../promotion/types';
import { celIssueCode } from '../issues';
import { parseOutputReference } from '../output-reference';
import type { PromoteSpec, StepSpec } from '../schema';
import type { PathSegment } from '../source-map';
import type { ValidationState } from './state';

/** Step fields a promote step does not take: its activities have their own options and its gate its own timeout. */
const NOT_ON_PROMOTE = [
  'inputs',
  'outputs',
  'foreach',
  'maxParallel',
  'cache',
  'resources',
  'retry',
  'timeout',
  'heartbeatTimeout',
] as const;

/** Checks one promote step and records its ports. */
export function checkPromoteStep(
  state: ValidationState,
  id: string,
  step: StepSpec,
  promote: PromoteSpec,
  path: PathSegment[],
): void {
  for (const field of NOT_ON_PROMOTE) {
    if (step[field] === undefined) continue;
    state.report({
      code: 'INVALID_STEP',
      message: `a promote step does not take '${field}'`,
      hint:
        field === 'timeout'
          ? "remove it; the approval gate's wait is 'promote.approval.timeout'"
          : `remove '${field}' (a promote step takes with, needs, when, continueOnFailure and promote)`,
      path: [...path, field],
      at: 'key',
    });
  }
  state.ports.set(id, { inputs: PROMOTE_PORTS.inputs, outputs: PROMOTE_PORTS.outputs });
  const promotePath = [...path, 'promote'];
  checkPolicies(state, promote, promotePath);
  checkApproval(state, promote, promotePath);
  checkAliases(state, promote, promotePath);
}

function checkPolicies(state: ValidationState, promote: PromoteSpec, path: PathSegment[]): void {
  const variables = policyVariables(state.paramTypes);
  const seen = new Set<string>();
  (promote.policies ?? []).forEach((policy, index) => {
    const policyPath = [...path, 'policies', index];
    if (seen.has(policy.name)) {
      state.report({
        code: 'DUPLICATE_ID',
        message: `policy '${policy.name}' is declared twice`,
        hint: 'give each policy its own name: outcomes are recorded by name',
        path: [...policyPath, 'name'],
      });
    }
    seen.add(policy.name);
    const problem = policyRuleProblem(policy.rule, variables);
    if (problem === undefined) return;
    state.report({
      code: celIssueCode(problem.kind),
      message: `policy '${policy.name}': ${problem.message}`,
      hint:
        'a rule is a CEL condition over candidate.{model, version, metrics}, champion.{exists, model, version, ' +
        "metrics}, dataset and params, e.g. 'candidate.metrics.accuracy >= 0.9'",
      path: [...policyPath, 'rule'],
    });
  });
}

function checkApproval(state: ValidationState, promote: PromoteSpec, path: PathSegment[]): void {
  const approval = promote.approval;
  if (approval === undefined) return;
  const approvalPath = [...path, 'approval'];
  const auto = approval.mode === 'auto';
  const manualOnly = ['timeout', 'onTimeout', 'webhook', 'escalationTimeout'] as const;
  const autoOnly = ['identity', 'reason'] as const;
  for (const field of auto ? manualOnly : autoOnly) {
    if (approval[field] === undefined) continue;
    state.report({
      code: 'INVALID_VALUE',
      message: auto
        ? `'${field}' applies to a manual approval gate, and this one is 'mode: auto'`
        : `'${field}' is what an automatic approval is recorded with, and this gate is manual (a person's identity and reason come with their approval)`,
      hint: auto ? `remove '${field}', or set 'mode: manual'` : `remove '${field}', or set 'mode: auto'`,
      path: [...approvalPath, field],
      at: 'key',
    });
  }
  if (auto) return;
  const escalate = approval.onTimeout === 'escalate';
  if (escalate && approval.webhook === undefined) {
    state.report({
      code: 'MISSING_FIELD',
      message: "'onTimeout: escalate' calls a webhook, and none is given",
      hint: "add 'webhook: https://...' (a JSON POST on timeout), or use 'onTimeout: reject'",
      path: [...approvalPath, 'onTimeout'],
    });
  }
  for (const field of ['webhook', 'escalationTimeout'] as const) {
    if (escalate || approval[field] === undefined) continue;
    state.report({
      code: 'INVALID_VALUE',
      message: `'${field}' is used only with 'onTimeout: escalate'`,
      hint: `add 'onTimeout: escalate', or remove '${field}'`,
      path: [...approvalPath, field],
      at: 'key',
    });
  }
}

function checkAliases(state: ValidationState, promote: PromoteSpec, path: PathSegment[]): void {
  const alias = promote.alias ?? DEFAULT_PROMOTION_ALIAS;
  const previous = promote.previousAlias ?? DEFAULT_PREVIOUS_ALIAS;
  for (const field of ['alias', 'previousAlias'] as const) {
    const value = promote[field];
    if (value === undefined || !(value === 'latest' || /^v\d+$/.test(value))) continue;
    state.report({
      code: 'INVALID_VALUE',
      message: `'${value}' is an alias name MLflow reserves`,
      hint: "choose another name, e.g. 'champion' or 'previous'",
      path: [...path, field],
    });
  }
  if (alias === previous) {
    state.report({
      code: 'PROMOTION_CONFLICT',
      message: `alias and previousAlias are both '${alias}'`,
      hint: "give the replaced version an alias of its own, e.g. 'previousAlias: previous'",
      path: [...path, promote.previousAlias === undefined ? 'alias' : 'previousAlias'],
    });
  }
}

/**
 * A register step whose version a promote step promotes must not set the alias (or previous alias) the promotion
 * moves: the alias would then reach the version before its policies and approval, and stay there if they fail.
 * Also, the model the promote step names must be the one the register step registered, when both are literals.
 */
export function checkPromotionConflicts(state: ValidationState): void {
  for (const [id, step] of Object.entries(state.steps)) {
    if (step.promote === undefined) continue;
    const source = step.with?.version === undefined ? undefined : parseOutputReference(step.with.version);
    const register = source === undefined ? undefined : state.steps[source.step];
    if (source === undefined || register?.uses === undefined || !/^register(@|$)/.test(register.uses)) continue;
    const moved = [step.promote.alias ?? DEFAULT_PROMOTION_ALIAS, step.promote.previousAlias ?? DEFAULT_PREVIOUS_ALIAS];
    const alias = register.with?.alias;
    if (alias !== undefined && (typeof alias !== 'string' || alias.includes('${{') || moved.includes(alias))) {
      state.report({
        code: 'PROMOTION_CONFLICT',
        message: `step '${source.step}' sets alias ${JSON.stringify(alias)} on the version that step '${id}' promotes, so the alias would move before the policies and the approval`,
        hint: `remove 'alias' from step '${source.step}': step '${id}' moves '${moved[0] ?? ''}' (and '${moved[1] ?? ''}') once they pass`,
        path: ['steps', source.step, 'with', 'alias'],
      });
    }
    const model = step.with?.model;
    const name = register.with?.name;
    if (typeof model === 'string' && typeof name === 'string' && !model.includes('${{') && !name.includes('${{')) {
      if (model !== name) {
        state.report({
          code: 'PROMOTION_CONFLICT',
          message: `step '${id}' promotes model '${model}', and the version it names was registered as '${name}' by step '${source.step}'`,
          hint: `write 'model: ${name}'`,
          path: ['steps', id, 'with', 'model'],
        });
      }
    }
  }
}
