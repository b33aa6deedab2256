/**
 * Output references (`core/spec/output-reference.ts`): the one parser the validator, the interpreter and
 * sub-pipeline outputs share, so a binding the validator types as a step's output is the one the engine passes on
 * as stored.
 */
import {
  createStepRegistry,
  outputReferenceText,
  parseOutputReference,
  type JsonValue,
  type PipelineSpec,
} from '../core/spec';
import { pipeline } from '../core/builder';
import { BUILTIN_STEPS } from '../core/steps/builtin';
import { childOutputs } from '../workflows/sub-pipeline';
import type { StepRunStatus } from '../workflows/types';

describe('parseOutputReference', () => {
  it.each([
    ['${{ steps.train.outputs.model }}', { step: 'train', output: 'model' }],
    ['${{steps.train.outputs.model}}', { step: 'train', output: 'model' }],
    ['${{\n  steps.train.outputs.model\n}}', { step: 'train', output: 'model' }],
    ["${{ steps['train'].outputs['model'] }}", { step: 'train', output: 'model' }],
    ['${{ steps._a1.outputs.b_2 }}', { step: '_a1', output: 'b_2' }],
  ])('reads %j', (text, expected) => {
    expect(parseOutputReference(text)).toEqual(expected);
  });

  it.each<[string, JsonValue]>([
    ['text around it', 'model: ${{ steps.train.outputs.model }}'],
    ['two templates', '${{ steps.a.outputs.b }}${{ steps.a.outputs.c }}'],
    ['a field of the output', '${{ steps.train.outputs.model.uri }}'],
    ['the outputs map', '${{ steps.train.outputs }}'],
    ['a field other than outputs', '${{ steps.train.inputs.model }}'],
    ['a parameter', '${{ params.model }}'],
    ['an operation on it', '${{ steps.train.outputs.rows + 1 }}'],
    ['invalid CEL', '${{ steps.train.outputs. }}'],
    ['an unclosed template', '${{ steps.train.outputs.model'],
    ['plain text', 'steps.train.outputs.model'],
    ['a non-string', 42],
    ['a list', ['${{ steps.train.outputs.model }}']],
  ])('reads nothing from %s', (_what, value) => {
    expect(parseOutputReference(value)).toBeUndefined();
  });

  it('writes the binding it reads', () => {
    const text = outputReferenceText({ step: 'train', output: 'model' });
    expect(text).toBe('${{ steps.train.outputs.model }}');
    expect(parseOutputReference(text)).toEqual({ step: 'train', output: 'model' });
  });

  it("is what the code-first builder's ctx.output writes", () => {
    const spec = pipeline('builder-reference')
      .step('ingest', { uses: 'ingest@1', with: { dataPath: 'data.csv' } })
      .step('validate', (ctx) => ({
        uses: 'validate@1',
        needs: ['ingest'],
        with: { dataset: ctx.output('ingest', 'dataset'), columns: ['a'] },
      }))
      .toSpec();
    const binding = spec.steps.validate?.with?.dataset ?? null;
    expect(binding).toBe(outputReferenceText({ step: 'ingest', output: 'dataset' }));
    expect(parseOutputReference(binding)).toEqual({ step: 'ingest', output: 'dataset' });
  });
});

describe('sub-pipeline outputs', () => {
  const metricsRef = { uri: 'file:///store/sha256/ab/ab', digest: 'sha256:ab', size: 10, type: 'metrics' };
  const spec: PipelineSpec = {
    apiVersion: 'mloe.dev/v1',
    kind: 'Pipeline',
    metadata: { name: 'scores' },
    steps: { evaluate: { uses: 'evaluate@1', with: { model: 'm', test: 't' } } },
    outputs: {
      // Spelled with brackets: still a reference, so the artifact is passed on, not its numbers.
      metrics: { type: 'metrics', value: "${{ steps['evaluate'].outputs['metrics'] }}" },
      r2: { type: 'number', value: '${{ steps.evaluate.outputs.metrics.r2 }}' },
    },
  };
  const evaluated: StepRunStatus = {
    id: 'evaluate',
    needs: [],
    uses: 'evaluate@1',
    state: 'completed',
    attempts: 1,
    cache: 'miss',
    outputs: { metrics: metricsRef },
    metrics: { r2: 0.97, rmse: 26 },
  };

  it('pass an output reference on as stored, and evaluate other values over the metrics', () => {
    const result = childOutputs(
      spec,
      { params: {}, steps: [evaluated] },
      createStepRegistry(BUILTIN_STEPS),
      () => undefined,
    );
    expect(result).toEqual({ outputs: { metrics: metricsRef, r2: 0.97 }, metrics: { r2: 0.97, rmse: 26 } });
  });

  it('fail naming the step when a reference reads a step that did not complete', () => {
    const { outputs: _outputs, metrics: _metrics, ...rest } = evaluated;
    const skipped: StepRunStatus = { ...rest, state: 'skipped' };
    let thrown: unknown;
    try {
      childOutputs(spec, { params: {}, steps: [skipped] }, createStepRegistry(BUILTIN_STEPS), () => undefined);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'EXPRESSION_FAILED' });
    expect((thrown as Error).message).toContain(
      'output metrics of pipeline scores reads steps.evaluate.outputs.metrics, but step evaluate did not complete',
    );
  });
});
