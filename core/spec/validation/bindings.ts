/**
 * Bindings to typed ports: each step's `with` values against its inputs (literals by their type, expressions by
 * their CEL type, artifacts only by reference), required inputs present, a sub-pipeline's parameter values within
 * their declarations, and the expressions of `foreach`, `when` and `run`.
 */
import { hasTemplate, parseTemplate } from '../../expressions/template';
import { upstreamOf } from '../dag';
import { suggest } from '../issues';
import { paramValueProblem } from '../params';
import type { JsonValue, OutputPort, StepSpec } from '../schema';
import { foreachItemType, stepVariables, type ExpressionField, type ScopeContext } from '../scope';
import type { PathSegment } from '../source-map';
import {
  describeCelType,
  describePortType,
  isArtifactType,
  isAssignable,
  isPortAssignable,
  literalMismatch,
  withArticle,
  type PortType,
} from '../types';
import { outputReferenceText } from '../output-reference';
import {
  checkCondition,
  checkExpression,
  checkForeach,
  checkInterpolation,
  checkTemplates,
  startOf,
} from './expressions';
import type { ExpressionInfo, ExpressionScope } from './expression-scope';
import { describeParam } from './params';
import type { ValidationState } from './state';

/** Checks one step's bindings and expressions against its ports and the variables in its scope. */
export function checkStepBindings(state: ValidationState, id: string, step: StepSpec, context: ScopeContext): void {
  const path: PathSegment[] = ['steps', id];
  const ports = state.ports.get(id);
  const upstream = upstreamOf(context.graph, id);
  const itemType = step.foreach === undefined ? undefined : foreachItemType(context, id, state.paramTypes);
  const scopeFor = (field: ExpressionField): ExpressionScope => ({
    stepId: id,
    field,
    variablesFor: (steps) =>
      stepVariables(context, id, field, {
        params: state.paramTypes,
        ...(steps === undefined ? {} : { steps }),
        ...(itemType === undefined ? {} : { item: itemType }),
      }),
    hasItem: field !== 'foreach' && itemType !== undefined,
    upstream,
    ...(field === 'run' ? { inputs: step.inputs ?? {} } : {}),
  });

  if (step.foreach !== undefined) checkForeach(state, step.foreach, [...path, 'foreach'], scopeFor('foreach'));
  if (typeof step.when === 'string') checkCondition(state, step.when, [...path, 'when'], scopeFor('when'));

  const withScope = scopeFor('with');
  if (ports !== undefined) {
    for (const [name, value] of Object.entries(step.with ?? {})) {
      const port = ports.inputs[name];
      const sub = step.pipeline === undefined ? undefined : state.subPipelines.get(step.pipeline);
      if (port === undefined) {
        const names = Object.keys(ports.inputs);
        const what = sub === undefined ? 'input' : 'parameter';
        state.report({
          code: 'UNKNOWN_INPUT',
          message:
            sub === undefined
              ? `step '${id}' has no input '${name}'`
              : `pipeline ${step.pipeline ?? ''} (${sub.metadata.name}) has no parameter '${name}'`,
          hint: suggest(
            name,
            names,
            names.length === 0 ? `this step takes no ${what}s` : `${what}s: ${names.join(', ')}`,
          ),
          path: [...path, 'with', name],
          at: 'key',
        });
        checkTemplates(state, value, [...path, 'with', name], withScope);
        continue;
      }
      const what = sub === undefined ? `input '${name}' of step '${id}'` : `parameter '${name}' of ${step.pipeline}`;
      const before = state.drafts.length;
      checkBinding(state, value, port, [...path, 'with', name], withScope, what, name);
      const param = sub?.params?.[name];
      if (param !== undefined && state.drafts.length === before && !containsTemplate(value)) {
        // A literal for a sub-pipeline's parameter: enum values and bounds too, as for a run's --param.
        const problem = paramValueProblem(param, value);
        if (problem !== undefined) {
          state.report({
            code: 'PARAM_VALUE_INVALID',
            message: `${what}: ${problem}`,
            hint: `pass ${describeParam(param)}`,
            path: [...path, 'with', name],
          });
        }
      }
    }
    for (const [name, port] of Object.entries(ports.inputs)) {
      const required = port.required ?? port.default === undefined;
      if (required && step.with?.[name] === undefined) {
        state.report({
          code: 'MISSING_INPUT',
          message:
            step.pipeline === undefined
              ? `step '${id}' needs a value for its input '${name}' (${describePortType(port)})`
              : `step '${id}' needs a value for the required parameter '${name}' (${describePortType(port)}) of ${step.pipeline}`,
          hint: `add it under with:, e.g. '${name}: ${exampleBinding(port)}'`,
          path: step.with === undefined ? path : [...path, 'with'],
          at: 'key',
        });
      }
    }
  } else {
    // The step type is unknown (reported): still check the expressions in its values.
    for (const [name, value] of Object.entries(step.with ?? {})) {
      checkTemplates(state, value, [...path, 'with', name], withScope);
    }
  }

  if (step.run !== undefined) {
    const runScope = scopeFor('run');
    const runPath = [...path, 'run'];
    step.run.command.forEach((argument, index) => {
      if (typeof argument === 'string') checkInterpolation(state, argument, [...runPath, 'command', index], runScope);
    });
    for (const [name, value] of Object.entries(step.run.env ?? {})) {
      if (typeof value === 'string') checkInterpolation(state, value, [...runPath, 'env', name], runScope);
    }
    if (step.run.image !== undefined) checkInterpolation(state, step.run.image, [...runPath, 'image'], runScope);
    if (step.run.workingDir !== undefined) {
      checkInterpolation(state, step.run.workingDir, [...runPath, 'workingDir'], runScope);
    }
  }
}

