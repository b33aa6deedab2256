/**
 * The v1 pipeline spec (`apiVersion: mloe.dev/v1`, `kind: Pipeline`) as zod schemas, and the types inferred from
 * them. Every object is strict, so a misspelt field is an error rather than silently ignored.
 *
 * Shape, and why:
 * - `steps` is a mapping keyed by step id (like GitHub Actions `jobs`), not a list with `id`s (like Argo DAG tasks):
 *   ids are unique by construction (a repeated key is reported), an error path reads `steps.train.with.lr`, and an
 *   expression names a step exactly the way the spec does (`steps.train.outputs.model`). Order is given by `needs`.
 * - A step either `uses` a registered step (`train@1`, like a GitHub action or a Kubeflow component) or `run`s a
 *   command in an image (like an Argo container template); `with` binds values to the step's inputs.
 * - `params`, `steps`, `inputs` and `outputs` are mappings keyed by identifier, so `${{ params.lr }}` works in CEL.
 * - Durations are Go/Temporal strings (`30s`, `5m`), resources Kubernetes quantities (`500m`, `4Gi`).
 *
 * Fields that need more than one value to check (enum `values`, `needs`, references) are checked in `validate.ts`.
 */
import { z } from 'zod';
import { notificationsSchema } from './notifications';

import { CPU_HINT, DURATION_HINT, MEMORY_HINT, parseCpu, parseDuration, parseMemory } from './units';
import { SECRET_ENV_NAME_PATTERN, SECRET_REF_HINT, parseSecretRef } from './secrets';

/** The only `apiVersion` this module reads. */
export const API_VERSION = 'mloe.dev/v1';
/** The only `kind` this module reads. */
export const PIPELINE_KIND = 'Pipeline';

/**
 * Step ids, parameter, input and output names: CEL identifiers, so that `steps.<id>.outputs.<name>` and
 * `params.<name>` are valid expressions (a `-` would read as a minus).
 */
export const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A pipeline name: a DNS label, usable in workflow ids, file names and Kubernetes objects. */
export const PIPELINE_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `uses:` a registered step: a name (optionally namespaced with `/`) and an optional `@version`. */
export const USES_PATTERN = /^[a-z][a-z0-9_.-]*(\/[a-z][a-z0-9_.-]*)*(@[0-9A-Za-z][0-9A-Za-z.+-]*)?$/;

/**
 * `pipeline:` a sub-pipeline file: a relative path (`./train.yaml`, `lib/eval.yml`) to a YAML or JSON spec, resolved
 * against the directory of the spec that names it (see `core/spec/sub-pipelines.ts` for the rules).
 */
export const PIPELINE_PATH_PATTERN = /^[^\0]+\.(ya?ml|json)$/;

/** Timeout of one attempt of a step when neither the step nor `defaults` sets one. */
export const DEFAULT_STEP_TIMEOUT = '10m';

/** Scalar value types: of parameters, inputs and outputs. */
export const SCALAR_TYPES = ['string', 'number', 'integer', 'boolean'] as const;
/** Artifact types: values stored in the artifact store and passed between steps by reference. */
export const ARTIFACT_TYPES = ['dataset', 'model', 'metrics', 'report', 'file'] as const;
/** Every type an input or output can have. */
export const VALUE_TYPES = [...SCALAR_TYPES, 'list', 'object', ...ARTIFACT_TYPES] as const;
/** Element types of a `list`. */
export const ITEM_TYPES = [...SCALAR_TYPES, 'object', ...ARTIFACT_TYPES] as const;
/** Parameter types: scalars, a string from a fixed set (`enum`), and lists of scalars. */
export const PARAM_TYPES = [...SCALAR_TYPES, 'enum', 'list'] as const;

export type ScalarType = (typeof SCALAR_TYPES)[number];
export type ArtifactType = (typeof ARTIFACT_TYPES)[number];
export type ValueType = (typeof VALUE_TYPES)[number];
export type ItemType = (typeof ITEM_TYPES)[number];
export type ParamType = (typeof PARAM_TYPES)[number];

