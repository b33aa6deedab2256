/**
 * The pipeline spec: schema and types, parsing with positions, validation, the step graph and registries. Pure
 * (no I/O, no clock): importable from workflows, activities and clients alike.
 */
export * from './schema';
export { parseSpecText, type ParseOptions, type ParsedSpecText } from './parse';
export { SourceMap, type PathSegment, type SourcePosition } from './source-map';
export {
  SpecInvalidError,
  finalizeIssues,
  formatIssue,
  formatPath,
  sortIssues,
  type IssueDraft,
  type SpecIssue,
  type SpecIssueCode,
} from './issues';
export {
  validatePipeline,
  type InvalidPipeline,
  type ValidPipeline,
  type ValidateOptions,
  type ValidationResult,
} from './validate';
export { loadPipeline, loadPipelineOrThrow, type LoadOptions } from './load';
export {
  loadPipelineTree,
  type LoadTreeOptions,
  type PipelineFiles,
  type PipelineTreeResult,
  type PipelineTreeRoot,
  type ValidPipelineTree,
} from './load-tree';
export {
  directoryOf,
  paramInputPort,
  pipelinePorts,
  resolvePipelinePath,
  type PipelineLookup,
  type PipelinePathResult,
  type PipelineResolution,
} from './sub-pipelines';
export {
  buildGraph,
  downstreamOf,
  executionLevels,
  findCycles,
  readySteps,
  topologicalOrder,
  upstreamOf,
  type StepGraph,
} from './dag';
export {
  compareVersions,
  createStepRegistry,
  parseUses,
  type ResolvedStep,
  type StepDescriptor,
  type StepRegistry,
} from './registry';
export { isParamRequired, paramValueFromText, paramValueProblem, resolveParamValues } from './params';
export {
  outputReferenceOfAst,
  outputReferenceText,
  parseOutputReference,
  type OutputReference,
} from './output-reference';
export {
  paramsType,
  pipelineOutputBindings,
  pipelineOutputVariables,
  stepBindings,
  stepPorts,
  stepVariables,
  type ExpressionField,
  type ScopeContext,
  type ScopeValues,
  type StepPorts,
} from './scope';
export { celTypeOf, celTypeOfParam, isArtifactType, isAssignable, isPortAssignable, type PortType } from './types';
export { CPU_HINT, DURATION_HINT, MEMORY_HINT, parseCpu, parseDuration, parseMemory } from './units';
export { stepPlacement, stepTaskQueue, type StepPlacement } from './executors';