/** Checks a value bound to a typed port: literals by their type, expressions by their CEL type. */
export function checkBinding(
  state: ValidationState,
  value: JsonValue,
  port: PortType,
  path: PathSegment[],
  scope: ExpressionScope,
  what: string,
  name?: string,
): void {
  if (typeof value === 'string' && hasTemplate(value)) {
    const parsed = parseTemplate(value);
    if (!parsed.ok) {
      state.report({
        code: 'EXPRESSION_SYNTAX',
        message: parsed.message,
        hint: parsed.hint,
        path,
        index: parsed.index,
      });
      return;
    }
    const [expression] = parsed.expressions;
    if (!parsed.whole || expression === undefined) {
      const checked = parsed.expressions.map((e) => checkExpression(state, e.source, path, e.sourceOffset, scope));
      const ok = checked.every((info) => info !== undefined);
      if (ok && !isAssignable('string', port)) {
        state.report({
          code: 'TYPE_MISMATCH',
          message: `${what} is ${describePortType(port)}, but text with \${{ }} inside is a string`,
          hint: 'write the whole value as one ${{ }} expression',
          path,
        });
      }
      return;
    }
    const info = checkExpression(state, expression.source, path, expression.sourceOffset, scope);
    if (info === undefined) return;
    checkExpressionType(state, info, port, path, startOf(expression.source, expression.sourceOffset), what, name);
    return;
  }
  if (Array.isArray(value) && port.type === 'list') {
    const items: PortType = { type: port.items ?? 'any' };
    value.forEach((item, index) => checkBinding(state, item, items, [...path, index], scope, `an item of ${what}`));
    return;
  }
  const problem = literalMismatch(value, port);
  if (problem !== undefined) {
    state.report({
      code: 'TYPE_MISMATCH',
      message: `${what}: ${problem}`,
      hint: isArtifactType(port.type)
        ? `bind an output of type ${port.type}: ${exampleOutput(state, port, [...scope.upstream], name)}`
        : `give a value of type ${describePortType(port)}`,
      path,
    });
    return;
  }
  checkTemplates(state, value, path, scope);
}

/**
 * An example binding of the wanted type for hints: an output of one of `candidates` (steps before this one),
 * preferring an output with the input's own name; a placeholder when there is none.
 */
function exampleOutput(
  state: ValidationState,
  port: PortType,
  candidates: readonly string[],
  name: string | undefined,
): string {
  const matches: string[] = [];
  for (const id of candidates) {
    if (state.steps[id]?.foreach !== undefined) continue;
    for (const [output, produced] of Object.entries(state.ports.get(id)?.outputs ?? {})) {
      if (!isPortAssignable(produced, port)) continue;
      const example = outputReferenceText({ step: id, output });
      if (output === name) return example;
      matches.push(example);
    }
  }
  return matches[0] ?? '${{ steps.<id>.outputs.<name> }}';
}

/** Checks an expression's type against the port it feeds. Artifacts must be passed by reference. */
function checkExpressionType(
  state: ValidationState,
  info: ExpressionInfo,
  port: PortType,
  path: PathSegment[],
  index: number,
  what: string,
  name: string | undefined,
): void {
  const { output } = info;
  if (output !== undefined) {
    const produced: PortType = output.foreach ? { type: 'list', items: toItemType(output.port) } : output.port;
    if (isPortAssignable(produced, port)) return;
    // An artifact output read into a string input is fine when CEL says so (e.g. never); report otherwise.
    state.report({
      code: 'TYPE_MISMATCH',
      message: `${what} is ${describePortType(port)}, but steps.${output.step}.outputs.${output.name} is ${describePortType(produced)}`,
      hint: `bind an output of type ${describePortType(port)}, e.g. ${exampleOutput(state, port, [output.step, ...[...state.stepIds].filter((id) => id !== output.step)], name)}`,
      path,
      index,
    });
    return;
  }
  if (isArtifactType(port.type) && port.type !== 'metrics' && !info.type.startsWith('mloe.') && info.type !== 'dyn') {
    state.report({
      code: 'TYPE_MISMATCH',
      message: `${what} is a ${port.type} artifact, but the expression gives ${describeCelType(info.type)}`,
      hint: `pass the artifact by reference: \${{ steps.<id>.outputs.<name> }} of an output of type ${port.type}`,
      path,
      index,
    });
    return;
  }
  if (!isAssignable(info.type, port)) {
    state.report({
      code: 'TYPE_MISMATCH',
      message: `${what} is ${describePortType(port)}, but the expression gives ${describeCelType(info.type)}`,
      hint:
        port.type === 'number' || port.type === 'integer'
          ? `give ${withArticle(port.type)}; convert with ${port.type === 'integer' ? 'int(...)' : 'double(...)'} if needed`
          : `give a value of type ${describePortType(port)}`,
      path,
      index,
    });
  }
}

/** Whether a value holds a `${{ }}` template anywhere. */
function containsTemplate(value: JsonValue): boolean {
  if (typeof value === 'string') return hasTemplate(value);
  if (Array.isArray(value)) return value.some(containsTemplate);
  if (value !== null && typeof value === 'object') return Object.values(value).some(containsTemplate);
  return false;
}

/** The list element type of an output port (outputs of foreach steps become lists of it). */
function toItemType(port: OutputPort): PortType['items'] {
  return port.type === 'list' ? undefined : port.type;
}

/** An example value for a missing input, for hints. */
function exampleBinding(port: PortType): string {
  switch (port.type) {
    case 'string':
      return 'text';
    case 'number':
      return '0.5';
    case 'integer':
      return '10';
    case 'boolean':
      return 'true';
    case 'list':
      return '[a, b]';
    case 'object':
      return '{ key: value }';
    default:
      return '${{ steps.<id>.outputs.<name> }}';
  }
}