/** A JSON value, what `with`, defaults and outputs hold. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Whether a value is JSON: finite numbers, plain objects and arrays all the way down. */
export function isJsonValue(value: unknown): value is JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJsonValue);
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.values(value).every(isJsonValue);
  }
  return false;
}

/** Metadata for error hints, read back by the validator for type errors at that field. */
export interface FieldMeta {
  /** How to write the field correctly. */
  hint?: string;
  /** The code of a wrong-type error at this field, when more specific than `INVALID_TYPE`. */
  typeErrorCode?: 'INVALID_DURATION' | 'INVALID_QUANTITY';
}

const hinted = <T extends z.ZodType>(schema: T, hint: string, extra: Omit<FieldMeta, 'hint'> = {}): T =>
  schema.meta({ hint, ...extra } satisfies FieldMeta);

const jsonValueSchema = z.custom<JsonValue>(isJsonValue, {
  error: 'expected a JSON value (string, number, boolean, null, list or mapping; numbers finite)',
});

/** A positive duration such as `30s` or `1h30m` (see {@link parseDuration}). */
export const durationSchema = hinted(
  z.string().superRefine((text, context) => {
    if (parseDuration(text) === undefined) {
      context.addIssue({
        code: 'custom',
        message: `'${text}' is not a duration`,
        params: { code: 'INVALID_DURATION', hint: DURATION_HINT },
      });
    }
  }),
  DURATION_HINT,
  { typeErrorCode: 'INVALID_DURATION' },
);

const identifierKey = z.string();

/** A declared parameter. Type-specific fields (`values`, `items`, `minimum`) are checked by the validator. */
export const paramSchema = z.strictObject({
  type: hinted(z.enum(PARAM_TYPES), `one of ${PARAM_TYPES.join(', ')}`),
  description: z.string().optional(),
  /** Makes the parameter optional; must have the parameter's type. */
  default: jsonValueSchema.optional(),
  /** Defaults to true without a `default` and false with one; stating both is an error. */
  required: z.boolean().optional(),
  /** The allowed values of an `enum` parameter. */
  values: z.array(z.string()).min(1).optional(),
  /** The element type of a `list` parameter (any scalar when omitted). */
  items: hinted(z.enum(SCALAR_TYPES), `one of ${SCALAR_TYPES.join(', ')}`).optional(),
  /** Inclusive bounds of a `number` or `integer` parameter. */
  minimum: z.number().optional(),
  maximum: z.number().optional(),
});

/** An input of a step: a typed port, optional when it has a default or `required: false`. */
export const inputPortSchema = z.strictObject({
  type: hinted(z.enum(VALUE_TYPES), `one of ${VALUE_TYPES.join(', ')}`),
  /** Element type of a `list`. */
  items: hinted(z.enum(ITEM_TYPES), `one of ${ITEM_TYPES.join(', ')}`).optional(),
  description: z.string().optional(),
  required: z.boolean().optional(),
  default: jsonValueSchema.optional(),
});

/** An output of a step: a typed port the step fills. */
export const outputPortSchema = z.strictObject({
  type: hinted(z.enum(VALUE_TYPES), `one of ${VALUE_TYPES.join(', ')}`),
  items: hinted(z.enum(ITEM_TYPES), `one of ${ITEM_TYPES.join(', ')}`).optional(),
  description: z.string().optional(),
});

const commandArgument = hinted(
  z.union([z.string(), z.number(), z.boolean()]),
  'command arguments are strings (numbers and booleans are converted); quote anything else',
);

/** A command step: run `command` (argv, no shell) in `image`, or on the worker when there is none. */
export const runSchema = z.strictObject({
  command: hinted(z.array(commandArgument).min(1), 'write the command as a list: [python, train.py, --lr, "0.1"]'),
  image: z.string().min(1).optional(),
  env: z.record(z.string(), commandArgument).optional(),
  workingDir: z.string().min(1).optional(),
  /** Environment variables whose values are secrets, by reference only (docs/security.md). */
  secrets: z
    .record(
      hinted(
        z.string().regex(SECRET_ENV_NAME_PATTERN, 'not an environment variable name'),
        'a variable name such as API_TOKEN',
      ),
      z.strictObject({ secretRef: hinted(secretRefSchema(), SECRET_REF_HINT) }),
    )
    .optional(),
});

