/**
 * Promote steps in the spec (before anything runs) and their policies (as the workflow evaluates them): a valid
 * promotion passes; each kind of mistake is reported at its field path with its code (rules that do not parse, read
 * unknown variables or fields, or are not booleans; duplicate policy names; approval settings that do not fit the
 * gate's mode; reserved or clashing aliases; a register step that would move the promoted alias itself; fields a
 * promote step does not take); and policy outcomes name the values each rule read.
 */
import { evaluatePolicies, type PolicyContext } from '../core/promotion';
import { createStepRegistry, loadPipeline, validatePipeline, type SpecIssue } from '../core/spec';
import { BUILTIN_STEPS } from '../core/steps/builtin';

const registry = createStepRegistry(BUILTIN_STEPS);

/** The demo's steps, registered without an alias, then promoted. */
function spec(promote: Record<string, unknown>, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'mloe.dev/v1',
    kind: 'Pipeline',
    metadata: { name: 'promo' },
    params: { minRows: { type: 'integer', default: 100 } },
    steps: {
      ingest: { uses: 'ingest@1', with: { dataPath: 'data.csv' } },
      validate: {
        uses: 'validate@1',
        needs: ['ingest'],
        with: { dataset: '${{ steps.ingest.outputs.dataset }}', columns: ['x', 'y'] },
      },
      featurize: {
        uses: 'featurize@1',
        needs: ['validate'],
        with: { dataset: '${{ steps.validate.outputs.dataset }}', features: ['x'], target: 'y' },
      },
      train: {
        uses: 'train@1',
        needs: ['featurize'],
        with: { train: '${{ steps.featurize.outputs.train }}', scaler: '${{ steps.featurize.outputs.scaler }}' },
      },
      evaluate: {
        uses: 'evaluate@1',
        needs: ['train'],
        with: { model: '${{ steps.train.outputs.model }}', test: '${{ steps.featurize.outputs.test }}' },
      },
      register: {
        uses: 'register@1',
        needs: ['evaluate'],
        with: { model: '${{ steps.train.outputs.model }}', name: 'housing' },
      },
      promote: {
        needs: ['register', 'validate'],
        with: {
          model: 'housing',
          version: '${{ steps.register.outputs.version }}',
          candidate: '${{ steps.evaluate.outputs.metrics }}',
          dataset: { rows: '${{ steps.validate.outputs.rows }}' },
        },
        promote,
      },
      ...overrides,
    },
  };
}

function issues(input: Record<string, unknown>): Pick<SpecIssue, 'code' | 'path' | 'message'>[] {
  const result = validatePipeline(input, { registry });
  if (result.ok) return [];
  return result.issues.map(({ code, path, message }) => ({ code, path, message }));
}

describe('promote steps in the spec', () => {
  it('accepts a promotion with policies, a manual gate that escalates, and its own aliases', () => {
    expect(
      issues(
        spec({
          policies: [
            { name: 'good-fit', rule: 'candidate.metrics.r2 >= 0.8' },
            {
              name: 'beats-champion',
              rule: '!champion.exists || candidate.metrics.r2 >= champion.metrics.r2 - 0.01',
            },
            { name: 'enough-data', rule: 'dataset.rows >= params.minRows' },
          ],
          approval: { mode: 'manual', timeout: '72h', onTimeout: 'escalate', webhook: 'https://hooks.example/x' },
          alias: 'production',
          previousAlias: 'production-previous',
        }),
      ),
    ).toEqual([]);
  });

  it('reports every mistake at its field path', () => {
    const found = issues(
      spec({
        policies: [
          { name: 'typo', rule: 'candidate.metric.r2 > 0.5' },
          { name: 'unknown', rule: 'model.r2 > 0.5' },
          { name: 'number', rule: 'candidate.metrics.r2' },
          { name: 'number', rule: '${{ candidate.metrics.r2 > 0.5 }}' },
          { name: 'syntax', rule: 'candidate.metrics.r2 >' },
        ],
        approval: { onTimeout: 'escalate', identity: 'bot' },
        alias: 'latest',
        previousAlias: 'latest',
      }),
    );
    const at = (path: string) => found.filter((issue) => issue.path === path).map((issue) => issue.code);
    expect(at('steps.promote.promote.policies[0].rule')).toEqual(['EXPRESSION_TYPE']);
    expect(at('steps.promote.promote.policies[1].rule')).toEqual(['UNKNOWN_VARIABLE']);
    expect(at('steps.promote.promote.policies[2].rule')).toEqual(['EXPRESSION_TYPE']);
    expect(at('steps.promote.promote.policies[3].name')).toEqual(['DUPLICATE_ID']);
    expect(at('steps.promote.promote.policies[3].rule')).toEqual(['EXPRESSION_SYNTAX']);
    expect(at('steps.promote.promote.policies[4].rule')).toEqual(['EXPRESSION_SYNTAX']);
    expect(at('steps.promote.promote.approval.identity')).toEqual(['INVALID_VALUE']);
    expect(at('steps.promote.promote.approval.onTimeout')).toEqual(['MISSING_FIELD']);
    expect(at('steps.promote.promote.alias')).toEqual(['INVALID_VALUE']);
    expect(at('steps.promote.promote.previousAlias')).toEqual(['INVALID_VALUE', 'PROMOTION_CONFLICT']);
    expect(found.find((issue) => issue.path === 'steps.promote.promote.policies[2].rule')?.message).toBe(
      "policy 'number': the rule yields double, and a policy needs a boolean",
    );
  });

  it('refuses a register step that moves the promoted alias itself, and a model that is not the registered one', () => {
    const found = issues(
      spec(
        {},
        {
          register: {
            uses: 'register@1',
            needs: ['evaluate'],
            with: { model: '${{ steps.train.outputs.model }}', name: 'other', alias: 'champion' },
          },
        },
      ),
    );
    expect(found).toEqual([
      {
        code: 'PROMOTION_CONFLICT',
        path: 'steps.register.with.alias',
        message: `step 'register' sets alias "champion" on the version that step 'promote' promotes, so the alias would move before the policies and the approval`,
      },
      {
        code: 'PROMOTION_CONFLICT',
        path: 'steps.promote.with.model',
        message:
          "step 'promote' promotes model 'housing', and the version it names was registered as 'other' by step 'register'",
      },
    ]);
    // Another alias on the registered version (a 'candidate' marker) is fine.
    const candidate = spec(
      {},
      {
        register: {
          uses: 'register@1',
          needs: ['evaluate'],
          with: { model: '${{ steps.train.outputs.model }}', name: 'housing', alias: 'candidate' },
        },
      },
    );
    expect(issues(candidate)).toEqual([]);
  });

  it('refuses fields a promote step does not take, a second kind, settings of the other gate mode, missing inputs', () => {
    const base = spec({ approval: { mode: 'auto', timeout: '1h', webhook: 'https://x.example' } });
    const steps = base.steps as Record<string, Record<string, unknown>>;
    steps.promote = { ...steps.promote, timeout: '5m', uses: 'register@1' };
    steps.second = {
      needs: ['register'],
      with: { model: 'housing' },
      promote: { approval: { webhook: 'https://x.example' } },
    };
    const found = issues(base);
    const at = (path: string) => found.filter((issue) => issue.path === path).map((issue) => issue.code);
    expect(at('steps.promote.promote')).toEqual(['INVALID_STEP']);
    expect(at('steps.second.promote.approval.webhook')).toEqual(['INVALID_VALUE']);
    expect(
      found.filter((issue) => issue.path.startsWith('steps.second') && issue.code === 'MISSING_INPUT'),
    ).toHaveLength(2);
    const auto = issues(spec({ approval: { mode: 'auto', timeout: '1h' } }));
    expect(auto).toEqual([
      {
        code: 'INVALID_VALUE',
        path: 'steps.promote.promote.approval.timeout',
        message: "'timeout' applies to a manual approval gate, and this one is 'mode: auto'",
      },
    ]);
    const timed = spec({});
    (timed.steps as Record<string, Record<string, unknown>>).promote!.timeout = '5m';
    expect(issues(timed).map((issue) => [issue.code, issue.path])).toEqual([['INVALID_STEP', 'steps.promote.timeout']]);
  });
});

