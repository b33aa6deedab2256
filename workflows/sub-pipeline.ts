/**
 * `pipeline:` steps: a sub-pipeline run as a child `runPipeline` workflow with id `<parent id>-<step id>`, so the
 * Temporal Web UI shows it under its parent with a readable name. The child gets the parent's settings (artifact
 * store, working directory, `noCache`, step descriptors, ...) with its own spec and parameters; the step's outputs
 * are the outputs the sub-pipeline declares, read from the child's final status. Cancelling the parent (or a
 * fail-fast failure of a sibling step) cancels the child, which cancels its own steps; a parent that is terminated
 * or times out asks the child to cancel too (`ParentClosePolicy.REQUEST_CANCEL`). A failed child fails the step
 * with the child's error.
 *
 * The workflow never reads files: the client resolved and validated every sub-pipeline and put them in the run's
 * input (`pipelines`, by path relative to the root spec's directory, with `specPath` saying where this spec is).
 */
import { ParentClosePolicy, startChild, workflowInfo } from '@temporalio/workflow';

import { MloeError } from '../core/errors';
import { resolveTemplates } from '../core/expressions';
import {
  buildGraph,
  isParamRequired,
  paramValueProblem,
  parseOutputReference,
  pipelineOutputBindings,
  resolveParamValues,
  resolvePipelinePath,
  stepPorts,
  type JsonValue,
  type PipelineLookup,
  type PipelineSpec,
  type ScopeContext,
  type StepRegistry,
  type StepSpec,
} from '../core/spec';
import {
  RUN_PIPELINE_WORKFLOW_TYPE,
  type ChildWorkflowRef,
  type PipelineRunStatus,
  type RunPipelineInput,
  type RunPipelineWorkflow,
  type StepRunStatus,
  type SubPipeline,
  type SubPipelineFields,
} from './types';

/** Looks up the spec a `pipeline:` path of this run's spec names. */
export function subPipelineLookup(input: SubPipelineFields): PipelineLookup {
  return (reference) => findSubPipeline(input, reference)?.spec;
}

function findSubPipeline(input: SubPipelineFields, reference: string): (SubPipeline & { path: string }) | undefined {
  const resolved = resolvePipelinePath(input.specPath ?? '', reference);
  if (!resolved.ok) return undefined;
  const found = input.pipelines?.[resolved.path];
  return found === undefined ? undefined : { ...found, path: resolved.path };
}

/** What {@link runSubPipeline} needs from the interpreter. */
export interface SubPipelineStep {
  /** The parent run's input: the child inherits every setting but the spec, its hash and its parameters. */
  parent: RunPipelineInput;
  stepId: string;
  /** The step; its `pipeline:` names the sub-pipeline. */
  step: StepSpec;
  /** The step's `with` resolved (parameter defaults applied): the sub-pipeline's parameter values. */
  params: Record<string, JsonValue>;
  /** The step's status entry: the child's ids, attempts and outputs are recorded in it. */
  entry: StepRunStatus & { childWorkflow?: ChildWorkflowRef };
  /** The registered steps (for the ports of the child's steps). */
  registry: StepRegistry;
}

/** The outputs of a `pipeline` step: stored values (artifact references), and the metrics expressions read. */
export interface SubPipelineResult {
  outputs: Record<string, JsonValue>;
  /** The numbers of the sub-pipeline's `metrics` output, when it declares one. */
  metrics?: JsonValue;
}

/**
 * Runs a `pipeline` step: checks the parameter values, starts the child `runPipeline`, records its ids in the
 * status entry, waits for it and returns its declared outputs. Throws what the child failed with (the caller's
 * cancellation scope cancels the child).
 */
export async function runSubPipeline(request: SubPipelineStep): Promise<SubPipelineResult> {
  const { parent, stepId, step, entry } = request;
  const reference = step.pipeline ?? '';
  const sub = findSubPipeline(parent, reference);
  if (sub === undefined) {
    throw new MloeError('SPEC_INVALID', `step ${stepId}: pipeline '${reference}' is not in the run's input`);
  }
  const params = childParams(sub.spec, reference, request.params);
  const info = workflowInfo();
  // A rerun's reuse is of the parent's steps: the child runs its sub-pipeline whole.
  const { rerun: _rerun, ...inherited } = parent;
  const child: RunPipelineInput = {
    ...inherited,
    spec: sub.spec,
    specHash: sub.specHash,
    params,
    specPath: sub.path,
    ...(parent.metadata === undefined
      ? {}
      : { metadata: { ...parent.metadata, specFile: subSpecFile(parent, sub.path) } }),
  };
  const handle = await startChild<RunPipelineWorkflow>(RUN_PIPELINE_WORKFLOW_TYPE, {
    workflowId: childWorkflowId(info.workflowId, stepId),
    args: [child],
    parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    staticSummary: `pipeline ${sub.spec.metadata.name} (step ${stepId} of ${info.workflowId})`,
    memo: {
      pipeline: sub.spec.metadata.name,
      specHash: sub.specHash,
      params,
      parent: info.workflowId,
      step: stepId,
    },
  });
  entry.childWorkflow = { workflowId: handle.workflowId, firstExecutionRunId: handle.firstExecutionRunId };
  entry.attempts = 1;
  const status = await handle.result();
  const result = childOutputs(sub.spec, status, request.registry, subPipelineLookup(child));
  entry.outputs = result.outputs;
  if (isMetrics(result.metrics)) entry.metrics = result.metrics;
  return result;
}