/** A `secretRef`: `env:NAME`, `file:PATH` or `k8s:secret/key` (`core/spec/secrets.ts`). */
function secretRefSchema() {
  return z.string().superRefine((text, context) => {
    const parsed = parseSecretRef(text);
    if (typeof parsed === 'string') context.addIssue({ code: 'custom', message: parsed });
  });
}

/** Temporal's retry policy, with the SDK's field names except `maxAttempts` (= `maximumAttempts`). */
export const retrySchema = z.strictObject({
  maxAttempts: hinted(z.int().min(1), 'a whole number of attempts, at least 1 (1 means no retry)').optional(),
  initialInterval: durationSchema.optional(),
  backoffCoefficient: hinted(z.number().min(1), 'a number of at least 1, e.g. 2').optional(),
  maximumInterval: durationSchema.optional(),
  /** Error codes (`ApplicationFailure` types) that are never retried. */
  nonRetryableErrors: z.array(z.string()).optional(),
});

const cpuSchema = hinted(
  z.union([z.number(), z.string()]).superRefine((value, context) => {
    if (parseCpu(value) === undefined) {
      context.addIssue({
        code: 'custom',
        message: `${JSON.stringify(value)} is not a CPU quantity`,
        params: { code: 'INVALID_QUANTITY', hint: CPU_HINT },
      });
    }
  }),
  CPU_HINT,
  { typeErrorCode: 'INVALID_QUANTITY' },
);

const memorySchema = hinted(
  z.union([z.number(), z.string()]).superRefine((value, context) => {
    if (parseMemory(value) === undefined) {
      context.addIssue({
        code: 'custom',
        message: `${JSON.stringify(value)} is not a memory quantity`,
        params: { code: 'INVALID_QUANTITY', hint: MEMORY_HINT },
      });
    }
  }),
  MEMORY_HINT,
  { typeErrorCode: 'INVALID_QUANTITY' },
);

/** What a step asks of the machine it runs on. */
export const resourcesSchema = z.strictObject({
  cpu: cpuSchema.optional(),
  memory: memorySchema.optional(),
  gpu: hinted(z.int().min(0), 'a whole number of GPUs, e.g. 1').optional(),
});

/** Where a `run:` step runs: on the worker's host, as a Kubernetes Job, or as an AWS Batch job (docs/executors.md). */
export const EXECUTORS = ['local', 'kubernetes', 'batch'] as const;
export type ExecutorKind = (typeof EXECUTORS)[number];

/** A Kubernetes toleration (core/v1 `Toleration`). */
export const tolerationSchema = z.strictObject({
  key: z.string().min(1).optional(),
  operator: hinted(z.enum(['Exists', 'Equal']), 'Exists or Equal').optional(),
  value: z.string().optional(),
  effect: hinted(
    z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']),
    'NoSchedule, PreferNoSchedule or NoExecute',
  ).optional(),
  tolerationSeconds: z.int().min(0).optional(),
});

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Kubernetes settings of a step (or of every step, in `defaults`): where and how its Job's pod is scheduled. */
export const kubernetesSettingsSchema = z.strictObject({
  namespace: hinted(z.string().max(63).regex(DNS_LABEL), "a namespace name, e.g. 'ml-training'").optional(),
  serviceAccountName: hinted(
    z.string().max(253).regex(DNS_SUBDOMAIN),
    "a service account name, e.g. 'trainer'",
  ).optional(),
  nodeSelector: z.record(z.string().min(1), z.string()).optional(),
  tolerations: z.array(tolerationSchema).optional(),
});

/** AWS Batch settings of a step (or of every step, in `defaults`): the queue and the job definition it is submitted to. */
export const batchSettingsSchema = z.strictObject({
  jobQueue: hinted(z.string().min(1), "a job queue name or ARN, e.g. 'gpu-queue'").optional(),
  jobDefinition: hinted(
    z.string().min(1),
    "a job definition name[:revision] or ARN, e.g. 'mloe-container:3'",
  ).optional(),
});

