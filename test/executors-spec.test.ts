/**
 * The spec side of remote executors: `executor`, `image`, `resources`, `kubernetes`, `batch` and `taskQueue` per step
 * or in `defaults`, checked before anything starts (with field paths and lines), and the placement and task queue the
 * workflow derives from them.
 */
import {
  createStepRegistry,
  loadPipeline,
  stepPlacement,
  stepTaskQueue,
  validatePipeline,
  type PipelineSpec,
  type SpecIssue,
} from '../core/spec';
import { resolveStepSecrets } from '../activities/secrets';
import { parseSecretRef } from '../core/spec/secrets';
import { BUILTIN_STEPS } from '../core/steps/builtin';
import { stepActivityOptions } from '../workflows/step-execution';

const registry = createStepRegistry(BUILTIN_STEPS);

function spec(steps: Record<string, unknown>, defaults?: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'mloe.dev/v1',
    kind: 'Pipeline',
    metadata: { name: 'executors' },
    ...(defaults === undefined ? {} : { defaults }),
    steps,
  };
}

function issues(input: Record<string, unknown>): Pick<SpecIssue, 'code' | 'path' | 'message'>[] {
  const result = validatePipeline(input, { registry });
  return result.issues.map(({ code, path, message }) => ({ code, path, message }));
}

function valid(input: Record<string, unknown>): PipelineSpec {
  const result = validatePipeline(input, { registry });
  if (!result.ok) throw new Error(result.issues.map((issue) => `${issue.path}: ${issue.message}`).join('\n'));
  return result.spec;
}

const train = { run: { image: 'python:3.12', command: ['python', 'train.py'] } };

describe('executor settings in a spec', () => {
  test('a remote step without an image is refused, naming the executor and where it came from', () => {
    expect(issues(spec({ train: { executor: 'kubernetes', run: { command: ['python', 'train.py'] } } }))).toEqual([
      {
        code: 'MISSING_FIELD',
        path: 'steps.train.run',
        message: "step 'train' runs on the kubernetes executor, which needs a container image",
      },
    ]);
    expect(issues(spec({ train: { run: { command: ['x'] } } }, { executor: 'kubernetes' }))[0]?.message).toBe(
      "step 'train' runs on the kubernetes executor (from defaults.executor), which needs a container image",
    );
  });

  test('the batch executor needs a job queue and a job definition, from the step or defaults', () => {
    expect(issues(spec({ train: { ...train, executor: 'batch', batch: { jobQueue: 'gpu' } } }))).toEqual([
      {
        code: 'MISSING_FIELD',
        path: 'steps.train.batch.jobDefinition',
        message: "step 'train' runs on the batch executor, which needs batch.jobDefinition",
      },
    ]);
    expect(issues(spec({ train: { ...train, executor: 'batch' } })).map((issue) => issue.message)).toEqual([
      "step 'train' runs on the batch executor, which needs batch.jobQueue",
      "step 'train' runs on the batch executor, which needs batch.jobDefinition",
    ]);
    valid(spec({ train: { ...train, executor: 'batch' } }, { batch: { jobQueue: 'gpu', jobDefinition: 'mloe:3' } }));
  });

  test('a registered step that reads the worker host cannot run remotely; defaults.executor does not apply to it', () => {
    expect(issues(spec({ ingest: { uses: 'ingest@1', executor: 'kubernetes', with: { dataPath: 'x.csv' } } }))).toEqual(
      [
        {
          code: 'INVALID_STEP',
          path: 'steps.ingest.executor',
          message: "step 'ingest' (ingest@1) cannot run on the kubernetes executor: it runs on the worker",
        },
      ],
    );
    const ok = valid(spec({ ingest: { uses: 'ingest@1', with: { dataPath: 'x.csv' } } }, { executor: 'kubernetes' }));
    expect(stepPlacement(ok.defaults, ok.steps.ingest!)).toEqual({ executor: 'local' });
  });

  test('settings of the other executor are refused; bad Kubernetes fields say what is wrong', () => {
    expect(issues(spec({ train: { ...train, executor: 'kubernetes', batch: { jobQueue: 'q' } } }))).toEqual([
      {
        code: 'INVALID_VALUE',
        path: 'steps.train.batch',
        message: "step 'train' runs on the kubernetes executor, so its batch settings would be ignored",
      },
    ]);
    const problems = issues(
      spec({
        train: {
          ...train,
          executor: 'kubernetes',
          kubernetes: { namespace: 'ML_Team', tolerations: [{ operator: 'Maybe' }] },
        },
      }),
    );
    expect(problems.map((problem) => problem.path)).toEqual([
      'steps.train.kubernetes.namespace',
      'steps.train.kubernetes.tolerations[0].operator',
    ]);
    expect(issues(spec({ train: { ...train, executor: 'cloud' } }))[0]).toMatchObject({ path: 'steps.train.executor' });
  });

  test('problems carry the line of the field in the file', () => {
    const text = [
      'apiVersion: mloe.dev/v1',
      'kind: Pipeline',
      'metadata: { name: lines }',
      'steps:',
      '  train:',
      '    executor: batch',
      '    batch:',
      '      jobQueue: gpu',
      '    run:',
      '      image: python:3.12',
      '      command: [python, train.py]',
    ].join('\n');
    const result = loadPipeline(text, { registry, file: 'lines.yaml' });
    expect(result.ok).toBe(false);
    // The missing field is placed in the mapping it belongs in (its first line).
    expect(result.issues[0]).toMatchObject({ path: 'steps.train.batch.jobDefinition', file: 'lines.yaml', line: 8 });
  });

  test('defaults apply field by field, node selectors key by key', () => {
    const ok = valid(
      spec(
        {
          train: {
            ...train,
            resources: { gpu: 1 },
            kubernetes: { nodeSelector: { accelerator: 'l4' }, serviceAccountName: 'trainer' },
            taskQueue: 'mloe-gpu',
          },
          report: { run: { command: ['echo'] }, executor: 'local' },
        },
        {
          executor: 'kubernetes',
          resources: { cpu: 2, memory: '4Gi' },
          kubernetes: { namespace: 'ml', nodeSelector: { pool: 'training' } },
          taskQueue: 'mloe-remote',
        },
      ),
    );
    expect(stepPlacement(ok.defaults, ok.steps.train!)).toEqual({
      executor: 'kubernetes',
      resources: { cpu: 2, memory: '4Gi', gpu: 1 },
      kubernetes: {
        namespace: 'ml',
        nodeSelector: { pool: 'training', accelerator: 'l4' },
        serviceAccountName: 'trainer',
      },
    });
    expect(stepPlacement(ok.defaults, ok.steps.report!)).toEqual({
      executor: 'local',
      resources: { cpu: 2, memory: '4Gi' },
    });
    expect(stepTaskQueue(ok.defaults, ok.steps.train!)).toBe('mloe-gpu');
    expect(stepTaskQueue(ok.defaults, ok.steps.report!)).toBe('mloe-remote');
    expect(stepActivityOptions(ok, ok.steps.train!).taskQueue).toBe('mloe-gpu');
    expect(stepActivityOptions(spec({}) as never, { run: { command: ['x'] } }).taskQueue).toBeUndefined();
  });
});

