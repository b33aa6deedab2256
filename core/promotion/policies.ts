/**
 * Promotion policies: the ports of a promote step, the variables its rules see, and their evaluation. Pure and
 * deterministic (CEL has no clock, randomness or I/O), so the workflow evaluates them and a replay gets the same
 * outcomes; the validator type-checks the rules against the same variables before anything runs.
 *
 * A rule sees:
 * - `candidate`: `{ model, version, metrics }`, the version being promoted and its metrics (`with.candidate`);
 * - `champion`: `{ exists, model, version, metrics }`, the version the alias points at now (`exists` is false and
 *   `version` empty when there is none) and its metrics (`with.champion`, empty when not given);
 * - `dataset`: `with.dataset`, any mapping (row counts, digests, ...), empty when not given;
 * - `params`: the run's parameters.
 * Numbers in `metrics` and `dataset` are doubles, so `candidate.metrics.accuracy - 0.01` and `dataset.rows >= 300`
 * both work.
 */
import { checkCel, evaluateCel, findReferences, parseCel, type CelType, type CelVariables } from '../expressions/cel';
import type { InputPort, JsonValue, OutputPort, PolicySpec } from '../spec/schema';
import type { PolicyOutcome } from './types';

/** The inputs and outputs of a promote step. */
export const PROMOTE_PORTS: {
  readonly inputs: Readonly<Record<string, InputPort>>;
  readonly outputs: Readonly<Record<string, OutputPort>>;
} = {
  inputs: {
    model: { type: 'string', description: 'The registered model (as register@1 named it).' },
    version: { type: 'string', description: "The version to promote, e.g. '${{ steps.register.outputs.version }}'." },
    candidate: { type: 'metrics', description: "The candidate's metrics." },
    champion: { type: 'metrics', required: false, description: "The current champion's metrics on the same data." },
    dataset: { type: 'object', required: false, description: 'Facts about the data, e.g. { rows: 333 }.' },
  },
  outputs: {
    version: { type: 'string', description: 'The version the alias now points at.' },
    alias: { type: 'string', description: 'The alias moved.' },
    previousVersion: { type: 'string', description: 'The version the previous alias now points at ("" if none).' },
    decidedBy: { type: 'string', description: 'Who approved the promotion.' },
  },
};

/** The variables of a policy rule, given the run's parameter types. */
export function policyVariables(paramTypes: Readonly<Record<string, CelType>>): CelVariables {
  return {
    candidate: { model: 'string', version: 'string', metrics: 'map<string, double>' },
    champion: { exists: 'bool', model: 'string', version: 'string', metrics: 'map<string, double>' },
    dataset: 'map<string, dyn>',
    params: paramTypes,
  };
}

/** The roots a rule may read. */
const POLICY_ROOTS: ReadonlySet<string> = new Set(['candidate', 'champion', 'dataset', 'params']);

/** Why a rule cannot be used (syntax, unknown variable, wrong type, not a boolean), or undefined. */
export function policyRuleProblem(
  rule: string,
  variables: CelVariables,
): { kind: 'syntax' | 'type' | 'unknown-variable'; message: string } | undefined {
  if (/^\s*\$\{\{/.test(rule)) {
    return { kind: 'syntax', message: 'a rule is a bare CEL expression; remove the ${{ }} around it' };
  }
  const checked = checkCel(rule, variables);
  if (!checked.ok) return { kind: checked.problem.kind, message: checked.problem.message };
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    return { kind: 'type', message: `the rule yields ${checked.type}, and a policy needs a boolean` };
  }
  return undefined;
}

/** The values a promotion's policies are evaluated against. */
export interface PolicyContext {
  candidate: { model: string; version: string; metrics: Record<string, number> };
  champion: { exists: boolean; model: string; version: string; metrics: Record<string, number> };
  dataset: Record<string, JsonValue>;
  params: Record<string, JsonValue>;
  /** The declared parameter types (how `params` converts to CEL). */
  paramTypes: Readonly<Record<string, CelType>>;
}

/** Evaluates every policy, in order; a rule that fails to evaluate (a missing metric, say) counts as failed. */
export function evaluatePolicies(policies: readonly PolicySpec[], context: PolicyContext): PolicyOutcome[] {
  const variables = policyVariables(context.paramTypes);
  const values: Record<string, JsonValue> = {
    candidate: context.candidate,
    champion: context.champion,
    dataset: context.dataset,
    params: context.params,
  };
  const bindings = Object.fromEntries(
    Object.entries(values).map(([name, value]) => [name, { type: variables[name] ?? 'dyn', value }]),
  );
  return policies.map((policy) => {
    const read = readValues(policy.rule, values);
    try {
      const result = evaluateCel(policy.rule, bindings);
      if (typeof result !== 'boolean') {
        return {
          ...base(policy, read),
          passed: false,
          error: `the rule yielded ${JSON.stringify(result)}, not a boolean`,
        };
      }
      return { ...base(policy, read), passed: result };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { ...base(policy, read), passed: false, error: message };
    }
  });
}

function base(policy: PolicySpec, values: Record<string, JsonValue>): Omit<PolicyOutcome, 'passed'> {
  return { name: policy.name, rule: policy.rule, values };
}

/** The field paths a rule reads, each with its value (`null` when the path leads nowhere). */
function readValues(rule: string, values: Readonly<Record<string, JsonValue>>): Record<string, JsonValue> {
  const parsed = parseCel(rule);
  if (!parsed.ok) return {};
  const read: Record<string, JsonValue> = {};
  for (const reference of findReferences(parsed.ast, POLICY_ROOTS)) {
    const path = [reference.root, ...reference.fields.map((field) => field.name)];
    let value: JsonValue | undefined = values[reference.root];
    for (const field of reference.fields) {
      value =
        value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, field.name)
          ? value[field.name]
          : undefined;
    }
    read[path.join('.')] = value ?? null;
  }
  return read;
}

/** One outcome in words: `beats-champion (candidate.metrics.r2 >= champion.metrics.r2) with candidate.metrics.r2 = 0.7`. */
export function describePolicyOutcome(outcome: PolicyOutcome): string {
  const values = Object.entries(outcome.values)
    .map(([path, value]) => `${path} = ${JSON.stringify(value)}`)
    .join(', ');
  return (
    `policy '${outcome.name}' (${outcome.rule}) ${outcome.passed ? 'passed' : 'failed'}` +
    (values === '' ? '' : ` with ${values}`) +
    (outcome.error === undefined ? '' : `: ${outcome.error}`)
  );
}