const executorSchema = hinted(z.enum(EXECUTORS), `one of ${EXECUTORS.join(', ')}`);
const stepTaskQueueSchema = hinted(
  z.string().min(1).max(1000).regex(/^\S+$/),
  "a task queue name without whitespace, served by 'mloe worker --task-queue <name>', e.g. 'mloe-gpu'",
);

const conditionSchema = hinted(
  z.union([z.boolean(), z.string().min(1)]),
  "a CEL condition, e.g. '${{ params.deploy && steps.evaluate.outputs.metrics.r2 > 0.9 }}', or true/false",
);

const foreachSchema = hinted(
  z.union([z.string().min(1), z.array(jsonValueSchema)]),
  "a list, or an expression that yields one, e.g. '${{ params.folds }}'",
);

/** A promotion policy's name: letters, digits, `_`, `-` and `.` (it becomes an MLflow tag key, `mloe.policy.<name>`). */
export const POLICY_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;
/** An MLflow registered model alias: letters, digits, `_` and `-` (MLflow reserves `latest` and `v<N>`). */
export const ALIAS_PATTERN = /^[A-Za-z0-9_-]{1,255}$/;

/** One promotion policy: a named CEL rule over `candidate`, `champion`, `dataset` and `params` that must hold. */
export const policySchema = z.strictObject({
  name: hinted(
    z.string().regex(POLICY_NAME_PATTERN),
    "letters, digits, '_', '-' and '.', at most 100 characters, e.g. 'beats-champion'",
  ),
  /** A bare CEL expression (no `${{ }}`) that yields a boolean. */
  rule: hinted(
    z.string().min(1),
    "a CEL condition, e.g. 'candidate.metrics.accuracy >= champion.metrics.accuracy - 0.01'",
  ),
  description: z.string().optional(),
});

/** What the approval gate does on timeout: reject the promotion, or call a webhook and keep waiting. */
export const APPROVAL_TIMEOUT_ACTIONS = ['reject', 'escalate'] as const;

/**
 * The approval gate of a promotion: `manual` (the default) waits for a person's `mloe approve` / `mloe reject` (a
 * Temporal Update) up to `timeout`; `auto` approves at once, recorded under `identity`.
 */
export const approvalSchema = z.strictObject({
  mode: hinted(z.enum(['manual', 'auto']), "'manual' (a person decides) or 'auto'").optional(),
  /** `auto`: who the approval is recorded as (default `mloe:auto`). */
  identity: z.string().min(1).optional(),
  /** `auto`: why, as recorded. */
  reason: z.string().min(1).optional(),
  /** `manual`: how long to wait for a decision (default 168h, a week). */
  timeout: durationSchema.optional(),
  /** `manual`: what a timeout does (default `reject`). */
  onTimeout: hinted(z.enum(APPROVAL_TIMEOUT_ACTIONS), "'reject' or 'escalate'").optional(),
  /** `escalate`: the URL a JSON POST goes to when the timeout passes. */
  webhook: hinted(
    z.string().regex(/^https?:\/\/[^\s]+$/),
    "an http(s) URL, e.g. 'https://hooks.example.com/mloe'",
  ).optional(),
  /** `escalate`: how long to wait after escalating before rejecting (without it, the gate waits until decided). */
  escalationTimeout: durationSchema.optional(),
});

/**
 * A promotion step's settings (`promote:`): its policies, its approval gate and the aliases it moves. What it
 * promotes (`model`, `version`) and the metrics it judges (`candidate`, `champion`, `dataset`) are bound with `with`.
 */
export const promoteSchema = z.strictObject({
  policies: z.array(policySchema).optional(),
  approval: approvalSchema.optional(),
  /** The alias that marks the model in production (default `champion`). */
  alias: hinted(z.string().regex(ALIAS_PATTERN), "letters, digits, '_' and '-', e.g. 'champion'").optional(),
  /** The alias the replaced version gets (default `previous`): `mloe models rollback` moves back to it. */
  previousAlias: hinted(z.string().regex(ALIAS_PATTERN), "letters, digits, '_' and '-', e.g. 'previous'").optional(),
});