describe('promote steps in YAML', () => {
  it('gives file positions and rejects misplaced fields', () => {
    const text = `
apiVersion: mloe.dev/v1
kind: Pipeline
metadata: { name: promo }
steps:
  promote:
    timeout: 5m
    with: { model: m, version: "1" }
    promote:
      approval: { mode: auto, timeout: 1h }
      policies:
        - { name: ok, rule: "candidate.metric.r2 > 0.5" }
`;
    const result = loadPipeline(text, { registry, file: 'promo.yaml' });
    expect(result.ok).toBe(false);
    const found = result.ok
      ? []
      : result.issues.map((issue) => `${issue.line}:${issue.column} ${issue.code} ${issue.path}`);
    expect(found).toEqual([
      '7:5 INVALID_STEP steps.promote.timeout',
      '8:5 MISSING_INPUT steps.promote.with',
      '10:31 INVALID_VALUE steps.promote.promote.approval.timeout',
      '12:29 EXPRESSION_TYPE steps.promote.promote.policies[0].rule',
    ]);
  });
});

describe('policy evaluation', () => {
  const context: PolicyContext = {
    candidate: { model: 'm', version: '4', metrics: { accuracy: 0.93, f1: 1 } },
    champion: { exists: true, model: 'm', version: '3', metrics: { accuracy: 0.95 } },
    dataset: { rows: 333 },
    params: { minRows: 300 },
    paramTypes: { minRows: 'int' },
  };

  it('records each rule, the values it read and whether it held; a rule that cannot be evaluated fails', () => {
    const outcomes = evaluatePolicies(
      [
        { name: 'beats', rule: 'candidate.metrics.accuracy >= champion.metrics.accuracy - 0.01' },
        { name: 'rows', rule: 'dataset.rows >= 300 && dataset.rows >= params.minRows' },
        { name: 'whole-number-metric', rule: 'candidate.metrics.f1 - 0.5 > 0.0' },
        { name: 'missing', rule: 'candidate.metrics.auc > 0.5' },
      ],
      context,
    );
    expect(outcomes).toEqual([
      {
        name: 'beats',
        rule: 'candidate.metrics.accuracy >= champion.metrics.accuracy - 0.01',
        values: { 'candidate.metrics.accuracy': 0.93, 'champion.metrics.accuracy': 0.95 },
        passed: false,
      },
      {
        name: 'rows',
        rule: 'dataset.rows >= 300 && dataset.rows >= params.minRows',
        values: { 'dataset.rows': 333, 'params.minRows': 300 },
        passed: true,
      },
      {
        name: 'whole-number-metric',
        rule: 'candidate.metrics.f1 - 0.5 > 0.0',
        values: { 'candidate.metrics.f1': 1 },
        passed: true,
      },
      {
        name: 'missing',
        rule: 'candidate.metrics.auc > 0.5',
        values: { 'candidate.metrics.auc': null },
        passed: false,
        error: expect.stringContaining('auc') as unknown as string,
      },
    ]);
  });
});