describe('AWS secret references of Batch steps', () => {
  const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf';

  test('aws-sm: takes a Secrets Manager ARN, ssm: a parameter name or ARN', () => {
    expect(parseSecretRef(`aws-sm:${ARN}`)).toEqual({ kind: 'aws-sm', valueFrom: ARN });
    expect(parseSecretRef('ssm:/ml/wandb-api-key')).toEqual({ kind: 'ssm', valueFrom: '/ml/wandb-api-key' });
    const ssmArn = 'arn:aws:ssm:eu-west-1:123456789012:parameter/ml/wandb-api-key';
    expect(parseSecretRef(`ssm:${ssmArn}`)).toEqual({ kind: 'ssm', valueFrom: ssmArn });
    expect(parseSecretRef('aws-sm:prod/db')).toMatch(/is not a Secrets Manager secret ARN/);
    expect(parseSecretRef('ssm:has spaces')).toMatch(/is not an SSM parameter name/);
  });

  test('a batch step with them validates; a bad one names the field', () => {
    const step = {
      ...train,
      executor: 'batch',
      batch: { jobQueue: 'gpu', jobDefinition: 'trainer:7' },
      run: { ...train.run, secrets: { DB_PASSWORD: { secretRef: `aws-sm:${ARN}` } } },
    };
    expect(valid(spec({ train: step })).steps.train?.run?.secrets).toEqual({
      DB_PASSWORD: { secretRef: `aws-sm:${ARN}` },
    });
    const bad = { ...step, run: { ...step.run, secrets: { DB_PASSWORD: { secretRef: 'aws-sm:db' } } } };
    expect(issues(spec({ train: bad }))).toEqual([
      expect.objectContaining({ path: 'steps.train.run.secrets.DB_PASSWORD.secretRef' }),
    ]);
  });

  test('the worker never resolves them for a local step', async () => {
    const refused = resolveStepSecrets(
      'train',
      { DB_PASSWORD: { secretRef: `aws-sm:${ARN}` } },
      { env: {}, fileRoots: [] },
    );
    await expect(refused).rejects.toMatchObject({ code: 'SECRET_REF_INVALID' });
    await expect(refused).rejects.toThrow(/only for steps with `executor: batch`/);
  });
});