/** One step of the pipeline. Exactly one of `uses`, `run`, `pipeline` and `promote` is set (checked by the validator). */
export const stepSchema = z.strictObject({
  /** A display name; the step's id is its key in `steps`. */
  name: z.string().min(1).optional(),
  description: z.string().optional(),
  uses: hinted(
    z.string().regex(USES_PATTERN),
    "a registered step name with an optional version, e.g. 'train' or 'train@1'",
  ).optional(),
  run: runSchema.optional(),
  /**
   * A sub-pipeline run as a child workflow: the path of its spec file, relative to this spec's file. `with` gives
   * its parameters; its declared `outputs` become this step's outputs.
   */
  pipeline: hinted(
    z.string().regex(PIPELINE_PATH_PATTERN),
    "a relative path to a pipeline spec file, e.g. './train.yaml' or 'lib/evaluate.yml'",
  ).optional(),
  /**
   * A promotion, run by the workflow itself: policies, an approval gate, then the model version's alias moves (see
   * docs/promotion.md). `with` binds `model`, `version`, `candidate`, and optionally `champion` and `dataset`.
   */
  promote: promoteSchema.optional(),
  /** Ids of the steps that must complete first; their outputs become visible to this step's expressions. */
  needs: hinted(z.array(z.string()), 'a list of step ids, e.g. [ingest, validate]').optional(),
  /** Inputs of a `run` step (a `uses` step's come from its registration). */
  inputs: z.record(identifierKey, inputPortSchema).optional(),
  /** Outputs of a `run` step (a `uses` step's come from its registration). */
  outputs: z.record(identifierKey, outputPortSchema).optional(),
  /** Values for the step's inputs: literals or `${{ }}` expressions. */
  with: z.record(z.string(), jsonValueSchema).optional(),
  /** Run the step only when this holds; otherwise it is skipped. */
  when: conditionSchema.optional(),
  /** Run the step once per element; `${{ item }}` is the element, and each output becomes a list. */
  foreach: foreachSchema.optional(),
  /** At most this many `foreach` iterations at once. */
  maxParallel: hinted(z.int().min(1), 'a whole number, at least 1').optional(),
  retry: retrySchema.optional(),
  /** Start-to-close timeout of one attempt. */
  timeout: durationSchema.optional(),
  /**
   * How long the step may go without a heartbeat before the attempt counts as failed (a dead worker is noticed
   * this soon rather than at `timeout`). Shorter than `timeout`.
   */
  heartbeatTimeout: durationSchema.optional(),
  /** Reuse a previous result when the step, its inputs and its code are unchanged. */
  cache: z.boolean().optional(),
  resources: resourcesSchema.optional(),
  /** Where a `run:` step runs (`defaults.executor`, else `local`); remote executors need `run.image`. */
  executor: executorSchema.optional(),
  /** Kubernetes settings, over those of `defaults`. */
  kubernetes: kubernetesSettingsSchema.optional(),
  /** AWS Batch settings, over those of `defaults`. */
  batch: batchSettingsSchema.optional(),
  /** The task queue of the step's activity (`defaults.taskQueue`, else the run's): heavy steps on their own workers. */
  taskQueue: stepTaskQueueSchema.optional(),
  /**
   * The image a `uses:` step runs in on a remote executor (`mloe step exec` must be on its PATH); absent, the
   * worker's built-in step image (`MLOE_BUILTIN_STEP_IMAGE`). A `run:` step names its image in `run.image`.
   */
  image: hinted(
    z.string().min(1).regex(/^\S+$/),
    "an image reference without whitespace, e.g. 'ghcr.io/mloe/mloe-worker:0.1.0'",
  ).optional(),
  /** When true, a failure of this step does not fail the pipeline; steps that need it are skipped. */
  continueOnFailure: z.boolean().optional(),
});

/** Values every step gets unless it sets its own. */
export const defaultsSchema = z.strictObject({
  retry: retrySchema.optional(),
  timeout: durationSchema.optional(),
  heartbeatTimeout: durationSchema.optional(),
  cache: z.boolean().optional(),
  resources: resourcesSchema.optional(),
  executor: executorSchema.optional(),
  kubernetes: kubernetesSettingsSchema.optional(),
  batch: batchSettingsSchema.optional(),
  taskQueue: stepTaskQueueSchema.optional(),
});