/** The child's parameter values: checked against its declarations (expressions typed `dyn` are checked only now). */
function childParams(
  spec: PipelineSpec,
  reference: string,
  supplied: Readonly<Record<string, JsonValue>>,
): Record<string, JsonValue> {
  const declared = spec.params ?? {};
  const problems: string[] = [];
  for (const [name, param] of Object.entries(declared)) {
    if (!Object.prototype.hasOwnProperty.call(supplied, name)) {
      if (isParamRequired(param)) problems.push(`parameter '${name}' is required and has no value`);
      continue;
    }
    const problem = paramValueProblem(param, supplied[name]);
    if (problem !== undefined) problems.push(`parameter '${name}': ${problem}`);
  }
  if (problems.length > 0) {
    throw new MloeError('EXPRESSION_FAILED', `pipeline ${reference}: ${problems.join('; ')}`);
  }
  return resolveParamValues(
    declared,
    Object.fromEntries(Object.entries(supplied).filter(([name]) => declared[name] !== undefined)),
  );
}

/**
 * The declared outputs of a finished sub-pipeline, from its final status: each `value` evaluated over its steps'
 * outputs (a `metrics` output reads as its numbers), like a step's `with`.
 */
export function childOutputs(
  spec: PipelineSpec,
  status: Pick<PipelineRunStatus, 'params' | 'steps'>,
  registry: StepRegistry,
  pipelines: PipelineLookup,
): SubPipelineResult {
  const graph = buildGraph(spec.steps);
  const context: ScopeContext = { spec, registry, graph, pipelines };
  const stored: Record<string, Record<string, JsonValue>> = {};
  const visible: Record<string, Record<string, JsonValue>> = {};
  for (const step of status.steps) {
    const outputs = step.outputs;
    const stepSpec = spec.steps[step.id];
    if (step.state !== 'completed' || outputs === undefined || stepSpec === undefined) continue;
    stored[step.id] = outputs;
    const seen: Record<string, JsonValue> = { ...outputs };
    for (const [name, port] of Object.entries(stepPorts(stepSpec, registry, pipelines)?.outputs ?? {})) {
      if (port.type === 'metrics' && step.metrics !== undefined) seen[name] = step.metrics;
    }
    visible[step.id] = seen;
  }
  const bindings = pipelineOutputBindings(context, { params: status.params, outputs: visible });
  const outputs: Record<string, JsonValue> = {};
  let metrics: JsonValue | undefined;
  for (const [name, output] of Object.entries(spec.outputs ?? {})) {
    // An output reference passes the stored value (an artifact stays a reference); anything else is evaluated.
    const reference = parseOutputReference(output.value);
    let value: JsonValue;
    let seen: JsonValue;
    if (reference !== undefined) {
      const { step, output: port } = reference;
      const found = stored[step]?.[port];
      if (found === undefined) {
        throw new MloeError(
          'EXPRESSION_FAILED',
          `output ${name} of pipeline ${spec.metadata.name} reads steps.${step}.outputs.${port}, but step ${step} did not complete`,
        );
      }
      value = found;
      seen = visible[step]?.[port] ?? found;
    } else {
      try {
        value = resolveTemplates(output.value, bindings);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new MloeError('EXPRESSION_FAILED', `output ${name} of pipeline ${spec.metadata.name}: ${message}`, {
          cause: error,
        });
      }
      seen = value;
    }
    outputs[name] = value;
    if (output.type === 'metrics' && metrics === undefined) metrics = seen;
  }
  return { outputs, ...(metrics === undefined ? {} : { metrics }) };
}

function isMetrics(value: JsonValue | undefined): value is Record<string, number> | Record<string, number>[] {
  const isMap = (item: JsonValue): boolean =>
    item !== null &&
    typeof item === 'object' &&
    !Array.isArray(item) &&
    Object.values(item).every((number) => typeof number === 'number');
  if (value === undefined) return false;
  return Array.isArray(value) ? value.every(isMap) : isMap(value);
}

/** Child workflow ids stay at most this long, so lineage records (run ids up to 160 characters) can name them. */
export const MAX_CHILD_WORKFLOW_ID_LENGTH = 150;

/**
 * The workflow id of a sub-pipeline step's run: `<parent id>-<step id>`, readable in the Web UI. Nested deeply or with
 * long names, it is shortened to a prefix of that and a hash of the whole, so it stays unique and at most
 * {@link MAX_CHILD_WORKFLOW_ID_LENGTH} characters.
 */
export function childWorkflowId(parentId: string, stepId: string): string {
  const full = `${parentId}-${stepId}`;
  if (full.length <= MAX_CHILD_WORKFLOW_ID_LENGTH) return full;
  const hash = fnv1a(full);
  return `${full.slice(0, MAX_CHILD_WORKFLOW_ID_LENGTH - hash.length - 1)}-${hash}`;
}

/** FNV-1a (32-bit) of a string as 8 hex digits: deterministic and dependency-free, for ids only (not security). */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/** The sub-pipeline's file for its run record: under the root spec's directory when it is known, else as written. */
function subSpecFile(parent: RunPipelineInput, path: string): string {
  const directory = parent.metadata?.specDir;
  return directory === undefined ? path : `${directory}/${path}`;
}
