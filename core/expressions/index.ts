/**
 * `${{ }}` expressions: template parsing, CEL checking and evaluation. Pure; safe in the workflow sandbox.
 */
export {
  ARTIFACT_CEL_TYPES,
  checkCel,
  evaluateCel,
  findReferences,
  fromCel,
  parseCel,
  referenceOf,
  toCel,
  typeArguments,
  typeBase,
} from './cel';
export type { CelBinding, CelProblem, CelReference, CelType, CelVariables } from './cel';
export { conditionSource, evaluateCondition, evaluateTemplate, interpolate, resolveTemplates } from './evaluate';
export type { ExpressionBindings } from './evaluate';
export { hasTemplate, parseTemplate } from './template';
export type { ParsedTemplate, TemplateExpression } from './template';