/** `metadata`: what the pipeline is called and how to find it. */
export const metadataSchema = z.strictObject({
  name: hinted(
    z.string().max(63).regex(PIPELINE_NAME_PATTERN),
    "lowercase letters, digits and '-', at most 63 characters, e.g. 'housing-price'",
  ),
  description: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
});

/**
 * An output of the pipeline as a whole (like a GitHub Actions reusable workflow's `outputs`): a typed port and the
 * value it takes once the steps are done, usually `${{ steps.<id>.outputs.<name> }}`. When the pipeline runs as a
 * `pipeline:` step of another, these are that step's outputs.
 */
export const pipelineOutputSchema = z.strictObject({
  type: hinted(z.enum(VALUE_TYPES), `one of ${VALUE_TYPES.join(', ')}`),
  items: hinted(z.enum(ITEM_TYPES), `one of ${ITEM_TYPES.join(', ')}`).optional(),
  description: z.string().optional(),
  value: hinted(jsonValueSchema, "an expression reading a step's output, e.g. '${{ steps.train.outputs.model }}'"),
});

/** The whole pipeline spec. */
export const pipelineSpecSchema = z.strictObject({
  apiVersion: hinted(z.literal(API_VERSION), `write 'apiVersion: ${API_VERSION}'`),
  kind: hinted(z.literal(PIPELINE_KIND), `write 'kind: ${PIPELINE_KIND}'`),
  metadata: metadataSchema,
  params: z.record(identifierKey, paramSchema).optional(),
  defaults: defaultsSchema.optional(),
  /** At most this many steps run at once. */
  maxParallel: hinted(z.int().min(1), 'a whole number, at least 1').optional(),
  /**
   * When true, a failed step fails only the steps that need it: independent branches run to the end before the
   * pipeline reports the failure. When false (the default), the first failure cancels the pipeline.
   */
  continueOnFailure: z.boolean().optional(),
  steps: z.record(identifierKey, stepSchema),
  /** What the pipeline hands back, typed; a `pipeline:` step of a parent pipeline exposes them as its outputs. */
  outputs: z.record(identifierKey, pipelineOutputSchema).optional(),
  /** Webhooks told of the run's events (failure, approval needed, promotion): see docs/notifications.md. */
  notifications: notificationsSchema.optional(),
});

/**
 * The top level with `params` and `steps` left unchecked, so that each parameter and step is checked on its own:
 * one broken step does not hide the errors of the others.
 */
export const pipelineShellSchema = pipelineSpecSchema.extend({
  params: z.record(z.string(), z.unknown()).optional(),
  steps: z.record(z.string(), z.unknown()),
  outputs: z.record(z.string(), z.unknown()).optional(),
});

export type PipelineSpec = z.infer<typeof pipelineSpecSchema>;
export type PipelineMetadata = z.infer<typeof metadataSchema>;
export type ParamSpec = z.infer<typeof paramSchema>;
export type StepSpec = z.infer<typeof stepSchema>;
export type RunSpec = z.infer<typeof runSchema>;
export type RetrySpec = z.infer<typeof retrySchema>;
export type ResourcesSpec = z.infer<typeof resourcesSchema>;
export type KubernetesSettings = z.infer<typeof kubernetesSettingsSchema>;
export type BatchSettings = z.infer<typeof batchSettingsSchema>;
export type Toleration = z.infer<typeof tolerationSchema>;
export type DefaultsSpec = z.infer<typeof defaultsSchema>;
export type InputPort = z.infer<typeof inputPortSchema>;
export type OutputPort = z.infer<typeof outputPortSchema>;
export type PipelineOutputSpec = z.infer<typeof pipelineOutputSchema>;
export type PromoteSpec = z.infer<typeof promoteSchema>;
export type PolicySpec = z.infer<typeof policySchema>;
export type ApprovalSpec = z.infer<typeof approvalSchema>;
